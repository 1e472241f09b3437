import { createUniformBuffer, writeBuffer } from '../gpu/buffers.ts';
import { cachedComputePipeline } from '../gpu/pipelineCache.ts';
import { specialize } from '../gpu/specialize.ts';
import { unrollLoops } from '../gpu/unroll.ts';
import { uniformView } from '../gpu/uniforms.ts';
import stepWgsl from './step.wgsl?raw';
import weightsBf16Wgsl from './weights_bf16.wgsl?raw';
import weightsF16Wgsl from './weights_f16.wgsl?raw';
import weightsF32Wgsl from './weights_f32.wgsl?raw';

export type WeightDtype = 'f32' | 'f16' | 'bf16';

export const WEIGHT_SNIPPETS: Record<WeightDtype, string> = { f32: weightsF32Wgsl, f16: weightsF16Wgsl, bf16: weightsBf16Wgsl };

/** Tokens in a forward call: sizes the grid of kernels that scale with it. */
export interface StepShape {
  tokenCount: number;
}

/** A kernel bound to its buffers once (at load); each forward call only dispatches it. */
export interface BoundKernel {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid(step: StepShape): [number, number?, number?];
}

export function dispatch(pass: GPUComputePassEncoder, kernel: BoundKernel, step: StepShape): void {
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, kernel.bindGroup);
  const [x, y, z] = kernel.grid(step);
  pass.dispatchWorkgroups(x, y ?? 1, z ?? 1);
}

/**
 * Specializes a model kernel template and compiles it once per device. A template with a {{STEP}} placeholder gets
 * the shared Step struct there (the per-call uniform); kernels that never read it leave it out. Loops marked
 * `// unroll` are unrolled over the bounds in `unroll` (unroll.ts).
 */
export function modelPipeline(
  device: GPUDevice,
  key: string,
  template: string,
  values: Record<string, string | number> = {},
  unroll: Record<string, number> = {},
) {
  const step: Record<string, string> = template.includes('{{STEP}}') ? { STEP: stepWgsl } : {};
  const code = unrollLoops(specialize(template, { ...step, ...values }), unroll);
  return { code, pipeline: cachedComputePipeline(device, key, code) };
}

/** The kernel's `shape` uniform, filled once from the WGSL struct's own layout. */
export function shapeUniform(device: GPUDevice, code: string, label: string, values: Record<string, number>): GPUBuffer {
  const view = uniformView(code, 'shape');
  view.set(values);
  const buffer = createUniformBuffer(device, `${label} shape`, view.arrayBuffer.byteLength);
  writeBuffer(device, buffer, new Uint8Array(view.arrayBuffer));
  return buffer;
}

export function bindGroup(device: GPUDevice, label: string, pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}
