import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../../errors/engineError.ts';
import { checkRead, type ByteSource } from './byteSource.ts';
import type { ModelFiles } from './modelFiles.ts';

/** A model folder on disk (Node). */
export function nodeModelFiles(directory: string): ModelFiles {
  return {
    description: directory,
    async exists(path) {
      return stat(join(directory, path)).then(
        (s) => s.isFile(),
        () => false,
      );
    },
    async text(path) {
      try {
        return await readFile(join(directory, path), 'utf8');
      } catch {
        throw new EngineError('missing-file', `${join(directory, path)} is missing: the model folder needs ${path}`);
      }
    },
    async bytes(path): Promise<ByteSource> {
      const file = join(directory, path);
      let size: number;
      try {
        size = (await stat(file)).size;
      } catch {
        throw new EngineError('missing-file', `${file} is missing: the model folder needs ${path}`);
      }
      const source: ByteSource = {
        name: path,
        size,
        async read(offset, length) {
          checkRead(source, offset, length);
          const handle = await open(file, 'r');
          try {
            const buffer = new Uint8Array(length);
            let done = 0;
            while (done < length) {
              const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
              if (bytesRead === 0) throw new EngineError('invalid-safetensors', `${file} ended early at byte ${offset + done}`);
              done += bytesRead;
            }
            return buffer;
          } finally {
            await handle.close();
          }
        },
      };
      return source;
    },
  };
}
