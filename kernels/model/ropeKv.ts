import type { PagedKvLayout } from '../attention/pagedKv.ts';
import { bindGroup, modelPipeline, shapeUniform, type BoundKernel } from './boundKernel.ts';
import ropeKvWgsl from './rope_kv.wgsl?raw';
import ropeKvStoreWgsl from './rope_kv_store.wgsl?raw';

/**
 * The dimension at row `row` of a q or k head in rope-paired order, the order the q/k/v weight's q and k rows (and
 * their biases) are stored in: row 2i is dimension i and row 2i + 1 is dimension i + headDim/2, the pair that one
 * rotation turns (Hugging Face's rotate_half), so a kernel finds a row's partner beside it.
 */
export function ropePairedDim(row: number, headDim: number): number {
  return (row >> 1) + (row & 1) * (headDim / 2);
}

/**
 * Rows of whole heads (`rowBytes` bytes each, in dimension order) reordered into rope-paired order: row r of each
 * head of the result is row ropePairedDim(r) of the source's head.
 */
export function toRopePairedOrder(rows: Uint8Array, headDim: number, rowBytes: number): Uint8Array {
  const headBytes = headDim * rowBytes;
  if (rows.byteLength % headBytes !== 0) throw new Error(`${rows.byteLength} bytes are not whole heads of ${headDim} rows of ${rowBytes} bytes`);
  const paired = new Uint8Array(rows.byteLength);
  for (let head = 0; head < rows.byteLength; head += headBytes) {
    for (let r = 0; r < headDim; r++) {
      const from = head + ropePairedDim(r, headDim) * rowBytes;
      paired.set(rows.subarray(from, from + rowBytes), head + r * rowBytes);
    }
  }
  return paired;
}

/** What rotary embedding and the KV write read besides q, k and v, and where they write k and v. */
export interface RopeKvTargets {
  layout: PagedKvLayout;
  queryHeads: number;
  step: GPUBuffer;
  /** cos and sin of every position and pair: [position][headDim / 2] vec2, computed in float64. */
  rope: GPUBuffer;
  pageTable: GPUBuffer;
  keyPool: GPUBuffer;
  valuePool: GPUBuffer;
}

export function bindRopeKv(
  device: GPUDevice,
  b: RopeKvTargets & {
    label: string;
    /** [tokens][q heads | k heads | v heads], the fused projection's output, q and k heads in rope-paired order. */
    qkv: GPUBuffer;
    /** [tokens][q heads]: the rotated queries. */
    q: GPUBuffer;
  },
): BoundKernel {
  const { headDim, dtype, numKvHeads, pageSize } = b.layout;
  const { code, pipeline } = modelPipeline(device, `rope_kv/d${headDim}/${dtype}kv`, ropeKvWgsl, {
    HEAD_DIM: headDim,
    KV_F16: dtype === 'f16' ? 'true' : 'false',
    KV_STORE: ropeKvStoreWgsl,
  });
  const shape = shapeUniform(device, code, b.label, { queryHeads: b.queryHeads, kvHeads: numKvHeads, pageSize });
  const buffers = [shape, b.step, b.qkv, b.q, b.rope, b.pageTable, b.keyPool, b.valuePool];
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, buffers),
    grid: (step) => [step.tokenCount, b.queryHeads + numKvHeads],
  };
}
