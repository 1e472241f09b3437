import type { PassTimer } from '../kernels/gpu/timing.ts';

export type ProfilingMode = 'off' | 'timestamps' | 'cpu';

/**
 * What one call times: nothing, the whole call, or the whole call and each section (each section then runs in a
 * pass of its own, which costs a little: calls that only need the step time, or none, run in one pass).
 */
export type TimingLevel = 'none' | 'step' | 'sections';

/**
 * Records one forward call into compute passes. Most kernels share one pass; a timed section (each layer's
 * attention) gets a pass of its own. With `timestamps`, the timer's slot 0 spans the whole call and slot s the
 * section s; with `cpu` (adapters without timestamp-query), each timed section is submitted alone and timed by
 * the wall clock to `onSubmittedWorkDone`: slower, but it measures the same thing. `beforeSubmit` runs right before
 * each submission (it writes the call's uniforms: a call recorded ahead must not change what the calls submitted
 * before it read).
 */
export class StepRecorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  private started = false;
  private readonly cpuMs: number[] = [];
  private readonly cpuStart: number;

  private readonly mode: ProfilingMode;

  constructor(
    private readonly device: GPUDevice,
    mode: ProfilingMode,
    private readonly level: TimingLevel,
    private readonly timer: PassTimer | undefined,
    label: string,
    private readonly beforeSubmit: () => void,
  ) {
    this.mode = callMode(mode, level);
    this.encoder = device.createCommandEncoder({ label });
    this.cpuStart = performance.now();
  }

  /** The current untimed pass (the first one opened also stamps the start of the call). */
  compute(): GPUComputePassEncoder {
    if (!this.pass) {
      const timestampWrites = this.mode === 'timestamps' && !this.started ? this.timer!.beginOnly(0) : undefined;
      this.pass = this.encoder.beginComputePass({ timestampWrites });
      this.started = true;
    }
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  async timed(slot: number, record: (pass: GPUComputePassEncoder) => void): Promise<void> {
    if (this.mode === 'off' || this.level !== 'sections') {
      record(this.compute());
      return;
    }
    this.closePass();
    if (this.mode === 'timestamps') {
      const pass = this.encoder.beginComputePass({ timestampWrites: this.timer!.writes(slot) });
      record(pass);
      pass.end();
      return;
    }
    this.beforeSubmit();
    this.device.queue.submit([this.encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    const start = performance.now();
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    this.cpuMs[slot] = performance.now() - start;
    this.encoder = this.device.createCommandEncoder();
  }

  /**
   * Ends the recording; `after` adds copies (readbacks) to the same command buffer. Returns what submits it, which
   * resolves to CPU timings.
   */
  finish(after?: (encoder: GPUCommandEncoder) => void, timedSlots = 0): () => Promise<number[] | undefined> {
    this.closePass();
    if (this.mode === 'timestamps') {
      this.encoder.beginComputePass({ timestampWrites: this.timer!.endOnly(0) }).end();
      this.timer!.resolve(this.encoder, timedSlots);
    }
    after?.(this.encoder);
    const commands = this.encoder.finish();
    return async () => {
      this.beforeSubmit();
      this.device.queue.submit([commands]);
      if (this.mode !== 'cpu') return undefined;
      await this.device.queue.onSubmittedWorkDone();
      this.cpuMs[0] = performance.now() - this.cpuStart;
      return this.cpuMs;
    };
  }
}

/** The profiling of a call timed at `level`: none when it is not timed. */
function callMode(mode: ProfilingMode, level: TimingLevel): ProfilingMode {
  return level === 'none' ? 'off' : mode;
}

/**
 * Whether a call may be recorded before it is submitted: a CPU-timed one submits its timed sections as it records
 * them and is timed from its recording.
 */
export function mayRecordAhead(mode: ProfilingMode, level: TimingLevel): boolean {
  return callMode(mode, level) !== 'cpu';
}
