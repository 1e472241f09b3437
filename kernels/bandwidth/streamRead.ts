import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer, createUniformBuffer, largestStorageBinding, writeBuffer } from '../gpu/buffers.ts';
import { specialize } from '../gpu/specialize.ts';
import { uniformView } from '../gpu/uniforms.ts';
import { unrollLoops } from '../gpu/unroll.ts';
import streamReadWgsl from './stream_read.wgsl?raw';

/**
 * Invocations per workgroup: 256 on a GPU; 16 on a CPU adapter (SwiftShader), which runs a workgroup's invocations in
 * turn, switching at each barrier of the final reduction (as the sampler does: samplerWorkgroup).
 */
export function streamReadWorkgroup(cpuAdapter: boolean): number {
  return cpuAdapter ? 16 : 256;
}

/**
 * The streaming-read kernel bound to one source buffer, one grid size, one workgroup size (a power of two) and the
 * loads each invocation issues before using the first.
 */
export class StreamRead {
  readonly sums: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;

  constructor(
    device: GPUDevice,
    source: GPUBuffer,
    readonly byteLength: number,
    readonly grid: number,
    readonly workgroup: number,
    readonly loads = 1,
  ) {
    if (byteLength % 16 !== 0) throw new Error(`stream read length ${byteLength} is not a multiple of 16 bytes`);
    const code = unrollLoops(specialize(streamReadWgsl, { LOADS: loads }), { LOADS: loads });
    const params = uniformView(code, 'params');
    params.set({ vec4Count: byteLength / 16 });
    this.params = createUniformBuffer(device, 'stream-read params', params.arrayBuffer.byteLength);
    writeBuffer(device, this.params, new Uint8Array(params.arrayBuffer));
    this.sums = createStorageBuffer(device, 'stream-read sums', grid * 4);
    this.pipeline = device.createComputePipeline({
      label: `stream_read/l${loads}`,
      layout: 'auto',
      compute: {
        module: device.createShaderModule({ label: 'stream_read.wgsl', code }),
        entryPoint: 'main',
        constants: { WORKGROUP_SIZE: workgroup },
      },
    });
    this.bindGroup = device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: source, size: byteLength } },
        { binding: 2, resource: { buffer: this.sums } },
      ],
    });
  }

  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(this.grid);
  }

  /** Destroys the kernel's own buffers (the source is the caller's). */
  destroy(): void {
    this.params.destroy();
    this.sums.destroy();
  }
}

/** What a cache eviction reads on a GPU: over twice the H200's 50 MB of L2, and the default binding limit. */
export const CACHE_EVICTION_BYTES = 128 * 1024 ** 2;

/** A read that leaves none of what came before it in the caches, recorded into a pass before a timed call. */
export interface CacheEviction {
  encode(pass: GPUComputePassEncoder): void;
  destroy(): void;
}

/**
 * A streaming read of `bytes` (whole 16-byte words, at most one binding) over a buffer of its own: what a model's
 * projections do between two layers' attention, streaming their weights through the caches.
 */
export function createCacheEviction(context: GpuContext, bytes = CACHE_EVICTION_BYTES): CacheEviction {
  const limit = largestStorageBinding(context.limits);
  if (!(bytes >= 16 && bytes % 16 === 0 && bytes <= limit)) {
    throw new Error(`a cache eviction reads whole 16-byte words, 16 bytes up to this device's largest binding (${limit} bytes): got ${bytes}`);
  }
  const source = createStorageBuffer(context.device, 'cache eviction', bytes);
  const cpu = context.adapter.isCpu;
  const read = new StreamRead(context.device, source, bytes, cpu ? 64 : 2048, streamReadWorkgroup(cpu));
  return {
    encode: (pass) => read.encode(pass),
    destroy() {
      read.destroy();
      source.destroy();
    },
  };
}
