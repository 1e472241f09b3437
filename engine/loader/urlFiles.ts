import { EngineError } from '../../errors/engineError.ts';
import { blobSource, type ByteSource } from './byteSource.ts';
import { continues, downloadToBlob, IncompleteDownload, incompleteReason, resumeHeaders, type ResumePoint } from './download.ts';
import type { ModelFiles } from './modelFiles.ts';

export interface DownloadEvent {
  file: string;
  loadedBytes: number;
  totalBytes: number | undefined;
  fromCache: boolean;
  /** Set when an attempt failed and the next one is about to start: which one, of how many, and why. */
  retry?: { attempt: number; attempts: number; reason: string };
}

export interface RetryPolicy {
  /** Attempts at each file, the first included. */
  attempts: number;
  /** The wait before the second attempt; each later wait is twice the one before. */
  firstDelayMs: number;
}

/** Rides out a dropped connection or a server's passing 503 without keeping anyone waiting long on a dead one. */
export const DOWNLOAD_RETRY: RetryPolicy = { attempts: 3, firstDelayMs: 500 };

/** The part of Cache Storage that keeps downloads (a fake stands in for it where there is none, as in Node). */
export interface DownloadCacheStorage {
  open(name: string): Promise<Pick<Cache, 'match' | 'put' | 'delete'>>;
}

export interface UrlFilesOptions {
  /** Cache Storage name for the downloaded files (a second visit starts without downloading); none to skip. */
  cacheName?: string;
  onDownload?: (event: DownloadEvent) => void;
  fetch?: typeof fetch;
  retry?: RetryPolicy;
  /** The browser's `caches` unless given. */
  caches?: DownloadCacheStorage;
}

export const MODEL_CACHE_NAME = 'lean-decode-models';

export function huggingFaceBaseUrl(repo: string, revision = 'main'): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new EngineError('invalid-argument', `"${repo}" is not a Hugging Face repo id like "Qwen/Qwen2.5-0.5B-Instruct"`);
  }
  return `https://huggingface.co/${repo}/resolve/${revision}/`;
}

/**
 * A model folder behind a URL (the app's own server, any base URL, the Hugging Face hub). A file that does not
 * arrive whole is fetched again a few times; only a whole file is kept in Cache Storage.
 */
export function urlModelFiles(baseUrl: string, options: UrlFilesOptions = {}): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const doFetch = options.fetch ?? fetch.bind(globalThis);
  const retry = options.retry ?? DOWNLOAD_RETRY;
  const cacheStorage = options.caches ?? (typeof caches === 'undefined' ? undefined : caches);
  const blobs = new Map<string, Promise<Blob | undefined>>();

  const cache = async () => (options.cacheName && cacheStorage ? cacheStorage.open(options.cacheName) : undefined);

  /**
   * One attempt: the whole file, undefined when the server has none, or an IncompleteDownload saying what broke.
   * `from`: the bytes an earlier attempt received, asked for no more; a server that answers with the whole file, or
   * with a part that is not the rest of the same file, gets the whole file downloaded.
   */
  const download = async (path: string, url: string, from?: ResumePoint): Promise<Blob | undefined> => {
    let response: Response;
    try {
      response = await doFetch(url, from ? { headers: resumeHeaders(from) } : undefined);
    } catch (cause) {
      throw new IncompleteDownload(`the request failed (${(cause as Error).message})`, from);
    }
    // 416: the received bytes reach past the file's end now; a 206 that is not the rest of the same file: start over.
    if (from && (response.status === 416 || (response.status === 206 && !continues(response, from)))) {
      await response.body?.cancel();
      return download(path, url);
    }
    // A single-page app server answers unknown paths with its index page: that is a missing file too.
    const fallbackPage = (response.headers.get('content-type') ?? '').includes('text/html') && !path.endsWith('.html');
    if (response.status === 404 || (response.ok && fallbackPage)) return undefined;
    if (response.status >= 500 || response.status === 429) throw new IncompleteDownload(`the server answered HTTP ${response.status} ${response.statusText}`, from);
    if (!response.ok) throw new EngineError('missing-file', `fetching ${url} failed: HTTP ${response.status} ${response.statusText}`);
    const blob = await downloadToBlob(
      response,
      (loaded, total) => options.onDownload?.({ file: path, loadedBytes: loaded, totalBytes: total, fromCache: false }),
      response.status === 206 ? from : undefined,
    );
    const reason = await incompleteReason(path, blob);
    if (reason) throw new IncompleteDownload(reason);
    return blob;
  };

  const downloadWithRetries = async (path: string, url: string): Promise<Blob | undefined> => {
    let from: ResumePoint | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await download(path, url, from);
      } catch (error) {
        if (!(error instanceof IncompleteDownload)) throw error;
        if (attempt === retry.attempts) {
          throw new EngineError(
            'download-failed',
            `${path} did not download whole from ${url} in ${retry.attempts} attempts (the last: ${error.message}); nothing of it was kept. ` +
              'Check your connection and load the model again; if it fails the same way every time, the file on the server is damaged',
          );
        }
        // The next attempt asks only for what is missing, where the server said which file the bytes were.
        from = error.resumeFrom;
        const retryEvent = { attempt: attempt + 1, attempts: retry.attempts, reason: error.message };
        options.onDownload?.({ file: path, loadedBytes: from?.received.size ?? 0, totalBytes: from?.total, fromCache: false, retry: retryEvent });
        await new Promise((resolve) => setTimeout(resolve, retry.firstDelayMs * 2 ** (attempt - 1)));
      }
    }
  };

  const get = (path: string): Promise<Blob | undefined> => {
    let pending = blobs.get(path);
    if (!pending) {
      pending = (async () => {
        const url = new URL(path, new URL(base, globalThis.location?.href)).href;
        const store = await cache();
        const cached = await store?.match(url);
        if (cached) {
          const blob = await cached.blob();
          // Kept by an older version that cached what it had not checked: dropped, and downloaded again.
          if ((await incompleteReason(path, blob)) === undefined) {
            options.onDownload?.({ file: path, loadedBytes: blob.size, totalBytes: blob.size, fromCache: true });
            return blob;
          }
          await store?.delete(url);
        }
        const blob = await downloadWithRetries(path, url);
        if (blob) await store?.put(url, new Response(blob, { headers: { 'content-length': String(blob.size) } }));
        return blob;
      })();
      blobs.set(path, pending);
      // A failed file is asked for again on the next call, not answered with the same failure.
      pending.catch(() => blobs.delete(path));
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
