import { specialize } from '../gpu/specialize.ts';
import decodeAttentionWgsl from './decode_attention.wgsl?raw';
import kvF16Wgsl from './kv_f16.wgsl?raw';
import kvF32Wgsl from './kv_f32.wgsl?raw';
import mergePartialsWgsl from './merge_partials.wgsl?raw';
import reduceSubgroupWgsl from './reduce_subgroup.wgsl?raw';
import reduceWorkgroupWgsl from './reduce_workgroup.wgsl?raw';
import type { KvDtype } from './pagedKv.ts';

export const ATTENTION_WORKGROUP = 64;

export interface AttentionVariantRequest {
  headDim: number;
  group: number;
  kvDtype: KvDtype;
  subgroups: boolean;
  /** Workgroup memory the device allows; the tile shrinks to fit. */
  maxWorkgroupStorage: number;
  /** Tokens per tile; defaults to the largest that fits (64 at most). */
  tile?: number;
}

export interface AttentionVariant {
  /** Readable name, e.g. `decode_attention/d128/g4/f16kv/t64/sg`: benchmark rows and logs print it. */
  key: string;
  mergeKey: string;
  tile: number;
  attentionCode: string;
  mergeCode: string;
}

function workgroupBytes(headDim: number, group: number, kvDtype: KvDtype, tile: number, subgroups: boolean): number {
  const rowWords = kvDtype === 'f16' ? headDim / 2 : headDim;
  const queryTile = group * headDim * 4;
  const keyTile = tile * (rowWords + 1) * 4;
  const rows = tile * 4;
  const probs = group * tile * 4;
  const outputScratch = group * ATTENTION_WORKGROUP * 8;
  const reduce = subgroups ? group * (ATTENTION_WORKGROUP / 4) * 4 : group * ATTENTION_WORKGROUP * 4;
  return queryTile + keyTile + rows + probs + outputScratch + reduce;
}

/** Chooses and specializes the attention and merge kernels for a shape and the adapter's features. */
export function buildAttentionVariant(request: AttentionVariantRequest): AttentionVariant {
  const { headDim, group, kvDtype, subgroups, maxWorkgroupStorage } = request;
  if (headDim % 8 !== 0 || headDim > 2 * ATTENTION_WORKGROUP) {
    throw new Error(`head dim ${headDim} is not supported by the attention kernels (multiples of 8 up to 128)`);
  }
  if (!Number.isInteger(group) || group < 1) throw new Error(`GQA group size ${group} must be a positive integer`);
  let tile = request.tile ?? ATTENTION_WORKGROUP;
  if (tile < 1 || tile > ATTENTION_WORKGROUP) throw new Error(`tile ${tile} must be between 1 and ${ATTENTION_WORKGROUP}`);
  if (request.tile === undefined) {
    while (tile > 8 && workgroupBytes(headDim, group, kvDtype, tile, subgroups) > maxWorkgroupStorage) tile /= 2;
  }
  const bytes = workgroupBytes(headDim, group, kvDtype, tile, subgroups);
  if (bytes > maxWorkgroupStorage) {
    throw new Error(
      `decode attention for head dim ${headDim}, group ${group} needs ${bytes} bytes of workgroup memory; ` +
        `this adapter allows ${maxWorkgroupStorage}`,
    );
  }
  const attentionCode = specialize(decodeAttentionWgsl, {
    ENABLE: subgroups ? 'enable subgroups;' : '',
    HEAD_DIM: headDim,
    GROUP: group,
    TILE: tile,
    WORKGROUP: ATTENTION_WORKGROUP,
    KV_ACCESS: kvDtype === 'f16' ? kvF16Wgsl : kvF32Wgsl,
    REDUCE: subgroups ? reduceSubgroupWgsl : reduceWorkgroupWgsl,
    SUBGROUP_BUILTINS: subgroups
      ? '@builtin(subgroup_invocation_id) subgroupLane: u32, @builtin(subgroup_size) subgroupSize: u32,'
      : '',
    SUBGROUP_ARGS: subgroups ? ', subgroupLane, subgroupSize' : '',
  });
  const mergeCode = specialize(mergePartialsWgsl, { HEAD_DIM: headDim, GROUP: group });
  const key = `decode_attention/d${headDim}/g${group}/${kvDtype}kv/t${tile}/${subgroups ? 'sg' : 'wg'}`;
  return { key, mergeKey: `merge_partials/d${headDim}/g${group}`, tile, attentionCode, mergeCode };
}
