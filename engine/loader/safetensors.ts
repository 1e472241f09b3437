import { EngineError } from '../../errors/engineError.ts';
import type { ByteSource } from './byteSource.ts';

/**
 * The safetensors format: 8 bytes of little-endian header length N, N bytes of JSON header
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`), then the raw data, offsets
 * relative to its start. Everything in the header is checked before a byte of data is trusted.
 */
export type TensorDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Record<TensorDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorInfo {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  /** The file holding the tensor (for sharded models) and its absolute byte range there. */
  file: ByteSource;
  byteOffset: number;
  byteLength: number;
}

/** A header larger than this is not a model header but a corrupt length. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function fail(source: ByteSource, message: string): EngineError {
  return new EngineError('invalid-safetensors', `${source.name}: ${message}`);
}

/**
 * The length a safetensors file has by its own header: 8 bytes, the header, then data up to the furthest
 * `data_offsets` end. Read without judging the tensors (readSafetensorsHeader does that), so that a download can be
 * told whole or cut; undefined when the header is unreadable even though the file holds all of it.
 */
export async function safetensorsLength(source: ByteSource): Promise<number | undefined> {
  if (source.size < 8) return 8;
  const lengthBytes = await source.read(0, 8);
  const headerLength = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) return undefined;
  const dataStart = 8 + headerLength;
  if (dataStart > source.size) return dataStart;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(await source.read(8, headerLength)));
  } catch {
    // A header that is all there but not JSON is a damaged file, not a cut download.
    return undefined;
  }
  if (typeof header !== 'object' || header === null) return undefined;
  const ends = Object.values(header as Record<string, { data_offsets?: unknown } | null>).map((entry) => {
    const offsets = entry?.data_offsets;
    return Array.isArray(offsets) && Number.isSafeInteger(offsets[1]) ? (offsets[1] as number) : 0;
  });
  return dataStart + Math.max(0, ...ends);
}

export async function readSafetensorsHeader(source: ByteSource): Promise<TensorInfo[]> {
  if (source.size < 8) {
    throw fail(source, `the file is ${source.size} bytes, too short to hold a safetensors header: it is truncated or not a safetensors file`);
  }
  const lengthBytes = await source.read(0, 8);
  const headerLength = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) {
    throw fail(source, `header length ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit: the file is corrupt or not safetensors`);
  }
  if (8 + headerLength > source.size) {
    throw fail(source, `header of ${headerLength} bytes runs past the end of the ${source.size}-byte file: the file is truncated`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(await source.read(8, headerLength)));
  } catch (cause) {
    throw fail(source, `header is not valid JSON (${(cause as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw fail(source, 'header is not a JSON object of tensors');
  }

  const dataStart = 8 + headerLength;
  const dataLength = source.size - dataStart;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') throw fail(source, `tensor "${name}" has no dtype`);
    // Own keys only: `"toString" in DTYPE_BYTES` is true, and its "size" would make every byte count NaN.
    if (!Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw fail(source, `tensor "${name}" has dtype ${dtype}; supported dtypes are F32, F16 and BF16`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw fail(source, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw fail(source, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const elementBytes = DTYPE_BYTES[dtype as TensorDtype];
    const expected = shape.reduce((a: number, b: number) => a * b, 1) * elementBytes;
    if (expected !== end - begin) {
      throw fail(
        source,
        `tensor "${name}" is ${dtype} of shape [${shape.join(', ')}], which is ${expected} bytes, but its data_offsets span ${end - begin} bytes`,
      );
    }
    if (end > dataLength) {
      throw fail(
        source,
        `tensor "${name}" data [${begin}, ${end}) runs past the end of the data section (${dataLength} bytes): the file is truncated`,
      );
    }
    tensors.push({ name, dtype: dtype as TensorDtype, shape, file: source, byteOffset: dataStart + begin, byteLength: end - begin });
  }

  const byStart = [...tensors].sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < byStart.length; i++) {
    const previous = byStart[i - 1];
    const current = byStart[i];
    if (current.byteOffset < previous.byteOffset + previous.byteLength) {
      throw fail(source, `tensors "${previous.name}" and "${current.name}" overlap in the data section`);
    }
  }
  return tensors;
}
