import { bindGroup, modelPipeline, shapeUniform, type BoundKernel } from './boundKernel.ts';
import siluMulWgsl from './silu_mul.wgsl?raw';

export function bindSiluMul(
  device: GPUDevice,
  b: { label: string; features: number; gateUp: GPUBuffer; activated: GPUBuffer },
): BoundKernel {
  const { code, pipeline } = modelPipeline(device, 'silu_mul', siluMulWgsl);
  const shape = shapeUniform(device, code, b.label, { features: b.features });
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [shape, b.gateUp, b.activated]),
    grid: (step) => [Math.ceil(b.features / 256), step.tokenCount],
  };
}
