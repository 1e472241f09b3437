import { specialize } from '../gpu/specialize.ts';
import { unrollLoops } from '../gpu/unroll.ts';
import causalChunkWgsl from './causal_chunk.wgsl?raw';
import causalChunkAttentionWgsl from './causal_chunk_attention.wgsl?raw';
import kvF16VectorsWgsl from './kv_f16_vectors.wgsl?raw';
import kvF32VectorsWgsl from './kv_f32_vectors.wgsl?raw';
import mergeCausalSplitsWgsl from './merge_causal_splits.wgsl?raw';
import type { PagedKvLayout } from './pagedKv.ts';

/**
 * How the prefill attention kernel tiles a chunk (causal_chunk_attention.wgsl): a workgroup owns `rows` query rows
 * (query tokens × the GQA group's heads) of one KV head and walks the keys `keys` at a time; each invocation owns a
 * `threadRows` × `threadKeys` block of S and the same rows of O ((rows / threadRows) · (keys / threadKeys)
 * invocations). Q and K are staged `dimStep` dimensions at a time.
 */
export interface CausalTile {
  rows: number;
  keys: number;
  /** Multiples of 4 that divide `rows` and `keys`. */
  threadRows: number;
  threadKeys: number;
  /** A multiple of 8; heads narrower than it are staged whole. */
  dimStep: number;
}

/**
 * A CPU adapter (SwiftShader) runs a workgroup's invocations in turn, switching at every barrier: few invocations
 * (16). Q and K in slices of 16 dimensions: half the unrolled code of whole heads (d64: 71k against 153k
 * characters), which SwiftShader compiled in 2.3 against 8.2 s (d128: 2.8 against 9.0), with prefill no slower for
 * the barriers added (pydoc-chat-6m, 192 tokens).
 */
export const CPU_CAUSAL_TILE: CausalTile = { rows: 16, keys: 16, threadRows: 4, threadKeys: 4, dimStep: 16 };

/**
 * 64 × 64 tiles of 128 invocations, 8 × 4 blocks (S: 32 multiply-adds per three 16-byte workgroup reads; O: 64 per
 * four), 36 KiB (the H200 allows 48). A 512-token chunk of a GQA-4 model gives 32 row blocks per KV head.
 */
export const GPU_CAUSAL_TILE: CausalTile = { rows: 64, keys: 64, threadRows: 8, threadKeys: 4, dimStep: 32 };

/** The same in 28 KiB, for adapters that allow 32 (most): Q and K in slices of 16 dimensions, twice the barriers. */
export const GPU_CAUSAL_TILE_IN_32K: CausalTile = { ...GPU_CAUSAL_TILE, dimStep: 16 };

/** 4 × 4 blocks in 16 KiB: WebGPU's default workgroup memory. */
export const GPU_SMALL_CAUSAL_TILE: CausalTile = { rows: 64, keys: 32, threadRows: 4, threadKeys: 4, dimStep: 16 };

export function causalTileName(t: CausalTile): string {
  return `${t.rows}x${t.keys}/${t.threadRows}x${t.threadKeys}/d${t.dimStep}`;
}

export function causalTileInvocations(t: CausalTile): number {
  return (t.rows / t.threadRows) * (t.keys / t.threadKeys);
}

/** Dimensions per staged Q and K slice for a head of `headDim`. */
function dimStep(t: CausalTile, headDim: number): number {
  return Math.min(t.dimStep, headDim);
}

/** Keys per staged V slice: the most that fit the stage Q and K use, a power of two dividing `keys`. */
function valueStep(t: CausalTile, headDim: number): number {
  const fit = Math.min(t.keys, (dimStep(t, headDim) * (t.rows + t.keys)) / headDim);
  let step = 1;
  while (step * 2 <= fit && t.keys % (step * 2) === 0) step *= 2;
  return step;
}

/** The kernel's workgroup arrays in bytes (restates causal_chunk_attention.wgsl: stage, probs, rowParts). */
export function causalTileWorkgroupBytes(t: CausalTile, headDim: number): number {
  const stage = Math.max(dimStep(t, headDim) * (t.rows + t.keys), valueStep(t, headDim) * headDim);
  const probs = t.rows * t.keys;
  const rowParts = (t.keys / t.threadKeys) * t.rows;
  return 4 * (stage + probs + rowParts);
}

/** Why `t` cannot run a head of `headDim` within `limits`, or undefined when it can. */
export function causalTileProblem(t: CausalTile, headDim: number, limits: GPUSupportedLimits): string | undefined {
  const { rows, keys, threadRows, threadKeys } = t;
  if (threadRows % 4 || threadKeys % 4 || rows % threadRows || keys % threadKeys) {
    return `the register block ${threadRows} × ${threadKeys} must be multiples of 4 that divide ${rows} × ${keys}`;
  }
  const step = dimStep(t, headDim);
  if (step % 8 || step <= 0 || headDim % step) return `dimension step ${step} must be a positive multiple of 8 dividing the head dim ${headDim}`;
  const keyThreads = keys / threadKeys;
  if ((headDim / 4) % keyThreads) return `${keyThreads} key threads must divide the ${headDim / 4} quads of the head dim`;
  const invocations = causalTileInvocations(t);
  const maxInvocations = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (invocations > maxInvocations) return `${invocations} invocations per workgroup exceed the device's ${maxInvocations}`;
  const bytes = causalTileWorkgroupBytes(t, headDim);
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed the device's ${limits.maxComputeWorkgroupStorageSize}`;
  return undefined;
}

/** The tile for a head of `headDim`: CPU_CAUSAL_TILE on a CPU adapter, else the largest GPU tile the device runs. */
export function causalTile(isCpu: boolean, headDim: number, limits: GPUSupportedLimits): CausalTile {
  const candidates = isCpu ? [CPU_CAUSAL_TILE] : [GPU_CAUSAL_TILE, GPU_CAUSAL_TILE_IN_32K, GPU_SMALL_CAUSAL_TILE, CPU_CAUSAL_TILE];
  const tile = candidates.find((t) => !causalTileProblem(t, headDim, limits));
  if (!tile) throw new Error(`no prefill attention tile fits head dim ${headDim}: ${causalTileProblem(candidates.at(-1)!, headDim, limits)}`);
  return tile;
}

/** Invocations per workgroup of the merge. */
export const MERGE_WORKGROUP = 64;

export interface CausalChunkVariant {
  /** Readable name, e.g. `causal_chunk_attention/d128/g4/f16kv/p16/64x64/8x4/d32`. */
  key: string;
  mergeKey: string;
  attentionCode: string;
  mergeCode: string;
}

/** Specializes the prefill attention kernel and its merge for a KV layout, a GQA group and a tile. */
export function buildCausalChunkVariant(layout: PagedKvLayout, group: number, tile: CausalTile): CausalChunkVariant {
  const { headDim, pageSize, dtype } = layout;
  const dimsPerVector = dtype === 'f16' ? 8 : 4;
  const step = dimStep(tile, headDim);
  const values = valueStep(tile, headDim);
  const invocations = causalTileInvocations(tile);
  const rowVecs = tile.threadRows / 4;
  const keyThreads = tile.keys / tile.threadKeys;
  const dimVecs = headDim / 4 / keyThreads;
  const attentionCode = unrollLoops(
    specialize(causalChunkAttentionWgsl, {
      HEAD_DIM: headDim,
      GROUP: group,
      PAGE_SIZE: pageSize,
      BLOCK_ROWS: tile.rows,
      TILE_KEYS: tile.keys,
      THREAD_ROWS: tile.threadRows,
      THREAD_KEYS: tile.threadKeys,
      DIM_STEP: step,
      VALUE_STEP: values,
      CHUNK: causalChunkWgsl,
      KV_ACCESS: dtype === 'f16' ? kvF16VectorsWgsl : kvF32VectorsWgsl,
    }),
    {
      VEC: 4,
      ROW_VECS: rowVecs,
      KEY_VECS: tile.threadKeys / 4,
      THREAD_KEYS: tile.threadKeys,
      SCORES: tile.threadKeys * rowVecs,
      OUTPUTS: tile.threadRows * dimVecs,
      DIM_VECS: dimVecs,
      DIM_STEP: step,
      VALUE_STEP: values,
      QUADS_PER_VECTOR: dimsPerVector / 4,
      QUERY_LOADS: Math.ceil(((tile.rows / 4) * (step / 4)) / invocations),
      KEY_LOADS: Math.ceil(((tile.keys / 4) * (step / dimsPerVector)) / invocations),
      VALUE_LOADS: Math.ceil((values * (headDim / dimsPerVector)) / invocations),
    },
  );
  const mergeCode = specialize(mergeCausalSplitsWgsl, { HEAD_DIM: headDim, GROUP: group, WORKGROUP: MERGE_WORKGROUP, CHUNK: causalChunkWgsl });
  return {
    key: `causal_chunk_attention/d${headDim}/g${group}/${dtype}kv/p${pageSize}/${causalTileName(tile)}`,
    mergeKey: `merge_causal_splits/d${headDim}/g${group}`,
    attentionCode,
    mergeCode,
  };
}
