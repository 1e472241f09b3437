import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeTinyModelBytes } from '../../test/tinyModel.ts';
import { urlModelFiles, type DownloadCacheStorage, type DownloadEvent } from './urlFiles.ts';

const SPEC = { hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 8, vocabSize: 512, dtype: 'F32' as const };
const FILES = makeTinyModelBytes(SPEC);
const BASE = 'https://models.test/tiny/';
const WEIGHTS = FILES.get('model.safetensors')!;
const CACHE = 'test-models';
const NO_WAIT = { attempts: 3, firstDelayMs: 0 };
const HALF = WEIGHTS.byteLength >> 1;

/** How the server answers one request for a file: whole, or with one of the faults a download meets. */
type Answer = 'whole' | 'cut' | 'shorter-body' | 'longer-body' | 'cut-to-its-length' | 503 | 403;

/** A body that delivers its first half, then fails as a dropped connection does in fetch. */
function cutStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    // Erroring in the same call would drop the chunk still queued: the error waits for the next read.
    pull(controller) {
      if (sent) controller.error(new TypeError('network error'));
      else controller.enqueue(bytes.slice(0, bytes.byteLength >> 1));
      sent = true;
    },
  });
}

/** What the server tells about its files: a validator (ETag) for them, and whether it serves byte ranges. */
interface ServerTraits {
  etag?: string;
  ranges?: boolean;
}

function respond(bytes: Uint8Array, answer: Answer, traits: ServerTraits = {}, range?: { from: number; total: number; etag?: string }): Response {
  const half = bytes.slice(0, bytes.byteLength >> 1);
  const etag = range?.etag ?? traits.etag;
  const length = (n: number) => ({
    status: range ? 206 : 200,
    headers: {
      'content-length': String(n),
      'content-type': 'application/octet-stream',
      ...(etag ? { etag } : {}),
      ...(range ? { 'content-range': `bytes ${range.from}-${range.total - 1}/${range.total}` } : {}),
    },
  });
  switch (answer) {
    case 'whole':
      return new Response(bytes.slice(), length(bytes.byteLength));
    case 'cut':
      return new Response(cutStream(bytes), length(bytes.byteLength));
    case 'shorter-body':
      return new Response(half, length(bytes.byteLength));
    case 'longer-body':
      return new Response(bytes.slice(), length(bytes.byteLength - 100));
    // What a browser hands over from a longer body: Content-Length's bytes, which end before the file does.
    case 'cut-to-its-length':
      return new Response(half, length(half.byteLength));
    default:
      return new Response('unavailable', { status: answer, statusText: answer === 503 ? 'Service Unavailable' : 'Forbidden' });
  }
}

/** A request's `Range: bytes=N-` start, or undefined. */
function rangeStart(init: RequestInit | undefined): number | undefined {
  const range = (init?.headers as Record<string, string> | undefined)?.range;
  return range === undefined ? undefined : Number(/^bytes=(\d+)-$/.exec(range)![1]);
}

/**
 * A model server that answers each file's requests from a script (then whole), counting requests per file and
 * keeping the Range start of each request for the weights. With `ranges`, a Range request gets the rest of the file
 * from there, under the same script (a `cut` rest breaks off half-way through it); `rangeEtags[i]` gives the i-th
 * range answer another ETag, as a file changed on the server would.
 */
function faultyServer(script: Partial<Record<string, Answer[]>>, traits: ServerTraits = {}, rangeEtags: string[] = []) {
  const requests = new Map<string, number>();
  const rangeStarts: (number | undefined)[] = [];
  let rangeAnswers = 0;
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = new URL(String(input)).pathname.split('/').pop()!;
    const count = requests.get(path) ?? 0;
    requests.set(path, count + 1);
    const bytes = FILES.get(path);
    if (!bytes) return new Response('not found', { status: 404 });
    const answer = script[path]?.[count] ?? 'whole';
    const start = rangeStart(init);
    if (path === 'model.safetensors') rangeStarts.push(start);
    if (start === undefined || !traits.ranges) return respond(bytes, answer, traits);
    const etag = rangeEtags[rangeAnswers++] ?? traits.etag;
    return respond(bytes.slice(start), answer, traits, { from: start, total: bytes.byteLength, etag });
  };
  return { fetch: fetch as typeof globalThis.fetch, requests, rangeStarts };
}

/** Cache Storage as a map of URLs to bodies (Node has none). */
function memoryCaches(): DownloadCacheStorage & { bodies: Map<string, Uint8Array> } {
  const bodies = new Map<string, Uint8Array>();
  const cache = {
    match: async (url: RequestInfo | URL) => (bodies.has(String(url)) ? new Response(bodies.get(String(url))!.slice()) : undefined),
    put: async (url: RequestInfo | URL, response: Response) => void bodies.set(String(url), new Uint8Array(await response.arrayBuffer())),
    delete: async (url: RequestInfo | URL) => bodies.delete(String(url)),
  };
  return { bodies, open: async () => cache };
}

/** A digest to compare bytes by: toEqual walks a typed array element by element, and a failing one prints all of it. */
const digest = (bytes: Uint8Array | undefined) => (bytes ? `${bytes.byteLength} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}` : 'none');

async function bytesOf(files: ReturnType<typeof urlModelFiles>, path = 'model.safetensors'): Promise<Uint8Array> {
  const source = await files.bytes(path);
  return source.read(0, source.size);
}

async function failure(work: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return work.then(
    () => {
      throw new Error('expected the download to fail');
    },
    (error: { code?: string; message: string }) => error,
  );
}

describe('downloading a model folder', () => {
  it('downloads a file again when the connection breaks off, and caches only the whole file', async () => {
    const server = faultyServer({ 'model.safetensors': ['cut'] });
    const caches = memoryCaches();
    const events: DownloadEvent[] = [];
    const files = urlModelFiles(BASE, { fetch: server.fetch, caches, cacheName: CACHE, retry: NO_WAIT, onDownload: (e) => events.push(e) });
    expect(digest(await bytesOf(files))).toBe(digest(WEIGHTS));
    expect(server.requests.get('model.safetensors')).toBe(2);
    // Nothing names this version of the file (no ETag, no Last-Modified): the second request asks for all of it.
    expect(server.rangeStarts).toEqual([undefined, undefined]);
    const retry = events.find((e) => e.retry)!.retry!;
    expect(retry).toMatchObject({ attempt: 2, attempts: 3 });
    expect(retry.reason).toBe(`the connection broke off after ${(WEIGHTS.byteLength >> 1).toLocaleString('en-US')} of ${WEIGHTS.byteLength.toLocaleString('en-US')} bytes (network error)`);
    expect(digest(caches.bodies.get(`${BASE}model.safetensors`))).toBe(digest(WEIGHTS));
  });

  it('resumes a download that broke off where it stopped, when the server names the file and serves ranges', async () => {
    const server = faultyServer({ 'model.safetensors': ['cut', 'cut'] }, { etag: '"v1"', ranges: true });
    const caches = memoryCaches();
    const events: DownloadEvent[] = [];
    const files = urlModelFiles(BASE, { fetch: server.fetch, caches, cacheName: CACHE, retry: NO_WAIT, onDownload: (e) => events.push(e) });
    expect(digest(await bytesOf(files))).toBe(digest(WEIGHTS));
    const size = WEIGHTS.byteLength;
    const threeQuarters = HALF + ((size - HALF) >> 1);
    expect(server.rangeStarts).toEqual([undefined, HALF, threeQuarters]);
    const retries = events.filter((e) => e.retry);
    expect(retries.map((e) => [e.loadedBytes, e.totalBytes])).toEqual([[HALF, size], [threeQuarters, size]]);
    expect(retries[1].retry!.reason).toBe(`the connection broke off after ${threeQuarters.toLocaleString('en-US')} of ${size.toLocaleString('en-US')} bytes (network error)`);
    // Progress runs on from the bytes already received to the whole file, never back to 0.
    const progress = events.filter((e) => !e.retry).map((e) => [e.loadedBytes, e.totalBytes]);
    expect(progress).toEqual([[HALF, size], [threeQuarters, size], [size, size]]);
    expect(digest(caches.bodies.get(`${BASE}model.safetensors`))).toBe(digest(WEIGHTS));
  });

  it.each<[string, ServerTraits, string[], (number | undefined)[]]>([
    ['ignores Range', { etag: '"v1"' }, [], [undefined, HALF]],
    ['answers the range from a changed file (another ETag)', { etag: '"v1"', ranges: true }, ['"v2"'], [undefined, HALF, undefined]],
    ['names the file only with a weak ETag', { etag: 'W/"v1"', ranges: true }, [], [undefined, undefined]],
  ])('a server that %s gets the file downloaded whole again', async (_, traits, rangeEtags, rangeStarts) => {
    const server = faultyServer({ 'model.safetensors': ['cut'] }, traits, rangeEtags);
    const files = urlModelFiles(BASE, { fetch: server.fetch, retry: NO_WAIT });
    expect(digest(await bytesOf(files))).toBe(digest(WEIGHTS));
    expect(server.rangeStarts).toEqual(rangeStarts);
  });

  it.each<[Answer, string, RegExp]>([
    ['cut', 'model.safetensors', /the connection broke off after [\d,]+ of [\d,]+ bytes \(network error\)/],
    ['shorter-body', 'model.safetensors', /the body has [\d,]+ bytes where its Content-Length announced [\d,]+ bytes/],
    ['longer-body', 'model.safetensors', /the body has [\d,]+ bytes where its Content-Length announced [\d,]+ bytes/],
    ['cut-to-its-length', 'model.safetensors', /the file has [\d,]+ bytes but its safetensors header describes [\d,]+ bytes/],
    ['cut-to-its-length', 'tokenizer.json', /the file is not valid JSON/],
    [503, 'config.json', /the server answered HTTP 503 Service Unavailable/],
  ])('%s on every attempt at %s is a download-failed error naming it; nothing is cached and the next load succeeds', async (answer, path, reason) => {
    const server = faultyServer({ [path]: [answer, answer, answer] });
    const caches = memoryCaches();
    const options = { fetch: server.fetch, caches, cacheName: CACHE, retry: NO_WAIT };
    const error = await failure(urlModelFiles(BASE, options).bytes(path));
    expect(error.code).toBe('download-failed');
    expect(error.message).toMatch(new RegExp(`^${path} did not download whole from ${BASE}${path} in 3 attempts \\(the last: ${reason.source}.*\\); nothing of it was kept`));
    expect(server.requests.get(path)).toBe(3);
    expect(caches.bodies.has(`${BASE}${path}`)).toBe(false);

    // The fourth request is answered whole: the next load downloads the file again instead of finding a cut one.
    const again = urlModelFiles(BASE, options);
    expect(digest(await bytesOf(again, path))).toBe(digest(FILES.get(path)));
    expect(server.requests.get(path)).toBe(4);
    expect(digest(caches.bodies.get(`${BASE}${path}`))).toBe(digest(FILES.get(path)));
  });

  it('asks again for a file whose download failed, within the same folder', async () => {
    const server = faultyServer({ 'config.json': [503, 503, 503] });
    const files = urlModelFiles(BASE, { fetch: server.fetch, retry: NO_WAIT });
    expect((await failure(files.text('config.json'))).code).toBe('download-failed');
    expect(JSON.parse(await files.text('config.json')).hidden_size).toBe(16);
  });

  it('drops a cached file that is not whole and downloads it again', async () => {
    const server = faultyServer({});
    const caches = memoryCaches();
    caches.bodies.set(`${BASE}model.safetensors`, WEIGHTS.slice(0, 1000));
    const files = urlModelFiles(BASE, { fetch: server.fetch, caches, cacheName: CACHE, retry: NO_WAIT });
    expect(digest(await bytesOf(files))).toBe(digest(WEIGHTS));
    expect(server.requests.get('model.safetensors')).toBe(1);
    expect(digest(caches.bodies.get(`${BASE}model.safetensors`))).toBe(digest(WEIGHTS));
  });

  it('serves a whole cached file without a request', async () => {
    const server = faultyServer({});
    const caches = memoryCaches();
    caches.bodies.set(`${BASE}model.safetensors`, WEIGHTS);
    const events: DownloadEvent[] = [];
    const files = urlModelFiles(BASE, { fetch: server.fetch, caches, cacheName: CACHE, retry: NO_WAIT, onDownload: (e) => events.push(e) });
    expect(digest(await bytesOf(files))).toBe(digest(WEIGHTS));
    expect(server.requests.get('model.safetensors')).toBeUndefined();
    expect(events).toEqual([{ file: 'model.safetensors', loadedBytes: WEIGHTS.byteLength, totalBytes: WEIGHTS.byteLength, fromCache: true }]);
  });

  it('asks once for a file the server does not have, or refuses', async () => {
    const server = faultyServer({ 'config.json': [403] });
    const files = urlModelFiles(BASE, { fetch: server.fetch, retry: NO_WAIT });
    expect(await files.exists('model.safetensors.index.json')).toBe(false);
    expect(server.requests.get('model.safetensors.index.json')).toBe(1);
    const error = await failure(files.text('config.json'));
    expect(error).toMatchObject({ code: 'missing-file', message: `fetching ${BASE}config.json failed: HTTP 403 Forbidden` });
    expect(server.requests.get('config.json')).toBe(1);
  });
});
