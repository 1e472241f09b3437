/**
 * Exits once stdout and stderr have handed everything to the OS. The explicit exit is needed (Dawn's device keeps
 * the event loop alive), but on a pipe `process.exit` drops whatever is still queued: a `--json` object larger
 * than the pipe buffer came out cut at 64 KiB.
 */
export async function exitAfterFlush(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
