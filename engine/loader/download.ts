import { blobSource } from './byteSource.ts';
import { safetensorsLength } from './safetensors.ts';

export type DownloadProgress = (loadedBytes: number, totalBytes: number | undefined) => void;

/**
 * Where a download that broke off can pick up: the first bytes of the file, received whole, its length, and the
 * validator (a strong ETag, else Last-Modified) that a later partial answer must carry to be the same file.
 */
export interface ResumePoint {
  received: Blob;
  total: number;
  validator: string;
}

/** Why one attempt at downloading a file did not bring all of it: another attempt may, from `resumeFrom` if set. */
export class IncompleteDownload extends Error {
  constructor(
    reason: string,
    readonly resumeFrom?: ResumePoint,
  ) {
    super(reason);
    this.name = 'IncompleteDownload';
  }
}

const bytes = (count: number) => `${count.toLocaleString('en-US')} bytes`;

/**
 * Streams a fetch Response to a Blob, reporting bytes as they arrive. A connection that breaks off, or a body whose
 * length is not the Content-Length the server announced, is an IncompleteDownload; one that broke off says where a
 * later request may resume when the server identified the file. With `resume`, the response is the rest of that
 * file (a 206 that `continues` it) and the Blob returned is the whole file.
 */
export async function downloadToBlob(response: Response, onProgress?: DownloadProgress, resume?: ResumePoint): Promise<Blob> {
  const announced = response.headers.get('content-length') === null ? undefined : Number(response.headers.get('content-length'));
  const before = resume ? [resume.received] : [];
  const offset = resume?.received.size ?? 0;
  const total = resume ? resume.total : announced;
  if (!response.body) return new Blob([...before, await response.blob()]);
  const reader = response.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let loaded = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (cause) {
      const received = total === undefined ? bytes(offset + loaded) : `${(offset + loaded).toLocaleString('en-US')} of ${bytes(total)}`;
      const validator = fileValidator(response);
      const resumable = total !== undefined && announced !== undefined && mayBeIdentity(response) && validator !== undefined;
      throw new IncompleteDownload(
        `the connection broke off after ${received} (${(cause as Error).message})`,
        resumable ? { received: new Blob([...before, ...chunks]), total, validator } : undefined,
      );
    }
    if (chunk.done) break;
    chunks.push(chunk.value as Uint8Array<ArrayBuffer>);
    loaded += chunk.value.byteLength;
    onProgress?.(offset + loaded, total);
  }
  if (announced !== undefined && lengthIsComparable(response) && loaded !== announced) {
    throw new IncompleteDownload(`the body has ${bytes(loaded)} where its Content-Length announced ${bytes(announced)}`);
  }
  return new Blob([...before, ...chunks]);
}

/** The request headers that ask for the rest of a file from `from` on. */
export function resumeHeaders(from: ResumePoint): Record<string, string> {
  return { range: `bytes=${from.received.size}-` };
}

/**
 * Whether a response to `resumeHeaders(from)` is the rest of the same file: a 206 whose Content-Range starts where
 * the received bytes end and runs to the same total, and whose validator is the one the first bytes came with.
 * A server that ignores Range answers 200 with the whole file instead.
 */
export function continues(response: Response, from: ResumePoint): boolean {
  if (response.status !== 206) return false;
  const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (!range) return false;
  const [first, last, total] = range.slice(1).map(Number);
  return first === from.received.size && last === from.total - 1 && total === from.total && fileValidator(response) === from.validator;
}

/** What identifies this version of a file: a strong ETag (a weak one may not validate byte ranges), else Last-Modified. */
function fileValidator(response: Response): string | undefined {
  const etag = response.headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag;
  return response.headers.get('last-modified') ?? undefined;
}

/**
 * Content-Length counts the bytes on the wire, which a content coding (gzip) changes. A cross-origin response hides
 * Content-Encoding unless the server exposes it, so there only an exposed `identity` makes the lengths comparable;
 * the browser itself fails a body that ends short of its Content-Length.
 */
function lengthIsComparable(response: Response): boolean {
  const coding = response.headers.get('content-encoding');
  if (coding === null) return response.type !== 'cors';
  return coding === 'identity';
}

/**
 * Whether the bytes received are the file's own, so that a Range request can continue them: not when a content
 * coding (gzip) is visible. A cross-origin response hides its coding unless the server exposes it; there the bytes
 * are taken as the file's, as model files are served (binary, uncompressed), and a wrong guess ends in a file that
 * fails incompleteReason and is downloaded again.
 */
function mayBeIdentity(response: Response): boolean {
  const coding = response.headers.get('content-encoding');
  return coding === null || coding === 'identity';
}

/**
 * What shows, beyond its length, that a downloaded file is not whole: a safetensors file shorter than its own header
 * says, a JSON file that does not parse. Undefined when nothing does.
 */
export async function incompleteReason(path: string, blob: Blob): Promise<string | undefined> {
  if (path.endsWith('.safetensors')) {
    const length = await safetensorsLength(blobSource(path, blob));
    if (length !== undefined && length > blob.size) return `the file has ${bytes(blob.size)} but its safetensors header describes ${bytes(length)}`;
  }
  if (path.endsWith('.json')) {
    try {
      JSON.parse(await blob.text());
    } catch (cause) {
      return `the file is not valid JSON (${(cause as Error).message})`;
    }
  }
  return undefined;
}
