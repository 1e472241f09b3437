import { createUniformBuffer, writeBuffer } from './buffers.ts';
import { cachedComputePipeline } from './pipelineCache.ts';
import { uniformView } from './uniforms.ts';
import fillRandomTemplate from './fill_random.wgsl?raw';
import pcgWgsl from './pcg.wgsl?raw';
import { specialize } from './specialize.ts';

const fillRandomWgsl = specialize(fillRandomTemplate, { PCG: pcgWgsl });

const WORKGROUP = 256;

/** Fills `target` (its first `words` u32 words) with pseudo-random f16 pairs or f32 values in [-1, 1). */
export function fillRandom(device: GPUDevice, target: GPUBuffer, words: number, format: 'f16' | 'f32', seed: number): void {
  const pipeline = cachedComputePipeline(device, 'fill_random', fillRandomWgsl);
  const maxPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const groups = Math.ceil(words / WORKGROUP);
  const x = Math.min(groups, maxPerDimension);
  const y = Math.ceil(groups / x);
  const params = uniformView(fillRandomWgsl, 'params');
  params.set({ words, seed, packedHalves: format === 'f16' ? 1 : 0, rowStride: x * WORKGROUP });
  const paramsBuffer = createUniformBuffer(device, 'fill params', params.arrayBuffer.byteLength);
  writeBuffer(device, paramsBuffer, new Uint8Array(params.arrayBuffer));
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: paramsBuffer } },
      { binding: 1, resource: { buffer: target } },
    ],
  });
  const encoder = device.createCommandEncoder({ label: 'fill random' });
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(x, y);
  pass.end();
  device.queue.submit([encoder.finish()]);
  device.queue.onSubmittedWorkDone().then(() => paramsBuffer.destroy());
}
