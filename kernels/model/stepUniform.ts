import { createUniformBuffer } from '../gpu/buffers.ts';
import { uniformView } from '../gpu/uniforms.ts';
import stepWgsl from './step.wgsl?raw';

export interface StepValues {
  tokenCount: number;
  position: number;
  pageTableOffset: number;
  lastRow: number;
}

/** The Step uniform every model kernel reads: one buffer, rewritten before each forward call. */
export class StepUniform {
  readonly buffer: GPUBuffer;
  private readonly view = uniformView(`${stepWgsl}\n@group(0) @binding(0) var<uniform> step: Step;`, 'step');
  private readonly bytes: Uint8Array<ArrayBuffer>;

  constructor(private readonly device: GPUDevice) {
    this.buffer = createUniformBuffer(device, 'step', this.view.arrayBuffer.byteLength);
    this.bytes = new Uint8Array(this.view.arrayBuffer as ArrayBuffer);
  }

  write(values: StepValues): void {
    this.view.set(values);
    this.device.queue.writeBuffer(this.buffer, 0, this.bytes);
  }
}
