import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer } from '../gpu/buffers.ts';
import { fillRandom } from '../gpu/fillRandom.ts';
import { seededRandom } from '../gpu/seededRandom.ts';
import { pageBytes, pagesPerBinding, rowWords, type PagedKvLayout } from './pagedKv.ts';

/** A paged KV cache of random values for a batch of context lengths, made on the GPU. */
export interface SyntheticKv {
  layout: PagedKvLayout;
  lengths: number[];
  pageTableOffsets: number[];
  keys: GPUBuffer;
  values: GPUBuffer;
  pageTable: GPUBuffer;
  /** K and V bytes the batch's attention reads. */
  kvBytes: number;
  destroy(): void;
}

/** Bytes of K plus V that one decode attention over `lengths` reads. */
export function kvBytesRead(layout: PagedKvLayout, lengths: number[]): number {
  const tokens = lengths.reduce((a, b) => a + b, 0);
  return 2 * tokens * layout.numKvHeads * rowWords(layout) * 4;
}

/** Whether K (or V) pools for `lengths` fit one storage binding of this device. */
export function syntheticKvFits(context: GpuContext, layout: PagedKvLayout, lengths: number[]): boolean {
  const pages = lengths.reduce((sum, n) => sum + Math.ceil(n / layout.pageSize), 0);
  return pages <= pagesPerBinding(context.limits, layout);
}

/** `pageOrder`: pages handed out shuffled (as a long-running pool would) or in order (as a fresh pool does). */
export function createSyntheticKv(
  context: GpuContext,
  layout: PagedKvLayout,
  lengths: number[],
  seed = 1,
  pageOrder: 'shuffled' | 'in order' = 'shuffled',
): SyntheticKv {
  const { device } = context;
  const pagesPerSeq = lengths.map((n) => Math.ceil(n / layout.pageSize));
  const pages = pagesPerSeq.reduce((a, b) => a + b, 0);
  const order = Uint32Array.from({ length: pages }, (_, i) => i);
  if (pageOrder === 'shuffled') {
    // As a long-running pool hands them out: the page table is really used.
    const random = seededRandom(seed);
    for (let i = pages - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  const pageTableOffsets: number[] = [];
  let offset = 0;
  for (const count of pagesPerSeq) {
    pageTableOffsets.push(offset);
    offset += count;
  }
  const poolWords = (pages * pageBytes(layout)) / 4;
  const keys = createStorageBuffer(device, 'synthetic keys', poolWords * 4);
  const values = createStorageBuffer(device, 'synthetic values', poolWords * 4);
  fillRandom(device, keys, poolWords, layout.dtype, seed);
  fillRandom(device, values, poolWords, layout.dtype, seed + 1);
  const pageTable = createStorageBuffer(device, 'synthetic page table', order);
  return {
    layout,
    lengths,
    pageTableOffsets,
    keys,
    values,
    pageTable,
    kvBytes: kvBytesRead(layout, lengths),
    destroy() {
      keys.destroy();
      values.destroy();
      pageTable.destroy();
    },
  };
}
