import { blobSource } from './byteSource.ts';
import { safetensorsLength } from './safetensors.ts';

export type DownloadProgress = (loadedBytes: number, totalBytes: number | undefined) => void;

/** Why one attempt at downloading a file did not bring all of it: another attempt may. */
export class IncompleteDownload extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'IncompleteDownload';
  }
}

const bytes = (count: number) => `${count.toLocaleString('en-US')} bytes`;

/**
 * Streams a fetch Response to a Blob, reporting bytes as they arrive. A connection that breaks off, or a body whose
 * length is not the Content-Length the server announced, is an IncompleteDownload.
 */
export async function downloadToBlob(response: Response, onProgress?: DownloadProgress): Promise<Blob> {
  const announced = response.headers.get('content-length') === null ? undefined : Number(response.headers.get('content-length'));
  if (!response.body) return response.blob();
  const reader = response.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let loaded = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (cause) {
      const received = announced === undefined ? bytes(loaded) : `${loaded.toLocaleString('en-US')} of ${bytes(announced)}`;
      throw new IncompleteDownload(`the connection broke off after ${received} (${(cause as Error).message})`);
    }
    if (chunk.done) break;
    chunks.push(chunk.value as Uint8Array<ArrayBuffer>);
    loaded += chunk.value.byteLength;
    onProgress?.(loaded, announced);
  }
  if (announced !== undefined && lengthIsComparable(response) && loaded !== announced) {
    throw new IncompleteDownload(`the body has ${bytes(loaded)} where its Content-Length announced ${bytes(announced)}`);
  }
  return new Blob(chunks);
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
