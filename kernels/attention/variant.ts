import { specialize } from '../gpu/specialize.ts';
import { unrollLoops } from '../gpu/unroll.ts';
import kvF16Wgsl from './kv_f16.wgsl?raw';
import kvF16VectorsWgsl from './kv_f16_vectors.wgsl?raw';
import kvF32Wgsl from './kv_f32.wgsl?raw';
import kvF32VectorsWgsl from './kv_f32_vectors.wgsl?raw';
import mergePartialsWgsl from './merge_partials.wgsl?raw';
import reduceWorkgroupWgsl from './reduce_workgroup.wgsl?raw';
import stagedAttentionWgsl from './staged_attention.wgsl?raw';
import streamedAttentionWgsl from './streamed_attention.wgsl?raw';
import workHeadsWgsl from './work_heads.wgsl?raw';
import type { KvDtype } from './pagedKv.ts';

/**
 * Two kernels, one contract (work heads, ranges, partial slots, merge):
 *   streamed: K and V through registers in 16-byte loads, q·k summed with subgroup shuffles, no barrier until a
 *             segment ends. Needs subgroups of at least MIN_STREAMED_SUBGROUP invocations.
 *   staged:   tiles staged through workgroup memory, reductions through workgroup memory; runs anywhere.
 */
export type AttentionKernelKind = 'streamed' | 'staged';

/** Staged kernel: invocations per workgroup, and the largest tile. */
const STAGED_WORKGROUP = 64;
/** Staged kernel: query rows a prefill work head aims for (K and V read once per that many rows). */
const STAGED_CAUSAL_ROWS = 16;
/** Staged kernel: the smallest tile worth running; below it the per-tile barriers dominate. */
const MIN_TILE = 8;
/** Staged kernel: a causal block is not worth shrinking the tile below this: the block then shrinks instead. */
const MIN_CAUSAL_TILE = 16;

/** Streamed kernel: the smallest subgroup it runs with (a row's lanes must share one subgroup). */
const MIN_STREAMED_SUBGROUP = 4;
/**
 * Streamed kernel: query rows of a causal block. Its registers hold every row's q and o, so more rows spill: on the
 * H200 a 64-query chunk after 32k ran 1.35x faster with 4 rows (1 query × GQA 4) than with 8 (BENCHMARKS.md).
 */
const STREAMED_CAUSAL_ROWS = 4;
/**
 * Streamed kernel: rows × a lane's dimensions × tokens per step, the bound on the unroll (K and V of a step in
 * registers beside q and o). On the H200, GQA 8 at d=128 on 16 lanes (8 rows of 8 dimensions) ran 1.13x faster
 * with 4 tokens per step than with 2 at 64k, and GQA 4 at d=128 on 8 lanes (4 rows of 16) 0.82x with 8 than with 4.
 */
const STREAMED_STEP_VALUES = 256;
/** Streamed kernel: invocations per workgroup. */
const STREAMED_WORKGROUP = 128;
/**
 * Streamed kernel: invocations per K row (fewer where the head has fewer 16-byte words or the subgroup fewer
 * invocations). With q·k summed by a reduce-scatter, each lane keeps the softmax of its own rows only, and 8 lanes
 * ran best on the H200 for GQA 4 at both head dims: at d=64, 8 lanes of 8 dimensions 1.31x faster than 4 of 16 at
 * 64k and 1.22x at 256k; at d=128, 8 lanes of 16 1.01x and 1.07x faster than 16 of 8 (BENCHMARKS.md, 2026-12-03).
 */
const STREAMED_LANES = 8;
/**
 * Streamed kernel: every lane holds q and o of every row over its dimensions, rows × headDim / lanes values each;
 * past this many, the lanes per row double (GQA 8 at d=128: 16 lanes of 8 dimensions).
 */
const STREAMED_LANE_ROW_VALUES = 64;
/** Streamed kernel: tokens per stream per step at most (4 measured best at 64k on the H200). */
const STREAMED_MAX_UNROLL = 4;
/** Merge: partial states whose loads are issued together before any is used. */
const MERGE_BATCH = 4;

export interface AttentionVariantRequest {
  headDim: number;
  group: number;
  /** Query tokens per work head: 1 for decode, a causal block for prefill (see causalQueriesPerHead). */
  queries?: number;
  kvDtype: KvDtype;
  /** The adapter's smallest subgroup size; 0 without subgroups (then only the staged kernel runs). */
  subgroupMinSize: number;
  /** Workgroup memory the device allows. */
  maxWorkgroupStorage: number;
  /** Tokens per KV page: the streamed kernel is specialized for it. */
  pageSize: number;
  /** Staged kernel: tokens per tile; defaults to the largest that fits (64 at most). */
  tile?: number;
  /** Streamed kernel: invocations per workgroup (default STREAMED_WORKGROUP). */
  workgroup?: number;
  /** Streamed kernel: tokens each stream loads per step before using them (default: what registers allow, ≤ 4). */
  unroll?: number;
  /** Streamed kernel: at most this many invocations per K row (default STREAMED_LANES). */
  lanes?: number;
}

export interface AttentionVariant {
  kind: AttentionKernelKind;
  /** Readable name, e.g. `streamed_attention/d128/g4/q1/f16kv/p16/l8/w128/u4`: benchmark rows and logs print it. */
  key: string;
  mergeKey: string;
  /** Tokens per tile: the unit the planner shares out. */
  tile: number;
  queries: number;
  attentionCode: string;
  mergeCode: string;
}

function streamedKernelRuns(subgroupMinSize: number): boolean {
  return subgroupMinSize >= MIN_STREAMED_SUBGROUP;
}

/** The streamed kernel's lanes per K row before the head's words and the subgroup bound them. */
function preferredLanes(headDim: number, rows: number): number {
  let lanes = STREAMED_LANES;
  while ((rows * headDim) / lanes > STREAMED_LANE_ROW_VALUES) lanes *= 2;
  return lanes;
}

/** Invocations that share one K or V row in the streamed kernel: a power of two dividing headDim / 8, within a subgroup. */
function streamedLanes(headDim: number, subgroupMinSize: number, maxLanes: number): number {
  let lanes = 1;
  while (lanes * 2 <= Math.min(subgroupMinSize, maxLanes) && (headDim / 8) % (lanes * 2) === 0) lanes *= 2;
  return lanes;
}

/** The staged kernel's workgroup arrays in bytes (restates staged_attention.wgsl and reduce_workgroup.wgsl). */
function stagedWorkgroupBytes(headDim: number, rows: number, kvDtype: KvDtype, tile: number): number {
  const rowWords = kvDtype === 'f16' ? headDim / 2 : headDim;
  const queryTile = rows * headDim * 4;
  const keyTile = tile * (rowWords + 1) * 4;
  const rowBase = tile * 4;
  const probs = rows * tile * 4;
  const outputScratch = rows * STAGED_WORKGROUP * 8;
  const reduce = rows * STAGED_WORKGROUP * 4;
  return queryTile + keyTile + rowBase + probs + outputScratch + reduce;
}

/** The streamed kernel's workgroup arrays in bytes, merging `mergeRows` rows at once (restates streamed_attention.wgsl). */
function streamedWorkgroupBytes(headDim: number, rows: number, maxSubgroups: number, mergeRows: number): number {
  return 2 * maxSubgroups * rows * 4 + maxSubgroups * mergeRows * headDim * 4;
}

/**
 * Query tokens per work head for a prefill chunk's causal attention: as many as the kernel holds (the staged one
 * in workgroup memory at a tile of MIN_CAUSAL_TILE tokens, the streamed one in registers). Every K and V tile is
 * then read once per that many queries instead of once per query.
 */
export function causalQueriesPerHead(request: Omit<AttentionVariantRequest, 'queries' | 'tile'>): number {
  const { headDim, group, kvDtype, subgroupMinSize, maxWorkgroupStorage } = request;
  const streamed = streamedKernelRuns(subgroupMinSize);
  const targetRows = streamed ? STREAMED_CAUSAL_ROWS : STAGED_CAUSAL_ROWS;
  let queries = 1;
  while (queries * 2 * group <= targetRows) queries *= 2;
  if (!streamed) {
    while (queries > 1 && stagedWorkgroupBytes(headDim, queries * group, kvDtype, MIN_CAUSAL_TILE) > maxWorkgroupStorage) queries /= 2;
  }
  return queries;
}

/** Chooses and specializes the attention and merge kernels for a shape and the adapter's features. */
export function buildAttentionVariant(request: AttentionVariantRequest): AttentionVariant {
  const { headDim, group } = request;
  const queries = request.queries ?? 1;
  if (headDim % 8 !== 0 || headDim < 8 || headDim > 2 * STAGED_WORKGROUP) {
    throw new Error(`head dim ${headDim} is not supported by the attention kernels (multiples of 8 up to 128)`);
  }
  if (!Number.isInteger(group) || group < 1) throw new Error(`GQA group size ${group} must be a positive integer`);
  if (!Number.isInteger(queries) || queries < 1) throw new Error(`queries per work head ${queries} must be a positive integer`);
  const mergeCode = unrollLoops(
    specialize(mergePartialsWgsl, { HEAD_DIM: headDim, GROUP: group, QUERIES: queries, WORK_HEADS: workHeadsWgsl, BATCH: MERGE_BATCH }),
    { BATCH: MERGE_BATCH },
  );
  const mergeKey = `merge_partials/d${headDim}/g${group}/q${queries}`;
  const kernel = streamedKernelRuns(request.subgroupMinSize) ? buildStreamed(request, queries) : buildStaged(request, queries);
  return { ...kernel, queries, mergeKey, mergeCode };
}

type KernelPart = Pick<AttentionVariant, 'kind' | 'key' | 'tile' | 'attentionCode'>;

function buildStreamed(request: AttentionVariantRequest, queries: number): KernelPart {
  const { headDim, group, kvDtype, subgroupMinSize, maxWorkgroupStorage } = request;
  const rows = queries * group;
  const lanes = streamedLanes(headDim, subgroupMinSize, request.lanes ?? preferredLanes(headDim, rows));
  const workgroup = request.workgroup ?? STREAMED_WORKGROUP;
  if (!(workgroup % lanes === 0 && workgroup >= headDim / 4 && workgroup <= 256 && (workgroup & (workgroup - 1)) === 0)) {
    throw new Error(`streamed attention workgroup ${workgroup} must be a power of two from ${headDim / 4} to 256`);
  }
  const laneDims = headDim / lanes;
  const unroll = request.unroll ?? Math.max(1, Math.min(STREAMED_MAX_UNROLL, Math.floor(STREAMED_STEP_VALUES / (rows * laneDims))));
  if (!Number.isInteger(unroll) || unroll < 1) throw new Error(`streamed attention unroll ${unroll} must be a positive integer`);
  const streams = workgroup / lanes;
  // The end-of-segment merge: one state per subgroup, the most rows at once that workgroup memory holds.
  const maxSubgroups = Math.max(1, workgroup / Math.max(lanes, subgroupMinSize));
  let mergeRows = rows;
  while (mergeRows > 1 && streamedWorkgroupBytes(headDim, rows, maxSubgroups, mergeRows) > maxWorkgroupStorage) {
    mergeRows = largestDivisorBelow(rows, mergeRows);
  }
  const bytes = streamedWorkgroupBytes(headDim, rows, maxSubgroups, mergeRows);
  if (bytes > maxWorkgroupStorage) {
    throw new Error(`attention for ${rows} query rows per head needs ${bytes} bytes of workgroup memory; this adapter allows ${maxWorkgroupStorage}`);
  }
  const tile = streams * unroll;
  const dimsPerVector = kvDtype === 'f16' ? 8 : 4;
  const paddedRows = 2 ** Math.ceil(Math.log2(rows));
  // The reduce-scatter of q·k halves the rows a lane holds until each of a row's lanes owns its share.
  const scatterLevels = Math.log2(Math.min(paddedRows, lanes));
  const butterflyLevels = Math.log2(lanes) - scatterLevels;
  // The streams' merge: a level per stream bit; the first ones also halve a lane's quads of o while they halve evenly.
  const laneQuads = laneDims / 4;
  const streamLevels = Math.log2(streams);
  let quadLevels = 0;
  while (quadLevels < streamLevels && (laneQuads >> quadLevels) % 2 === 0) quadLevels++;
  const specialized = specialize(streamedAttentionWgsl, {
    HEAD_DIM: headDim,
    GROUP: group,
    QUERIES: queries,
    WORK_HEADS: workHeadsWgsl,
    TILE: tile,
    WORKGROUP: workgroup,
    LANES: lanes,
    UNROLL: unroll,
    PAGE_SIZE: request.pageSize,
    PADDED_ROWS: paddedRows,
    SCATTER_LEVELS: scatterLevels,
    BUTTERFLY_LEVELS: butterflyLevels,
    STREAM_LEVELS: streamLevels,
    QUAD_LEVELS: quadLevels,
    MAX_SUBGROUPS: maxSubgroups,
    MERGE_ROWS: mergeRows,
    KV_ACCESS: kvDtype === 'f16' ? kvF16VectorsWgsl : kvF32VectorsWgsl,
  });
  const attentionCode = unrollLoops(specialized, {
    ROWS: rows,
    PADDED_ROWS: paddedRows,
    LANE_ROWS: Math.max(1, paddedRows / lanes),
    HALF_ROWS: Math.floor(paddedRows / 2),
    SCATTER_LEVELS: scatterLevels,
    BUTTERFLY_LEVELS: butterflyLevels,
    UNROLL: unroll,
    LANE_QUADS: laneQuads,
    HALF_QUADS: Math.floor(laneQuads / 2),
    HELD_QUADS: laneQuads >> quadLevels,
    STREAM_LEVELS: streamLevels,
    VECTORS: laneDims / dimsPerVector,
    QUADS_PER_VECTOR: dimsPerVector / 4,
    MERGE_ROWS: mergeRows,
    MERGE_ROUNDS: rows / mergeRows,
  });
  const key = `streamed_attention/d${headDim}/g${group}/q${queries}/${kvDtype}kv/p${request.pageSize}/l${lanes}/w${workgroup}/u${unroll}`;
  return { kind: 'streamed', key, tile, attentionCode };
}

/** The largest divisor of n below `below`. */
function largestDivisorBelow(n: number, below: number): number {
  let d = below - 1;
  while (n % d !== 0) d--;
  return d;
}

function buildStaged(request: AttentionVariantRequest, queries: number): KernelPart {
  const { headDim, group, kvDtype, maxWorkgroupStorage } = request;
  const rows = queries * group;
  let tile = request.tile ?? STAGED_WORKGROUP;
  if (tile < 1 || tile > STAGED_WORKGROUP) throw new Error(`tile ${tile} must be between 1 and ${STAGED_WORKGROUP}`);
  if (request.tile === undefined) {
    while (tile > MIN_TILE && stagedWorkgroupBytes(headDim, rows, kvDtype, tile) > maxWorkgroupStorage) tile /= 2;
  }
  const bytes = stagedWorkgroupBytes(headDim, rows, kvDtype, tile);
  if (bytes > maxWorkgroupStorage) {
    throw new Error(
      `attention for head dim ${headDim}, group ${group}, ${queries} queries per head needs ${bytes} bytes of workgroup memory; ` +
        `this adapter allows ${maxWorkgroupStorage}`,
    );
  }
  const attentionCode = specialize(stagedAttentionWgsl, {
    HEAD_DIM: headDim,
    GROUP: group,
    QUERIES: queries,
    WORK_HEADS: workHeadsWgsl,
    TILE: tile,
    WORKGROUP: STAGED_WORKGROUP,
    KV_ACCESS: kvDtype === 'f16' ? kvF16Wgsl : kvF32Wgsl,
    REDUCE_WORKGROUP: reduceWorkgroupWgsl,
  });
  const key = `staged_attention/d${headDim}/g${group}/q${queries}/${kvDtype}kv/t${tile}`;
  return { kind: 'staged', key, tile, attentionCode };
}
