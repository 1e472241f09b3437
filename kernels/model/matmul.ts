import { bindGroup, modelPipeline, shapeUniform, WEIGHT_SNIPPETS, type BoundKernel } from './boundKernel.ts';
import { checkLinearShape, linearBuffers, type LinearIo } from './linear.ts';
import matmulWgsl from './matmul.wgsl?raw';

/** The output block per workgroup (multiples of 4; TILE_ROWS / 4 × TILE_TOKENS / 4 invocations). */
const TILE_ROWS = 64;
const TILE_TOKENS = 32;

export interface MatmulBinding extends LinearIo {
  /** The step uniform: its token count is the number of rows of x. */
  step: GPUBuffer;
}

/** The prefill linear layer (a GEMM over the chunk's tokens): W is read once per TILE_TOKENS tokens. */
export function bindMatmul(device: GPUDevice, b: MatmulBinding): BoundKernel {
  checkLinearShape(b);
  const key = `matmul/${b.weightDtype}${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}`;
  const { code, pipeline } = modelPipeline(device, key, matmulWgsl, {
    TILE_ROWS,
    TILE_TOKENS,
    HAS_BIAS: b.bias ? 'true' : 'false',
    ACCUMULATE: b.accumulate ? 'true' : 'false',
    WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
  });
  const shape = shapeUniform(device, code, b.label, { inFeatures: b.inFeatures, outFeatures: b.outFeatures });
  const rowTiles = Math.ceil(b.outFeatures / TILE_ROWS);
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [shape, b.step, ...linearBuffers(b)]),
    grid: (step) => [rowTiles, Math.ceil(step.tokenCount / TILE_TOKENS)],
  };
}
