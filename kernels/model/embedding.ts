import { bindGroup, modelPipeline, shapeUniform, WEIGHT_SNIPPETS, type BoundKernel, type WeightDtype } from './boundKernel.ts';
import embeddingWgsl from './embedding.wgsl?raw';

export function bindEmbedding(
  device: GPUDevice,
  b: { features: number; weightDtype: WeightDtype; step: GPUBuffer; tokens: GPUBuffer; weights: GPUBuffer; hidden: GPUBuffer },
): BoundKernel {
  const { code, pipeline } = modelPipeline(device, `embedding/${b.weightDtype}`, embeddingWgsl, {
    WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
  });
  const shape = shapeUniform(device, code, 'embedding', { features: b.features });
  return {
    label: 'embedding',
    pipeline,
    bindGroup: bindGroup(device, 'embedding', pipeline, [shape, b.step, b.tokens, b.weights, b.hidden]),
    grid: (step) => [step.tokenCount],
  };
}
