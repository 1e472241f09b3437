import { PassTimer } from '../kernels/gpu/timing.ts';

/**
 * What steps in flight leave for the host to read, one slot per step: a staging buffer for the sampled token and,
 * with timestamps, the step's timer. A step may reuse a slot only once the host has read (and unmapped) what the
 * slot's previous step left there: mapping a buffer that a later submission still writes is a validation error,
 * and its value would be the later step's.
 */
export class ReadbackRing {
  private readonly tokens: GPUBuffer[] = [];
  private readonly timers: PassTimer[] = [];

  constructor(
    device: GPUDevice,
    readonly slots: number,
    /** Timed passes per step (the step, then each section); 0 without timestamps. */
    timedPasses: number,
  ) {
    for (let i = 0; i < slots; i++) {
      this.tokens.push(device.createBuffer({ label: `sampled readback ${i}`, size: 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }));
      if (timedPasses > 0) this.timers.push(new PassTimer(device, timedPasses));
    }
  }

  /** The timer of slot `slot` (undefined without timestamps). */
  timer(slot: number): PassTimer | undefined {
    return this.timers[slot];
  }

  /** Records the copy of the sampled token into slot `slot`. */
  copySampled(encoder: GPUCommandEncoder, sampled: GPUBuffer, slot: number): void {
    encoder.copyBufferToBuffer(sampled, 0, this.tokens[slot], 0, 4);
  }

  async readToken(slot: number): Promise<number> {
    const staging = this.tokens[slot];
    await staging.mapAsync(GPUMapMode.READ);
    const token = new Uint32Array(staging.getMappedRange())[0];
    staging.unmap();
    return token;
  }

  /** Milliseconds of the first `passes` timed passes of the step that used slot `slot`. */
  async readTimes(slot: number, passes: number): Promise<number[]> {
    return this.timers[slot].read(passes);
  }

  destroy(): void {
    for (const buffer of this.tokens) buffer.destroy();
    for (const timer of this.timers) timer.destroy();
  }
}
