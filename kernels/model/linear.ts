import type { GpuContext } from '../gpu/context.ts';
import { specialize } from '../gpu/specialize.ts';
import { bindGroup, modelPipeline, WEIGHT_SNIPPETS, type BoundKernel, type WeightDtype } from './boundKernel.ts';
import linearWgsl from './linear.wgsl?raw';
import reduceSubgroupWgsl from './linear_reduce_subgroup.wgsl?raw';
import reduceWorkgroupWgsl from './linear_reduce_workgroup.wgsl?raw';
import ropeKvEpilogueWgsl from './linear_rope_kv.wgsl?raw';
import storeEpilogueWgsl from './linear_store.wgsl?raw';
import type { RopeKvTargets } from './ropeKv.ts';
import ropeKvStoreWgsl from './rope_kv_store.wgsl?raw';
import stepWgsl from './step.wgsl?raw';

/** How the decode GEMV splits its work: invocations per workgroup, output rows per workgroup, octs per batch. */
export interface LinearSchedule {
  workgroup: number;
  rows: number;
  /** 16-byte loads per weight row an invocation issues together (the unrolled batch). */
  batchSteps: number;
}

/** Input features from which a matrix's rows count as wide in `linearSchedule` (the 8B shape's 4,096). */
const WIDE_ROW = 4096;

/**
 * The schedule for a shape. A GPU wants megabytes of loads in flight (tens of thousands of invocations, several
 * independent 16-byte loads each); which split gets there differs by shape, so these are the fastest of
 * `bench/linear.ts` on the H200 (BENCHMARKS.md), by the shape's kind, and for wide rows the fastest inside the step
 * (`bench-decode` from `scripts/build-ablations.mjs linear-*` builds). A CPU adapter gets cpuLinearSchedule.
 */
export function linearSchedule(b: { outFeatures: number; inFeatures: number; gated?: boolean }, cpuAdapter: boolean): LinearSchedule {
  if (cpuAdapter) return cpuLinearSchedule(b);
  // Gate and up: two rows per output, so fewer per workgroup. Rows of 4,096 (the 8B shape) read faster in two batches
  // a row than in the narrow rows' 8 batches of 1 (64 invocations): the 8B step 1.8% shorter with 256 invocations of 1
  // load, 1% shorter again with 128 of 2; the 1B's (rows of 2,048) 1% longer with 128 of 2 (BENCHMARKS.md).
  if (b.gated) return b.inFeatures >= WIDE_ROW ? { workgroup: 128, rows: 4, batchSteps: 2 } : { workgroup: 64, rows: 4, batchSteps: 1 };
  // Long rows (the down projection): fewer rows, more loads per row in flight.
  if (b.inFeatures >= 8192) return { workgroup: 128, rows: 2, batchSteps: 4 };
  // Many rows (the LM head): wide workgroups over many rows each.
  if (b.outFeatures >= 65536) return { workgroup: 256, rows: 8, batchSteps: 1 };
  // q/k/v and o: one batch covers a row (256 octs at 2,048 features; 512 at 4,096: the 8B step 1.4% shorter with 64
  // invocations of 8 loads a row, 0.5% shorter again with 128 of 4; the 1B's 2% longer with 64 of 8). At 2,048, o on
  // 2 rows a workgroup: the 1B step 0.3–1% shorter than on 4 (q/k/v's rotary epilogue keeps 4, whole quads).
  return b.inFeatures >= WIDE_ROW ? { workgroup: 128, rows: 4, batchSteps: 4 } : { workgroup: 128, rows: 2, batchSteps: 2 };
}

/** WebGPU's default maxComputeWorkgroupsPerDimension: the row groups of one dispatch that every adapter runs. */
const DEFAULT_MAX_WORKGROUPS = 65535;

/**
 * A CPU adapter (SwiftShader) runs a workgroup's invocations in turn, a subgroup of 4 lanes at a time, and spreads
 * workgroups over its cores: small workgroups of few rows, and no unrolling, which only lengthens its compile. On
 * SwiftShader (2 shared cores), a decode step of the built-in pydoc-chat-6m took 2.5–3.4x less wall time with 8
 * invocations of 2 rows than with 64 of 16, and less than with 16 of 4 or 32 of 4; with 8 of 3 the rest of its step
 * (all but attention) took 2–10% less than with 8 of 2 in each of six alternating runs, and less than with 4 rows
 * (BENCHMARKS.md, 2026-12-04). Rows grow only where a vocabulary would need more row groups than a dispatch may
 * have; the workgroup then holds every partial sum to reduce (a row's gate and up, and the norm's).
 */
function cpuLinearSchedule(b: { outFeatures: number; gated?: boolean }): LinearSchedule {
  const rows = Math.max(3, Math.ceil(b.outFeatures / DEFAULT_MAX_WORKGROUPS));
  const reduced = reducedPartialSums(rows, { gated: b.gated, normed: true });
  return { workgroup: Math.max(8, 2 ** Math.ceil(Math.log2(reduced))), rows, batchSteps: 1 };
}

/**
 * Partial sums a workgroup of `rows` output rows reduces: one per row of each matrix (gate and up: two) and the
 * norm's sum of squares. Lane i of the reduction finishes partial sum i, so they must not outnumber the workgroup.
 */
export function reducedPartialSums(rows: number, b: { gated?: boolean; normed?: boolean }): number {
  return rows * (b.gated ? 2 : 1) + (b.normed ? 1 : 0);
}

/** What a linear layer y = x·Wᵀ (+ bias) reads and writes: x [tokens][inFeatures], y [tokens][outFeatures]. */
export interface LinearIo {
  label: string;
  inFeatures: number;
  outFeatures: number;
  weightDtype: WeightDtype;
  weights: GPUBuffer;
  bias?: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  /** y += x·Wᵀ (a fused residual add) instead of y = x·Wᵀ. */
  accumulate?: boolean;
}

export interface LinearBinding extends LinearIo {
  /** One row only: the LM head, over the last token normalised into row 0. */
  lastRowOnly?: boolean;
  /** W is [gate; up] (2 · outFeatures rows) and y = silu(x·gateᵀ) · (x·upᵀ): the SwiGLU MLP's first half. */
  gated?: boolean;
  /** RMS-normalize each row of x first (x / sqrt(mean(x²) + eps) · weight): the norm before q/k/v or the MLP. */
  norm?: { weight: GPUBuffer; eps: number };
  /**
   * Decode's q/k/v projection with rotary embedding and the KV write in its epilogue (see decodeFusesRopeKv): W is
   * [q; k; v] with the q and k heads in rope-paired order (ropePairedDim), y receives the rotated q ([tokens][q
   * heads], dimension order) and k and v go to the paged KV pools.
   */
  ropeKv?: RopeKvTargets;
  /** Overrides `linearSchedule` (benchmarks compare schedules). */
  schedule?: LinearSchedule;
}

/** Storage buffers the GEMV with the rotary epilogue binds: x, W, bias, y, the norm, rope, page table, K and V pools. */
export const ROPE_KV_LINEAR_STORAGE_BUFFERS = 9;

/**
 * Whether decode runs rotary embedding and the KV write in the q/k/v GEMV's epilogue (one dispatch a layer fewer:
 * on the H200 a dependent dispatch costs ~3 µs of GPU time and ~5 µs of the host's), which needs more storage
 * buffers per stage than WebGPU's default 8; otherwise the GEMV writes q/k/v and rope_kv.wgsl follows it.
 */
export function decodeFusesRopeKv(context: GpuContext): boolean {
  return context.limits.maxStorageBuffersPerShaderStage >= ROPE_KV_LINEAR_STORAGE_BUFFERS;
}

/**
 * Rows per workgroup for the rotary epilogue: a multiple of 4 (whole quads: two rotations, whole f16 words) that
 * divides the head dimension (no workgroup straddles two heads), the largest not above the schedule's. An explicit
 * schedule must already fit.
 */
function ropeKvRows(b: LinearBinding, rows: number, headDim: number): number {
  const fits = (r: number) => r % 4 === 0 && headDim % r === 0;
  if (fits(rows)) return rows;
  if (b.schedule) throw new Error(`${b.label}: the rotary epilogue needs rows per workgroup a multiple of 4 that divides the head dimension ${headDim} (got ${rows})`);
  for (let r = Math.max(4, rows - (rows % 4)); r >= 4; r -= 4) if (fits(r)) return r;
  throw new Error(`${b.label}: the rotary epilogue needs a head dimension that is a multiple of 4 (got ${headDim})`);
}

/** The rotary epilogue's snippet for a binding's shape, and the part of the pipeline key it adds. */
function ropeKvEpilogue(context: GpuContext, b: LinearBinding, rope: RopeKvTargets): { code: string; key: string } {
  const { headDim, numKvHeads, pageSize, dtype } = rope.layout;
  if (b.gated || b.accumulate) throw new Error(`${b.label}: the rotary epilogue takes no SwiGLU or residual add`);
  if (b.outFeatures !== (rope.queryHeads + 2 * numKvHeads) * headDim) {
    throw new Error(`${b.label}: ${b.outFeatures} rows are not q/k/v of ${rope.queryHeads} + 2 · ${numKvHeads} heads of ${headDim}`);
  }
  if (!decodeFusesRopeKv(context)) {
    throw new Error(`${b.label}: the rotary epilogue binds ${ROPE_KV_LINEAR_STORAGE_BUFFERS} storage buffers, beyond the adapter's ${context.limits.maxStorageBuffersPerShaderStage} per stage`);
  }
  const code = specialize(ropeKvEpilogueWgsl, {
    STEP: stepWgsl,
    HEAD_DIM: headDim,
    QUERY_HEADS: rope.queryHeads,
    KV_HEADS: numKvHeads,
    PAGE_SIZE: pageSize,
    KV_F16: dtype === 'f16' ? 'true' : 'false',
    KV_STORE: ropeKvStoreWgsl,
  });
  return { code, key: `/rope-d${headDim}q${rope.queryHeads}kv${numKvHeads}p${pageSize}${dtype}` };
}

/** Checks what every linear kernel assumes of its shape (x and W are read 8 values at a time). */
export function checkLinearShape(b: LinearIo): void {
  if (b.inFeatures % 8 !== 0) throw new Error(`${b.label}: input features ${b.inFeatures} must be a multiple of 8`);
}

/** The storage bindings every linear kernel ends with: x, W, bias, y. */
export function linearBuffers(b: LinearIo): GPUBuffer[] {
  // Without a bias the binding still needs a buffer: the weights stand in, never read.
  return [b.x, b.weights, b.bias ?? b.weights, b.y];
}

/** The decode linear layer (a GEMV per token), compiled for its shape. */
export function bindLinear(context: GpuContext, b: LinearBinding): BoundKernel {
  checkLinearShape(b);
  if (b.gated && b.bias) throw new Error(`${b.label}: a gated linear layer has no bias`);
  const { device, features } = context;
  const schedule = b.schedule ?? linearSchedule(b, context.adapter.isCpu);
  const { workgroup, batchSteps } = schedule;
  const rows = b.ropeKv ? ropeKvRows(b, schedule.rows, b.ropeKv.layout.headDim) : schedule.rows;
  const epilogue = b.ropeKv ? ropeKvEpilogue(context, b, b.ropeKv) : { code: storeEpilogueWgsl, key: '' };
  const matrices = b.gated ? 2 : 1;
  const reduced = reducedPartialSums(rows, { gated: b.gated, normed: b.norm !== undefined });
  if (reduced > workgroup) throw new Error(`${b.label}: ${reduced} partial sums to reduce exceed the workgroup of ${workgroup}`);
  // Subgroup sums need every subgroup inside the workgroup; a workgroup reduction serves any other adapter.
  const subgroups = features.subgroups && features.subgroupMinSize > 0 && features.subgroupMaxSize <= workgroup;
  const flags = `${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}${b.gated ? '/gated' : ''}${b.norm ? `/norm${b.norm.eps}` : ''}${epilogue.key}`;
  const key = `linear/${b.weightDtype}/${b.inFeatures}x${b.outFeatures}/w${workgroup}r${rows}b${batchSteps}${flags}/${subgroups ? 'sg' : 'wg'}`;
  const { pipeline } = modelPipeline(
    device,
    key,
    linearWgsl,
    {
      ENABLE: subgroups ? 'enable subgroups;' : '',
      REDUCE: subgroups ? specialize(reduceSubgroupWgsl, { SUBGROUP_MIN_SIZE: features.subgroupMinSize }) : reduceWorkgroupWgsl,
      SUBGROUP_BUILTINS: subgroups ? '@builtin(subgroup_invocation_id) subgroupLane: u32, @builtin(subgroup_size) subgroupSize: u32,' : '',
      SUBGROUP_ARGS: subgroups ? ', subgroupLane, subgroupSize' : '',
      ROWS: rows,
      WORKGROUP: workgroup,
      IN_FEATURES: b.inFeatures,
      OUT_FEATURES: b.outFeatures,
      HAS_BIAS: b.bias ? 'true' : 'false',
      ACCUMULATE: b.accumulate ? 'true' : 'false',
      GATED: b.gated ? 'true' : 'false',
      MATRICES: matrices,
      NORMED: b.norm ? 'true' : 'false',
      EPS: (b.norm?.eps ?? 0).toExponential(),
      BATCH_STEPS: batchSteps,
      WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
      EPILOGUE: epilogue.code,
    },
    { SUMS: rows * matrices + 1, REDUCED: reduced, BATCH_STEPS: batchSteps, MATRICES: matrices, ROWS: rows },
  );
  const rowGroups = Math.ceil(b.outFeatures / rows);
  const ropeKvBuffers = b.ropeKv ? [b.ropeKv.step, b.ropeKv.rope, b.ropeKv.pageTable, b.ropeKv.keyPool, b.ropeKv.valuePool] : [];
  if (rowGroups > context.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`${b.label}: ${b.outFeatures} rows in groups of ${rows} need ${rowGroups} workgroups, beyond the adapter's ${context.limits.maxComputeWorkgroupsPerDimension}`);
  }
  return {
    label: b.label,
    pipeline,
    // Without a norm, x stands in for its weight, never read.
    bindGroup: bindGroup(device, b.label, pipeline, [...linearBuffers(b), b.norm?.weight ?? b.x, ...ropeKvBuffers]),
    grid: (step) => [rowGroups, b.lastRowOnly ? 1 : step.tokenCount],
  };
}
