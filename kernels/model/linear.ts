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
  /** Reduce with subgroup operations (when the device has them). */
  subgroups: boolean;
  rowsPerWorkgroup: number;
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

/** The decode linear layer (a GEMV per token). */
export function bindLinear(device: GPUDevice, b: LinearBinding): BoundKernel {
  checkLinearShape(b);
  const rows = b.rowsPerWorkgroup;
  const key = `linear/${b.weightDtype}/r${rows}${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}/${b.subgroups ? 'sg' : 'wg'}`;
  const { code, pipeline } = modelPipeline(device, key, linearWgsl, {
    ENABLE: b.subgroups ? 'enable subgroups;' : '',
    REDUCE: b.subgroups ? reduceSubgroupWgsl : reduceWorkgroupWgsl,
    SUBGROUP_BUILTINS: b.subgroups ? '@builtin(subgroup_invocation_id) subgroupLane: u32, @builtin(subgroup_size) subgroupSize: u32,' : '',
    SUBGROUP_ARGS: b.subgroups ? ', subgroupLane, subgroupSize' : '',
    ROWS: rows,
    HAS_BIAS: b.bias ? 'true' : 'false',
    ACCUMULATE: b.accumulate ? 'true' : 'false',
    WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
  }, { ROWS: rows });
  const shape = shapeUniform(device, code, b.label, { inFeatures: b.inFeatures, outFeatures: b.outFeatures });
  const rowGroups = Math.ceil(b.outFeatures / rows);
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [shape, ...linearBuffers(b)]),
    grid: (step) => [rowGroups, b.lastRowOnly ? 1 : step.tokenCount],
  };
}
