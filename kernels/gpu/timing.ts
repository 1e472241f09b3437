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

  /**
   * Timestamp write at the end of a pass into slot's first index: the slot then spans from that pass's end to the end
   * of a later one (`endOnly`), two end stamps and no begin stamp.
   */
  endAsBegin(slot: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, endOfPassWriteIndex: 2 * slot };
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
    return passDurationsMs(await this.stamps(slots));
  }

  /** The first `slots` passes' begin and end stamps in nanoseconds (begin of slot i at 2i, its end at 2i + 1). */
  async stamps(slots: number): Promise<bigint[]> {
    await this.readBuffer.mapAsync(GPUMapMode.READ, 0, 16 * slots);
    const stamps = [...new BigUint64Array(this.readBuffer.getMappedRange(0, 16 * slots))];
    this.readBuffer.unmap();
    return stamps;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.readBuffer.destroy();
  }
}

/** Each pass's duration in milliseconds from its begin and end stamps (PassTimer.stamps). */
function passDurationsMs(stamps: readonly bigint[]): number[] {
  return Array.from({ length: stamps.length / 2 }, (_, i) => Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6);
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
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
  /**
   * Timed passes in one submission only: the median time by which a pass's begin stamp came before the end stamp of
   * the pass before it (0 where it came after). Dawn writes a pass's begin stamp at the top of the pipe, before the
   * barrier that makes its first dispatch wait for the pass before, so a pass could be stamped as begun while the one
   * before it still runs; on the H200 it never was (BENCHMARKS.md, `bench:attention --pass-timing`).
   */
  overlapMs?: number;
}

export interface PassOptions {
  /** How long the GPU is kept busy before timing (WARM_UP_MS). */
  warmUpMs?: number;
  /**
   * Work recorded ahead of every run in a pass of its own, outside the timestamps (a wall-clock measurement counts
   * it): a benchmark's cache eviction, as a model's other kernels evict the caches between two layers' attention.
   */
  beforeRun?: (pass: GPUComputePassEncoder) => void;
  /**
   * Each timed run in a submission of its own, submitted once the one before is done, so that nothing else is on
   * the GPU when its begin stamp is written (the host's wait between runs leaves the GPU idle for a moment).
   */
  separateSubmissions?: boolean;
  /** Passes a run records `encodeRun` into, one after another; its begin stamp is in the first, its end in the last. */
  passes?: number;
  /**
   * With `beforeRun`: a run is timed from the end of the beforeRun pass to the end of its own, by two end stamps
   * and no begin stamp (PassTimer.endAsBegin).
   */
  fromBeforeRunEnd?: boolean;
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
 * pass (or `passes` of them); without, each run is its own submission timed by wall clock to `onSubmittedWorkDone`.
 */
export async function measurePasses(
  context: GpuContext,
  repeats: number,
  encodeRun: (pass: GPUComputePassEncoder) => void,
  options: PassOptions = {},
): Promise<Measurement> {
  const { durations, method, overlapMs } = await timeRuns(context, repeats, [encodeRun], options);
  return { ms: median(durations[0]), method, overlapMs };
}

/**
 * `repeats` runs of each of `encodeRuns`, taking turns (run i records encodeRuns[i % kinds]), so that a drift of the
 * GPU's clocks or state over the measurement falls on every kind alike: each run's milliseconds, by kind.
 */
async function timeRuns(
  context: GpuContext,
  repeats: number,
  encodeRuns: readonly ((pass: GPUComputePassEncoder) => void)[],
  { warmUpMs = WARM_UP_MS, beforeRun, separateSubmissions = false, passes = 1, fromBeforeRunEnd = false }: PassOptions,
): Promise<{ durations: number[][]; method: Measurement['method']; overlapMs?: number }> {
  const { device } = context;
  const kinds = encodeRuns.length;
  const runs = repeats * kinds;
  const byKind = (all: number[]) => encodeRuns.map((_, kind) => all.filter((_, i) => i % kinds === kind));
  /** Run i's encoder; with `timer`, its begin stamp is written in slot i, and its end. */
  const run = (i: number, timer?: PassTimer) => {
    const encodeRun = encodeRuns[i % kinds];
    const encoder = device.createCommandEncoder();
    const startsAtBefore = fromBeforeRunEnd && beforeRun !== undefined;
    if (beforeRun) {
      const before = encoder.beginComputePass({ timestampWrites: timer && startsAtBefore ? timer.endAsBegin(i) : undefined });
      beforeRun(before);
      before.end();
    }
    for (let p = 0; p < passes; p++) {
      const first = p === 0 && !startsAtBefore;
      const last = p === passes - 1;
      const timestampWrites = !timer ? undefined : first && last ? timer.writes(i) : first ? timer.beginOnly(i) : last ? timer.endOnly(i) : undefined;
      const pass = encoder.beginComputePass({ timestampWrites });
      encodeRun(pass);
      pass.end();
    }
    return encoder;
  };
  const warmUpStart = performance.now();
  for (let batch = 1; ; batch = Math.min(2 * batch, 256)) {
    device.queue.submit(Array.from({ length: batch * kinds }, (_, i) => run(i).finish()));
    await device.queue.onSubmittedWorkDone();
    if (performance.now() - warmUpStart >= warmUpMs) break;
  }

  const timer = PassTimer.create(context, runs);
  if (timer) {
    if (separateSubmissions) {
      for (let i = 0; i < runs; i++) {
        device.queue.submit([run(i, timer).finish()]);
        await device.queue.onSubmittedWorkDone();
      }
      const encoder = device.createCommandEncoder();
      timer.resolve(encoder, runs);
      device.queue.submit([encoder.finish()]);
      const durations = await timer.read(runs);
      timer.destroy();
      return { durations: byKind(durations), method: 'timestamp-query' };
    }
    const encoders: GPUCommandBuffer[] = [];
    for (let i = 0; i < runs; i++) {
      const encoder = run(i, timer);
      if (i === runs - 1) timer.resolve(encoder, runs);
      encoders.push(encoder.finish());
    }
    device.queue.submit(encoders);
    const stamps = await timer.stamps(runs);
    timer.destroy();
    // Run i began at stamp 2i and ended at 2i + 1; the run before it ended at 2i − 1.
    const overlaps = Array.from({ length: runs - 1 }, (_, i) => Math.max(0, Number(stamps[2 * i + 1] - stamps[2 * i + 2]) / 1e6));
    return { durations: byKind(passDurationsMs(stamps)), method: 'timestamp-query', overlapMs: overlaps.length ? median(overlaps) : 0 };
  }
  const durations: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    device.queue.submit([run(i).finish()]);
    await device.queue.onSubmittedWorkDone();
    durations.push(performance.now() - start);
  }
  return { durations: byKind(durations), method: 'wall-clock' };
}

/** Calls a run of `measureAmongOthers` records, each after the work that stands for the rest of a model's step. */
export const CALLS_AMONG_OTHERS = 8;

/**
 * What a call costs among other work, as a layer's attention costs inside a model's step: `calls` times `between`
 * then the call, in one timed pass, less the same pass without the calls, per call. A timestamp slows the work that
 * follows it (6–11 µs of a call on the H200: BENCHMARKS.md, `--pass-timing`); both passes pay that once, so it
 * cancels, where a call timed alone carries all of it. `between` is work such as a read that evicts the caches, so
 * that each call starts as it does after a model's projections. The two passes take turns, and the time is the median
 * of each pair's difference: a pass of long calls lasts milliseconds, and the GPU's pace drifts over a measurement by
 * more than a call's share of the difference.
 */
export async function measureAmongOthers(
  context: GpuContext,
  repeats: number,
  encodeCall: (pass: GPUComputePassEncoder) => void,
  between: (pass: GPUComputePassEncoder) => void,
  calls = CALLS_AMONG_OTHERS,
): Promise<Measurement> {
  const run = (withCalls: boolean) => (pass: GPUComputePassEncoder) => {
    for (let i = 0; i < calls; i++) {
      between(pass);
      if (withCalls) encodeCall(pass);
    }
  };
  const { durations, method } = await timeRuns(context, repeats, [run(true), run(false)], {});
  const [withCalls, without] = durations;
  return { ms: median(withCalls.map((ms, i) => ms - without[i])) / calls, method };
}
