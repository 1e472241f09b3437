import { createStorageBuffer, createUniformBuffer, writeBuffer } from '../gpu/buffers.ts';
import { uniformView } from '../gpu/uniforms.ts';
import streamReadWgsl from './stream_read.wgsl?raw';

export const STREAM_READ_WORKGROUP_SIZE = 256;

/** The streaming-read kernel bound to one source buffer and one grid size. */
export class StreamRead {
  readonly sums: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;

  constructor(
    device: GPUDevice,
    source: GPUBuffer,
    readonly byteLength: number,
    readonly grid: number,
  ) {
    if (byteLength % 16 !== 0) throw new Error(`stream read length ${byteLength} is not a multiple of 16 bytes`);
    const params = uniformView(streamReadWgsl, 'params');
    params.set({ vec4Count: byteLength / 16 });
    const paramsBuffer = createUniformBuffer(device, 'stream-read params', params.arrayBuffer.byteLength);
    writeBuffer(device, paramsBuffer, new Uint8Array(params.arrayBuffer));
    this.sums = createStorageBuffer(device, 'stream-read sums', grid * 4);
    this.pipeline = device.createComputePipeline({
      label: 'stream_read',
      layout: 'auto',
      compute: {
        module: device.createShaderModule({ label: 'stream_read.wgsl', code: streamReadWgsl }),
        entryPoint: 'main',
        constants: { WORKGROUP_SIZE: STREAM_READ_WORKGROUP_SIZE },
      },
    });
    this.bindGroup = device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: paramsBuffer } },
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
}
