import { EngineError } from '../../errors/engineError.ts';
import { blobSource } from './byteSource.ts';
import type { ModelFiles } from './modelFiles.ts';

/** A model folder held as Blobs by path: a folder the user picked or dropped, or files made in memory. */
export function blobModelFiles(description: string, files: Map<string, Blob>): ModelFiles {
  const get = (path: string) => {
    const file = files.get(path);
    if (!file) throw new EngineError('missing-file', `${description} has no ${path}: the model folder needs it`);
    return file;
  };
  return {
    description,
    exists: async (path) => files.has(path),
    text: async (path) => get(path).text(),
    bytes: async (path) => blobSource(path, get(path)),
  };
}
