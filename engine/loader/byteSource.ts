import { EngineError } from '../../errors/engineError.ts';

/** Random access to the bytes of one file, wherever it lives (a File/Blob, a download, a file on disk). */
export interface ByteSource {
  /** The file's name, for error messages. */
  name: string;
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * Every read stays inside the file: a range outside it is a bug in whoever computed it, and slicing would
 * silently return fewer bytes than asked for.
 */
export function checkRead(source: Pick<ByteSource, 'name' | 'size'>, offset: number, length: number): void {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= source.size)) {
    throw new EngineError('invalid-safetensors', `${source.name}: a read of ${length} bytes at byte ${offset} falls outside the ${source.size}-byte file`);
  }
}

export function blobSource(name: string, blob: Blob): ByteSource {
  const source: ByteSource = {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRead(source, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
  return source;
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  const source: ByteSource = {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRead(source, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
  return source;
}
