import { describe, expect, it } from 'vitest';
import { pageBytes, pagesPerBinding, type PagedKvLayout } from './pagedKv.ts';

const MiB = 1024 * 1024;
const layout: PagedKvLayout = { headDim: 128, numKvHeads: 8, pageSize: 16, dtype: 'f16' };

describe('pagesPerBinding', () => {
  it('is the whole pages one binding holds, under the smaller of the binding and buffer limits', () => {
    // A page of 8 heads × 16 tokens × 128 halves is 32 KiB.
    expect(pageBytes(layout)).toBe(32 * 1024);
    expect(pagesPerBinding({ maxStorageBufferBindingSize: 1024 * MiB, maxBufferSize: 4096 * MiB }, layout)).toBe(32768);
    expect(pagesPerBinding({ maxStorageBufferBindingSize: 4096 * MiB, maxBufferSize: 128 * MiB }, layout)).toBe(4096);
  });

  it('leaves out a page the binding holds only in part', () => {
    expect(pagesPerBinding({ maxStorageBufferBindingSize: 128 * MiB - 1, maxBufferSize: 256 * MiB }, layout)).toBe(4095);
  });

  it('grows with a smaller shape and halves for f32', () => {
    expect(pagesPerBinding({ maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB }, { ...layout, numKvHeads: 2, headDim: 64 })).toBe(32768);
    expect(pagesPerBinding({ maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB }, { ...layout, dtype: 'f32' })).toBe(2048);
  });
});
