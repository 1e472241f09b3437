import { bindGroup, modelPipeline, shapeUniform, WEIGHT_SNIPPETS, type BoundKernel, type WeightDtype } from './boundKernel.ts';
import linearWgsl from './linear.wgsl?raw';
import reduceSubgroupWgsl from './linear_reduce_subgroup.wgsl?raw';
import reduceWorkgroupWgsl from './linear_reduce_workgroup.wgsl?raw';

/**
 * Output rows per workgroup. A GPU wants many workgroups in flight (at least ~512 for a GEMV to stream at full
 * bandwidth); a CPU adapter wants few, since each workgroup costs it a context switch per barrier.
 */
export function linearRowsPerWorkgroup(outFeatures: number, cpuAdapter: boolean): number {
  if (cpuAdapter) return 16;
  for (const rows of [16, 8]) if (outFeatures / rows >= 512) return rows;
  return 4;
}

export interface LinearBinding {
  label: string;
  inFeatures: number;
  outFeatures: number;
  weightDtype: WeightDtype;
  weights: GPUBuffer;
  bias?: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  step: GPUBuffer;
  /** y += x·Wᵀ (a fused residual add) instead of y = x·Wᵀ. */
  accumulate?: boolean;
  /** One row only: the LM head, over the last token normalised into row 0. */
  lastRowOnly?: boolean;
  /** Tokens per workgroup: 1 for decode (a GEMV), more for prefill (W read once per group of tokens). */
  tokensPerWorkgroup: number;
  /** Reduce with subgroup operations (when the device has them). */
  subgroups: boolean;
  rowsPerWorkgroup: number;
}

export function bindLinear(device: GPUDevice, b: LinearBinding): BoundKernel {
  if (b.inFeatures % 8 !== 0) throw new Error(`${b.label}: input features ${b.inFeatures} must be a multiple of 8`);
  const tokens = b.tokensPerWorkgroup;
  const rows = b.rowsPerWorkgroup;
  const key = `linear/${b.weightDtype}/r${rows}/t${tokens}${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}/${b.subgroups ? 'sg' : 'wg'}`;
  const { code, pipeline } = modelPipeline(device, key, linearWgsl, {
    ENABLE: b.subgroups ? 'enable subgroups;' : '',
    REDUCE: b.subgroups ? reduceSubgroupWgsl : reduceWorkgroupWgsl,
    SUBGROUP_BUILTINS: b.subgroups ? '@builtin(subgroup_invocation_id) subgroupLane: u32, @builtin(subgroup_size) subgroupSize: u32,' : '',
    SUBGROUP_ARGS: b.subgroups ? ', subgroupLane, subgroupSize' : '',
    ROWS: rows,
    TOKENS: tokens,
    HAS_BIAS: b.bias ? 'true' : 'false',
    ACCUMULATE: b.accumulate ? 'true' : 'false',
    WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
  });
  const shape = shapeUniform(device, code, b.label, {
    inFeatures: b.inFeatures,
    outFeatures: b.outFeatures,
    lastRowOnly: b.lastRowOnly ? 1 : 0,
  });
  // Without a bias the binding still needs a buffer: the weights stand in, never read.
  const buffers = [shape, b.step, b.x, b.weights, b.bias ?? b.weights, b.y];
  const rowGroups = Math.ceil(b.outFeatures / rows);
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, buffers),
    grid: (step) => [rowGroups, b.lastRowOnly ? 1 : Math.ceil(step.tokenCount / tokens)],
  };
}
