import type { GpuContext } from './context.ts';

/**
 * GPU time of compute passes. With `timestamp-query`, each pass writes a begin/end timestamp pair into a query
 * set and the durations are exact GPU time; without it, callers fall back to wall-clock time around
 * `onSubmittedWorkDone` (see `timeSubmissions`).
 */
export class PassTimer {
  readonly capacity: number;
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readBuffer: GPUBuffer;

  constructor(
    device: GPUDevice,
    capacity: number,
  ) {
    this.capacity = capacity;
    this.querySet = device.createQuerySet({ label: 'pass timestamps', type: 'timestamp', count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({
      label: 'pass timestamps resolve',
      size: 16 * capacity,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.readBuffer = device.createBuffer({
      label: 'pass timestamps read',
      size: 16 * capacity,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
  }

  static create(context: GpuContext, capacity: number): PassTimer | undefined {
    return context.features.timestampQuery ? new PassTimer(context.device, capacity) : undefined;
  }

  /** Timestamp writes for the pass measured in slot `slot`. */
  writes(slot: number): GPUComputePassTimestampWrites {
    if (slot >= this.capacity) throw new Error(`timer slot ${slot} is beyond its capacity of ${this.capacity}`);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 };
  }

  /** Timestamp write at the start of a pass only (slot's first index). */
  beginOnly(slot: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * slot };
  }

  /** Timestamp write at the end of a pass only (slot's second index). */
  endOnly(slot: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, endOfPassWriteIndex: 2 * slot + 1 };
  }

  /** Copies the first `slots` timestamp pairs out; call after the measured passes, in the same encoder. */
  resolve(encoder: GPUCommandEncoder, slots: number): void {
    encoder.resolveQuerySet(this.querySet, 0, 2 * slots, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, 16 * slots);
  }

  /** Durations in milliseconds of the first `slots` passes, once the submission that resolved them is done. */
  async read(slots: number): Promise<number[]> {
    await this.readBuffer.mapAsync(GPUMapMode.READ, 0, 16 * slots);
    const stamps = new BigUint64Array(this.readBuffer.getMappedRange(0, 16 * slots));
    const durations: number[] = [];
    for (let i = 0; i < slots; i++) durations.push(Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6);
    this.readBuffer.unmap();
    return durations;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.readBuffer.destroy();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface Measurement {
  /** Median milliseconds per run. */
  ms: number;
  method: 'timestamp-query' | 'wall-clock';
}

/**
 * How long a measurement keeps the GPU busy before timing: a GPU left idle (between benchmark rows, while pipelines
 * compile) drops its clocks, and they take milliseconds to climb back. Timing 20 runs of a 20 µs kernel right away
 * measured half-speed clocks on the H200: the same kernel read 2x slower after the host paused than before.
 */
export const WARM_UP_MS = 50;

/**
 * Median GPU time of `encodeRun` over `repeats` runs, after warm-up runs that keep the GPU busy for `warmUpMs`
 * (one run where a run alone lasts that long, as on a CPU adapter). With timestamps, every run is its own timed
 * pass; without, each run is its own submission timed by wall clock to `onSubmittedWorkDone`. `beforeRun` records
 * work ahead of every run in a pass of its own, outside the timestamps (a wall-clock measurement counts it): a
 * benchmark's cache eviction, as a model's other kernels evict the caches between two layers' attention.
 */
export async function measurePasses(
  context: GpuContext,
  repeats: number,
  encodeRun: (pass: GPUComputePassEncoder) => void,
  warmUpMs = WARM_UP_MS,
  beforeRun?: (pass: GPUComputePassEncoder) => void,
): Promise<Measurement> {
  const { device } = context;
  const run = (timestampWrites?: GPUComputePassTimestampWrites) => {
    const encoder = device.createCommandEncoder();
    if (beforeRun) {
      const before = encoder.beginComputePass();
      beforeRun(before);
      before.end();
    }
    const pass = encoder.beginComputePass({ timestampWrites });
    encodeRun(pass);
    pass.end();
    return encoder;
  };
  const warmUpStart = performance.now();
  for (let batch = 1; ; batch = Math.min(2 * batch, 256)) {
    device.queue.submit(Array.from({ length: batch }, () => run().finish()));
    await device.queue.onSubmittedWorkDone();
    if (performance.now() - warmUpStart >= warmUpMs) break;
  }

  const timer = PassTimer.create(context, repeats);
  if (timer) {
    const encoders: GPUCommandBuffer[] = [];
    for (let i = 0; i < repeats; i++) {
      const encoder = run(timer.writes(i));
      if (i === repeats - 1) timer.resolve(encoder, repeats);
      encoders.push(encoder.finish());
    }
    device.queue.submit(encoders);
    const durations = await timer.read(repeats);
    timer.destroy();
    return { ms: median(durations), method: 'timestamp-query' };
  }
  const durations: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    device.queue.submit([run().finish()]);
    await device.queue.onSubmittedWorkDone();
    durations.push(performance.now() - start);
  }
  return { ms: median(durations), method: 'wall-clock' };
}
