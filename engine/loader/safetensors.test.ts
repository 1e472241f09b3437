import { describe, expect, it } from 'vitest';
import { bytesSource } from './byteSource.ts';
import { readSafetensorsHeader, safetensorsLength } from './safetensors.ts';
import { encodeSafetensors, withHeader } from '../../test/tinyModel.ts';

const good = () =>
  encodeSafetensors([
    { name: 'a', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b', dtype: 'F16', shape: [4], data: Float32Array.from([1, 2, 3, 4]) },
  ]);

async function errorOf(bytes: Uint8Array): Promise<Error & { code?: string }> {
  try {
    await readSafetensorsHeader(bytesSource('model.safetensors', bytes));
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the reader to reject the file');
}

describe('safetensors reader', () => {
  it('reads names, dtypes, shapes and absolute byte ranges', async () => {
    const bytes = good();
    const tensors = await readSafetensorsHeader(bytesSource('model.safetensors', bytes));
    expect(tensors.map((t) => [t.name, t.dtype, t.shape, t.byteLength])).toEqual([
      ['a', 'F32', [2, 3], 24],
      ['b', 'F16', [4], 8],
    ]);
    const a = tensors[0];
    expect(Array.from(new Float32Array(bytes.slice(a.byteOffset, a.byteOffset + 24).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each([
    ['a file shorter than the length field', () => good().slice(0, 5), /too short to hold a safetensors header/],
    ['a truncated file', () => good().slice(0, good().length - 4), /"b" data \[24, 32\) runs past the end of the data section \(28 bytes\): the file is truncated/],
    ['a header length past the end', () => { const b = good(); new DataView(b.buffer).setBigUint64(0, BigInt(b.length), true); return b; }, /header of \d+ bytes runs past the end/],
    ['an absurd header length', () => { const b = good(); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; }, /exceeds the 104857600-byte limit/],
    ['a header that is not JSON', () => withHeader('x', []).map((v, i) => (i === 8 ? 0x7b : v)), /header is not valid JSON/],
    ['an unknown dtype', () => withHeader({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [new Uint8Array(8)]), /dtype I64; supported dtypes are F32, F16 and BF16/],
    ['a dtype named like an Object method', () => withHeader({ a: { dtype: 'toString', shape: [1], data_offsets: [0, 8] } }, [new Uint8Array(8)]), /dtype toString; supported dtypes are F32, F16 and BF16/],
    ['a shape that does not match the byte range', () => withHeader({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, [new Uint8Array(8)]), /"a" is F16 of shape \[3\], which is 6 bytes, but its data_offsets span 8 bytes/],
    ['overlapping tensors', () => withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, [new Uint8Array(12)]), /tensors "a" and "b" overlap/],
    ['bad data offsets', () => withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, [new Uint8Array(8)]), /invalid data_offsets/],
  ])('rejects %s with a specific error', async (_, make, message) => {
    const error = await errorOf(make());
    expect(error.code).toBe('invalid-safetensors');
    expect(error.message).toMatch(/^model\.safetensors: /);
    expect(error.message).toMatch(message);
  });
});

describe('safetensors length by its header', () => {
  const lengthOf = (bytes: Uint8Array) => safetensorsLength(bytesSource('model.safetensors', bytes));
  const file = good();
  const headerEnd = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));

  it.each([
    ['the whole file', file.byteLength, file.byteLength],
    ['a file cut in its data', file.byteLength - 5, file.byteLength],
    ['a file cut in its header', headerEnd - 3, headerEnd],
    ['a file cut in its length field', 5, 8],
  ])('of %s is the whole file\'s', async (_, keep, length) => {
    expect(await lengthOf(file.slice(0, keep))).toBe(length);
  });

  it('is unknown for a header that is all there but not JSON, or a corrupt header length', async () => {
    const notJson = file.slice();
    notJson[8] = 'x'.charCodeAt(0);
    expect(await lengthOf(notJson)).toBeUndefined();
    const corrupt = file.slice();
    new DataView(corrupt.buffer).setBigUint64(0, 1n << 40n, true);
    expect(await lengthOf(corrupt)).toBeUndefined();
  });
});
