import { bindGroup, modelPipeline, shapeUniform, WEIGHT_SNIPPETS, type BoundKernel, type WeightDtype } from './boundKernel.ts';
import linearWgsl from './linear.wgsl?raw';

export const LINEAR_ROWS = 4;

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
}

export function bindLinear(device: GPUDevice, b: LinearBinding): BoundKernel {
  if (b.inFeatures % 8 !== 0) throw new Error(`${b.label}: input features ${b.inFeatures} must be a multiple of 8`);
  const tokens = b.tokensPerWorkgroup;
  const key = `linear/${b.weightDtype}/r${LINEAR_ROWS}/t${tokens}${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}`;
  const { code, pipeline } = modelPipeline(device, key, linearWgsl, {
    ENABLE: '',
    ROWS: LINEAR_ROWS,
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
  const rowGroups = Math.ceil(b.outFeatures / LINEAR_ROWS);
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, buffers),
    grid: (step) => [rowGroups, b.lastRowOnly ? 1 : Math.ceil(step.tokenCount / tokens)],
  };
}
