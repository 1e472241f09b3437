import { EngineError } from '../errors/engineError.ts';
import { UsageError } from './flags.ts';

/** Exit codes: each kind of failure has its own, so a script can tell a typo from a failed run from a bug. */
export const EXIT_CODES = {
  ok: 0,
  /** The engine reported a failure (EngineError): its kind is printed in brackets, e.g. `[missing-file]`. */
  engineError: 1,
  /** The command line was wrong (UsageError): reported as `[invalid-argument]`. */
  usage: 2,
  /** Anything else, unexpected (a bug, or a system call that failed): `[internal]` with its message and stack (EX_SOFTWARE). */
  internal: 70,
} as const;

/** What the CLI prints on stderr for a failure, and the exit code it ends with. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) {
    const help = error.command ? `lean-decode ${error.command} --help lists its flags` : 'lean-decode --help lists the commands';
    return { message: `lean-decode: [${error.code}] ${error.message}\n(${help})`, exitCode: EXIT_CODES.usage };
  }
  if (error instanceof EngineError) return { message: `lean-decode: [${error.code}] ${error.message}`, exitCode: EXIT_CODES.engineError };
  const detail = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return { message: `lean-decode: [internal] unexpected failure: ${detail}`, exitCode: EXIT_CODES.internal };
}

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

/**
 * Runs a command-line program's `main` and exits once its output is flushed: with the code `main` returns (0 where
 * it returns none), or with 1 after printing what it threw.
 */
export function runProgram(main: () => Promise<number | void>): void {
  main().then(
    (code) => exitAfterFlush(code ?? 0),
    (error) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      return exitAfterFlush(1);
    },
  );
}
