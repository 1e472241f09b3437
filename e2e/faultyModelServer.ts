import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * How one request for a file is answered: whole, or with a fault a download meets. `cut` resets the connection
 * after CUT_AT bytes; `shorter-body` sends CUT_AT bytes and closes cleanly although Content-Length announced the
 * whole file; `longer-body` sends the whole file under a Content-Length EXTRA_BYTES short of it.
 */
export type Answer = 'whole' | 'cut' | 'shorter-body' | 'longer-body';

export const CUT_AT = 4_000_000;
export const EXTRA_BYTES = 1_000;

/**
 * A model server on its own origin (as Hugging Face is) that serves the app's built-in model folder and answers the
 * requests for a file from a script of faults, then whole. It counts the requests for each file and keeps the byte
 * each asked to start from (its Range). Once told to `serveRanges`, it names each file's version (an ETag, exposed to
 * the page as Hugging Face does) and answers a Range request with the rest of the file (206), under the same script.
 */
export async function startFaultyModelServer(): Promise<{
  /** The model folder's base URL. */
  baseUrl: string;
  /** The next requests for `file` get these answers, in order. */
  script(file: string, answers: Answer[]): void;
  requests(file: string): number;
  /** Per request for `file`, in order: the byte its Range asked to start from, or undefined. */
  rangeStarts(file: string): (number | undefined)[];
  serveRanges(): void;
  size(file: string): number;
  close(): Promise<void>;
}> {
  const folder = join(process.cwd(), 'public', 'models', 'pydoc-chat-6m');
  const scripts = new Map<string, Answer[]>();
  const counts = new Map<string, number>();
  const starts = new Map<string, (number | undefined)[]>();
  let ranges = false;
  const read = (file: string) => readFileSync(join(folder, file));

  const server = createServer((request, response) => {
    // The app's page fetches from another origin; no HTTP cache may keep (or resume) a faulty answer.
    response.setHeader('access-control-allow-origin', '*');
    response.setHeader('cache-control', 'no-store');
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-headers': 'range', 'access-control-allow-methods': 'GET' }).end();
      return;
    }
    const file = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname.split('/').pop() ?? '');
    counts.set(file, (counts.get(file) ?? 0) + 1);
    const start = /^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1];
    starts.set(file, [...(starts.get(file) ?? []), start === undefined ? undefined : Number(start)]);
    let bytes: Buffer;
    try {
      bytes = read(file);
    } catch {
      response.writeHead(404).end('not found');
      return;
    }
    const how = scripts.get(file)?.shift() ?? 'whole';
    if (!ranges) return answer(response, bytes, how);
    response.setHeader('etag', `"${file}-${bytes.byteLength}"`);
    response.setHeader('access-control-expose-headers', 'etag, content-range');
    if (start === undefined) return answer(response, bytes, how);
    response.setHeader('content-range', `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}`);
    answer(response, bytes.subarray(Number(start)), how, 206);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/pydoc-chat-6m/`,
    script: (file, answers) => scripts.set(file, [...answers]),
    requests: (file) => counts.get(file) ?? 0,
    rangeStarts: (file) => starts.get(file) ?? [],
    serveRanges: () => {
      ranges = true;
    },
    size: (file) => read(file).byteLength,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(response: ServerResponse, bytes: Buffer, how: Answer, status = 200): void {
  const headers = (length: number) => ({ 'content-type': 'application/octet-stream', 'content-length': String(length), connection: 'close' });
  switch (how) {
    case 'whole':
      response.writeHead(status, headers(bytes.byteLength)).end(bytes);
      return;
    case 'cut':
      response.writeHead(status, headers(bytes.byteLength));
      response.write(bytes.subarray(0, CUT_AT), () => response.socket?.resetAndDestroy());
      return;
    case 'shorter-body':
      response.writeHead(status, headers(bytes.byteLength));
      response.write(bytes.subarray(0, CUT_AT), () => response.socket?.end());
      return;
    case 'longer-body':
      response.writeHead(status, headers(bytes.byteLength - EXTRA_BYTES));
      response.write(bytes, () => response.socket?.end());
      return;
  }
}
