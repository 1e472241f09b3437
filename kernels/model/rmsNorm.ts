import { bindGroup, modelPipeline, shapeUniform, type BoundKernel } from './boundKernel.ts';
import rmsNormWgsl from './rms_norm.wgsl?raw';

export function bindRmsNorm(
  device: GPUDevice,
  b: { label: string; features: number; eps: number; step: GPUBuffer; x: GPUBuffer; weight: GPUBuffer; y: GPUBuffer; lastRowOnly?: boolean },
): BoundKernel {
  const { code, pipeline } = modelPipeline(device, 'rms_norm', rmsNormWgsl);
  const shape = shapeUniform(device, code, b.label, { features: b.features, eps: b.eps, lastRowOnly: b.lastRowOnly ? 1 : 0 });
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [shape, b.step, b.x, b.weight, b.y]),
    grid: (step) => [b.lastRowOnly ? 1 : step.tokenCount],
  };
}
