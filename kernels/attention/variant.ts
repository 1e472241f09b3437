import { specialize } from '../gpu/specialize.ts';
import decodeAttentionWgsl from './decode_attention.wgsl?raw';
import kvF16Wgsl from './kv_f16.wgsl?raw';
import kvF32Wgsl from './kv_f32.wgsl?raw';
import mergePartialsWgsl from './merge_partials.wgsl?raw';
import reduceSubgroupWgsl from './reduce_subgroup.wgsl?raw';
import reduceWorkgroupWgsl from './reduce_workgroup.wgsl?raw';
import workHeadsWgsl from './work_heads.wgsl?raw';
import type { KvDtype } from './pagedKv.ts';

export const ATTENTION_WORKGROUP = 64;
/** Query rows a prefill work head aims for: K and V are read once per that many rows, within register budgets. */
const TARGET_CAUSAL_ROWS = 16;
/** The smallest tile worth running; below it the per-tile barriers dominate. */
const MIN_TILE = 8;
/** A causal block is not worth shrinking the tile below this: the block then shrinks instead. */
const MIN_CAUSAL_TILE = 16;

export interface AttentionVariantRequest {
  headDim: number;
  group: number;
  /** Query tokens per work head: 1 for decode, a causal block for prefill (see causalQueriesPerHead). */
  queries?: number;
  kvDtype: KvDtype;
  subgroups: boolean;
  /** Workgroup memory the device allows; the tile shrinks to fit. */
  maxWorkgroupStorage: number;
  /** Tokens per tile; defaults to the largest that fits (64 at most). */
  tile?: number;
}

export interface AttentionVariant {
  /** Readable name, e.g. `decode_attention/d128/g4/q1/f16kv/t64/sg`: benchmark rows and logs print it. */
  key: string;
  mergeKey: string;
  tile: number;
  queries: number;
  attentionCode: string;
  mergeCode: string;
}

/** The kernel's workgroup arrays in bytes (restates decode_attention.wgsl and its reduce snippet). */
function workgroupBytes(headDim: number, rows: number, kvDtype: KvDtype, tile: number, subgroups: boolean): number {
  const rowWords = kvDtype === 'f16' ? headDim / 2 : headDim;
  const queryTile = rows * headDim * 4;
  const keyTile = tile * (rowWords + 1) * 4;
  const rowBase = tile * 4;
  const probs = rows * tile * 4;
  const outputScratch = rows * ATTENTION_WORKGROUP * 8;
  const reduce = subgroups ? rows * (ATTENTION_WORKGROUP / 4) * 4 : rows * ATTENTION_WORKGROUP * 4;
  return queryTile + keyTile + rowBase + probs + outputScratch + reduce;
}

/**
 * Query tokens per work head for a prefill chunk's causal attention: as many as keep the head near
 * TARGET_CAUSAL_ROWS rows (GQA group × queries) and its workgroup arrays within the adapter's limit at a tile of
 * MIN_CAUSAL_TILE tokens. Every K and V tile is then read once per that many queries instead of once per query.
 */
export function causalQueriesPerHead(request: Omit<AttentionVariantRequest, 'queries' | 'tile'>): number {
  const { headDim, group, kvDtype, subgroups, maxWorkgroupStorage } = request;
  let queries = 1;
  while (queries * 2 * group <= TARGET_CAUSAL_ROWS) queries *= 2;
  while (queries > 1 && workgroupBytes(headDim, queries * group, kvDtype, MIN_CAUSAL_TILE, subgroups) > maxWorkgroupStorage) queries /= 2;
  return queries;
}

/** Chooses and specializes the attention and merge kernels for a shape and the adapter's features. */
export function buildAttentionVariant(request: AttentionVariantRequest): AttentionVariant {
  const { headDim, group, kvDtype, subgroups, maxWorkgroupStorage } = request;
  const queries = request.queries ?? 1;
  if (headDim % 8 !== 0 || headDim > 2 * ATTENTION_WORKGROUP) {
    throw new Error(`head dim ${headDim} is not supported by the attention kernels (multiples of 8 up to 128)`);
  }
  if (!Number.isInteger(group) || group < 1) throw new Error(`GQA group size ${group} must be a positive integer`);
  if (!Number.isInteger(queries) || queries < 1) throw new Error(`queries per work head ${queries} must be a positive integer`);
  const rows = queries * group;
  let tile = request.tile ?? ATTENTION_WORKGROUP;
  if (tile < 1 || tile > ATTENTION_WORKGROUP) throw new Error(`tile ${tile} must be between 1 and ${ATTENTION_WORKGROUP}`);
  if (request.tile === undefined) {
    while (tile > MIN_TILE && workgroupBytes(headDim, rows, kvDtype, tile, subgroups) > maxWorkgroupStorage) tile /= 2;
  }
  const bytes = workgroupBytes(headDim, rows, kvDtype, tile, subgroups);
  if (bytes > maxWorkgroupStorage) {
    throw new Error(
      `attention for head dim ${headDim}, group ${group}, ${queries} queries per head needs ${bytes} bytes of workgroup memory; ` +
        `this adapter allows ${maxWorkgroupStorage}`,
    );
  }
  const attentionCode = specialize(decodeAttentionWgsl, {
    ENABLE: subgroups ? 'enable subgroups;' : '',
    HEAD_DIM: headDim,
    GROUP: group,
    QUERIES: queries,
    WORK_HEADS: workHeadsWgsl,
    TILE: tile,
    WORKGROUP: ATTENTION_WORKGROUP,
    KV_ACCESS: kvDtype === 'f16' ? kvF16Wgsl : kvF32Wgsl,
    REDUCE: subgroups ? reduceSubgroupWgsl : reduceWorkgroupWgsl,
    SUBGROUP_BUILTINS: subgroups
      ? '@builtin(subgroup_invocation_id) subgroupLane: u32, @builtin(subgroup_size) subgroupSize: u32,'
      : '',
    SUBGROUP_ARGS: subgroups ? ', subgroupLane, subgroupSize' : '',
  });
  const mergeCode = specialize(mergePartialsWgsl, { HEAD_DIM: headDim, GROUP: group, QUERIES: queries, WORK_HEADS: workHeadsWgsl });
  const key = `decode_attention/d${headDim}/g${group}/q${queries}/${kvDtype}kv/t${tile}/${subgroups ? 'sg' : 'wg'}`;
  return { key, mergeKey: `merge_partials/d${headDim}/g${group}/q${queries}`, tile, queries, attentionCode, mergeCode };
}
