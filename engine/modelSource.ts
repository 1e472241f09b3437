import { blobModelFiles } from './loader/blobFiles.ts';
import type { ModelFiles } from './loader/modelFiles.ts';
import { huggingFaceBaseUrl, MODEL_CACHE_NAME, urlModelFiles, type DownloadEvent } from './loader/urlFiles.ts';

/** Where a model comes from, as the UI names it (plain data: it crosses the worker boundary). */
export type ModelSource =
  | { kind: 'builtin' }
  | { kind: 'hub'; repo: string }
  | { kind: 'url'; baseUrl: string }
  | { kind: 'server'; name: string }
  | { kind: 'files'; name: string; files: { path: string; file: File }[] };

/** The model shipped in public/models, served by the app itself. */
export const BUILTIN_MODEL = { name: 'pydoc-chat-6m', path: 'models/pydoc-chat-6m/' };

/** The dev server exposes the folders of $LEAN_DECODE_MODELS here (see vite.config.ts). */
export const SERVER_MODELS_PATH = '__models/';

export function describeSource(source: ModelSource): string {
  switch (source.kind) {
    case 'builtin':
      return `${BUILTIN_MODEL.name} (built in)`;
    case 'hub':
      return source.repo;
    case 'url':
      return source.baseUrl;
    case 'server':
      return `${source.name} (dev server)`;
    case 'files':
      return `${source.name} (local folder)`;
  }
}

export function modelFilesFor(source: ModelSource, appBase: string, onDownload: (event: DownloadEvent) => void): ModelFiles {
  return { ...filesAt(source, appBase, onDownload), description: describeSource(source) };
}

function filesAt(source: ModelSource, appBase: string, onDownload: (event: DownloadEvent) => void): ModelFiles {
  switch (source.kind) {
    case 'builtin':
      return urlModelFiles(new URL(BUILTIN_MODEL.path, appBase).href, { onDownload });
    case 'server':
      return urlModelFiles(new URL(`${SERVER_MODELS_PATH}${encodeURIComponent(source.name)}/`, appBase).href, { onDownload });
    case 'url':
      return urlModelFiles(source.baseUrl, { onDownload, cacheName: MODEL_CACHE_NAME });
    case 'hub':
      return urlModelFiles(huggingFaceBaseUrl(source.repo), { onDownload, cacheName: MODEL_CACHE_NAME });
    case 'files': {
      // A picked folder arrives as paths like "my-model/config.json": keep the part inside the folder.
      const byPath = new Map(source.files.map(({ path, file }) => [path.split('/').slice(-1)[0], file as Blob]));
      return blobModelFiles(source.name, byPath);
    }
  }
}
