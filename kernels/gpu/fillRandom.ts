import { createUniformBuffer, writeBuffer } from './buffers.ts';
import { cachedComputePipeline } from './pipelineCache.ts';
import { uniformView } from './uniforms.ts';
import fillRandomTemplate from './fill_random.wgsl?raw';
import pcgWgsl from './pcg.wgsl?raw';
import { specialize } from './specialize.ts';

const fillRandomWgsl = specialize(fillRandomTemplate, { PCG: pcgWgsl });

const WORKGROUP = 256;

/**
 * Fills `target` (its first `words` u32 words) with pseudo-random f16 pairs or f32 values in [-1, 1), the same values
 * every time for the same seed: encoded again into a pass, it rewrites them as a kernel would that computed them.
 */
export class RandomFill {
  private readonly pipeline: GPUComputePipeline;
  private readonly paramsBuffer: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private readonly groups: [number, number];

  constructor(device: GPUDevice, target: GPUBuffer, words: number, format: 'f16' | 'f32', seed: number) {
    this.pipeline = cachedComputePipeline(device, 'fill_random', fillRandomWgsl);
    const maxPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
    const groups = Math.ceil(words / WORKGROUP);
    const x = Math.min(groups, maxPerDimension);
    this.groups = [x, Math.ceil(groups / x)];
    const params = uniformView(fillRandomWgsl, 'params');
    params.set({ words, seed, packedHalves: format === 'f16' ? 1 : 0, rowStride: x * WORKGROUP });
    this.paramsBuffer = createUniformBuffer(device, 'fill params', params.arrayBuffer.byteLength);
    writeBuffer(device, this.paramsBuffer, new Uint8Array(params.arrayBuffer));
    this.bindGroup = device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.paramsBuffer } },
        { binding: 1, resource: { buffer: target } },
      ],
    });
  }

  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(...this.groups);
  }

  /** Fills now, in a submission of its own. */
  submit(device: GPUDevice): void {
    const encoder = device.createCommandEncoder({ label: 'fill random' });
    const pass = encoder.beginComputePass();
    this.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    this.paramsBuffer.destroy();
  }
}

/** Fills `target` once (RandomFill), in a submission of its own. */
export function fillRandom(device: GPUDevice, target: GPUBuffer, words: number, format: 'f16' | 'f32', seed: number): void {
  const fill = new RandomFill(device, target, words, format, seed);
  fill.submit(device);
  device.queue.onSubmittedWorkDone().then(() => fill.destroy());
}
