import { EngineError } from '../../errors/engineError.ts';
import { blobSource, downloadToBlob, type ByteSource } from './byteSource.ts';
import type { ModelFiles } from './modelFiles.ts';

export interface DownloadEvent {
  file: string;
  loadedBytes: number;
  totalBytes: number | undefined;
  fromCache: boolean;
}

export interface UrlFilesOptions {
  /** Cache Storage name for the downloaded files (a second visit starts without downloading); none to skip. */
  cacheName?: string;
  onDownload?: (event: DownloadEvent) => void;
  fetch?: typeof fetch;
}

export const MODEL_CACHE_NAME = 'lean-decode-models';

export function huggingFaceBaseUrl(repo: string, revision = 'main'): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new EngineError('invalid-argument', `"${repo}" is not a Hugging Face repo id like "Qwen/Qwen2.5-0.5B-Instruct"`);
  }
  return `https://huggingface.co/${repo}/resolve/${revision}/`;
}

/** A model folder behind a URL (the app's own server, any base URL, the Hugging Face hub). */
export function urlModelFiles(baseUrl: string, options: UrlFilesOptions = {}): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const doFetch = options.fetch ?? fetch.bind(globalThis);
  const blobs = new Map<string, Promise<Blob | undefined>>();

  const cache = async () => (options.cacheName && typeof caches !== 'undefined' ? caches.open(options.cacheName) : undefined);

  const get = (path: string): Promise<Blob | undefined> => {
    let pending = blobs.get(path);
    if (!pending) {
      pending = (async () => {
        const url = new URL(path, new URL(base, globalThis.location?.href)).href;
        const store = await cache();
        const cached = await store?.match(url);
        if (cached) {
          const blob = await cached.blob();
          options.onDownload?.({ file: path, loadedBytes: blob.size, totalBytes: blob.size, fromCache: true });
          return blob;
        }
        let response: Response;
        try {
          response = await doFetch(url);
        } catch (cause) {
          throw new EngineError('missing-file', `could not fetch ${url} (${(cause as Error).message}): check the address and your connection`);
        }
        // A single-page app server answers unknown paths with its index page: that is a missing file too.
        const fallbackPage = (response.headers.get('content-type') ?? '').includes('text/html') && !path.endsWith('.html');
        if (response.status === 404 || (response.ok && fallbackPage)) return undefined;
        if (!response.ok) throw new EngineError('missing-file', `fetching ${url} failed: HTTP ${response.status} ${response.statusText}`);
        const blob = await downloadToBlob(response, (loaded, total) =>
          options.onDownload?.({ file: path, loadedBytes: loaded, totalBytes: total, fromCache: false }),
        );
        await store?.put(url, new Response(blob, { headers: { 'content-length': String(blob.size) } }));
        return blob;
      })();
      blobs.set(path, pending);
    }
    return pending;
  };

  const required = async (path: string) => {
    const blob = await get(path);
    if (!blob) throw new EngineError('missing-file', `${base}${path} does not exist: the model folder needs ${path}`);
    return blob;
  };

  return {
    description: base,
    exists: async (path) => (await get(path)) !== undefined,
    text: async (path) => (await required(path)).text(),
    bytes: async (path): Promise<ByteSource> => blobSource(path, await required(path)),
  };
}

/** Removes every cached model download. */
export async function clearModelCache(): Promise<boolean> {
  return typeof caches !== 'undefined' ? caches.delete(MODEL_CACHE_NAME) : false;
}
