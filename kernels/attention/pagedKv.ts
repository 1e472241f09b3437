import { largestStorageBinding } from '../gpu/buffers.ts';

/**
 * The paged KV layout every attention kernel reads. The pool is a list of pages of `pageSize` tokens; a page holds,
 * for each KV head, `pageSize` rows of `headDim` values (K and V in separate pools of the same shape):
 *
 *   element (page, kvHead, slot, d)  at  ((page · numKvHeads + kvHead) · pageSize + slot) · headDim + d
 *
 * so a tile of one head reads whole contiguous rows. f16 values are packed two to a u32 word; f32 values are one
 * word each. A sequence's token i lives in page `pageTable[offset + i / pageSize]`, slot `i % pageSize`.
 */
export type KvDtype = 'f16' | 'f32';

export interface PagedKvLayout {
  pageSize: number;
  numKvHeads: number;
  headDim: number;
  dtype: KvDtype;
}

/** u32 words per K or V row of one head. */
export function rowWords(layout: PagedKvLayout): number {
  return layout.dtype === 'f16' ? layout.headDim / 2 : layout.headDim;
}

export function pageBytes(layout: PagedKvLayout): number {
  return layout.numKvHeads * layout.pageSize * rowWords(layout) * 4;
}

/** Whole pages that one storage binding of a device with these limits holds: a pool of K (or of V) is one binding. */
export function pagesPerBinding(limits: Parameters<typeof largestStorageBinding>[0], layout: PagedKvLayout): number {
  return Math.floor(largestStorageBinding(limits) / pageBytes(layout));
}

export function rowWordOffset(layout: PagedKvLayout, page: number, kvHead: number, slot: number): number {
  return ((page * layout.numKvHeads + kvHead) * layout.pageSize + slot) * rowWords(layout);
}

export function validateLayout(layout: PagedKvLayout): void {
  const { headDim, pageSize, numKvHeads } = layout;
  if (headDim % 8 !== 0 || headDim < 8 || headDim > 128) {
    throw new Error(`head dim ${headDim} is not supported: the attention kernels take multiples of 8 up to 128`);
  }
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error(`page size ${pageSize} must be a positive integer`);
  if (!Number.isInteger(numKvHeads) || numKvHeads < 1) throw new Error(`KV head count ${numKvHeads} must be positive`);
}
