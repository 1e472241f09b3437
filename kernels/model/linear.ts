import type { GpuContext } from '../gpu/context.ts';
import { specialize } from '../gpu/specialize.ts';
import { bindGroup, modelPipeline, WEIGHT_SNIPPETS, type BoundKernel, type WeightDtype } from './boundKernel.ts';
import linearWgsl from './linear.wgsl?raw';
import reduceSubgroupWgsl from './linear_reduce_subgroup.wgsl?raw';
import reduceWorkgroupWgsl from './linear_reduce_workgroup.wgsl?raw';

/** How the decode GEMV splits its work: invocations per workgroup, output rows per workgroup, octs per batch. */
export interface LinearSchedule {
  workgroup: number;
  rows: number;
  /** 16-byte loads per weight row an invocation issues together (the unrolled batch). */
  batchSteps: number;
}

/**
 * The schedule for a shape. A GPU wants megabytes of loads in flight (tens of thousands of invocations, several
 * independent 16-byte loads each); which split gets there differs by shape, so these are the fastest of
 * `bench/linear.ts` on the H200 (BENCHMARKS.md), by the shape's kind. A CPU adapter wants few workgroups, since each
 * costs it a context switch per barrier, and no unrolling, which only lengthens its compile.
 */
export function linearSchedule(b: { outFeatures: number; inFeatures: number; gated?: boolean }, cpuAdapter: boolean): LinearSchedule {
  if (cpuAdapter) return { workgroup: 64, rows: 16, batchSteps: 1 };
  // Gate and up: two rows per output, so fewer per workgroup.
  if (b.gated) return { workgroup: 64, rows: 4, batchSteps: 1 };
  // Long rows (the down projection): fewer rows, more loads per row in flight.
  if (b.inFeatures >= 8192) return { workgroup: 128, rows: 2, batchSteps: 4 };
  // Many rows (the LM head): wide workgroups over many rows each.
  if (b.outFeatures >= 65536) return { workgroup: 256, rows: 8, batchSteps: 1 };
  return { workgroup: 128, rows: 4, batchSteps: 2 };
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
  /** Overrides `linearSchedule` (benchmarks compare schedules). */
  schedule?: LinearSchedule;
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
  const { workgroup, rows, batchSteps } = schedule;
  const matrices = b.gated ? 2 : 1;
  // Subgroup sums need every subgroup inside the workgroup; a workgroup reduction serves any other adapter.
  const subgroups = features.subgroups && features.subgroupMinSize > 0 && features.subgroupMaxSize <= workgroup;
  const flags = `${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}${b.gated ? '/gated' : ''}${b.norm ? `/norm${b.norm.eps}` : ''}`;
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
    },
    { SUMS: rows * matrices + 1, REDUCED: rows * matrices + (b.norm ? 1 : 0), BATCH_STEPS: batchSteps, MATRICES: matrices, ROWS: rows },
  );
  const rowGroups = Math.ceil(b.outFeatures / rows);
  if (rowGroups > context.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`${b.label}: ${b.outFeatures} rows in groups of ${rows} need ${rowGroups} workgroups, beyond the adapter's ${context.limits.maxComputeWorkgroupsPerDimension}`);
  }
  return {
    label: b.label,
    pipeline,
    // Without a norm, x stands in for its weight, never read.
    bindGroup: bindGroup(device, b.label, pipeline, [...linearBuffers(b), b.norm?.weight ?? b.x]),
    grid: (step) => [rowGroups, b.lastRowOnly ? 1 : step.tokenCount],
  };
}
