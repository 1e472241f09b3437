import { mean } from '../kernels/gpu/timing.ts';
import type { StepTiming } from './model.ts';
import type { ProfilingMode, TimingLevel } from './stepRecorder.ts';

/** Steps timed per layer, each beside a whole one, before estimateTimestampCost says anything. */
export const MIN_PAIRS = 3;

/**
 * What timing each layer's attention by GPU timestamps costs its figure. Each layer's attention is timed in a compute
 * pass of its own, and a timestamp slows the GPU work that follows it: on the H200 an attention call reads 6–11 µs
 * more right after a stamp (a begin stamp, or the end stamp of the pass before) than among untimed calls, while pass
 * boundaries without stamps cost nothing (`bench:attention --pass-timing`, BENCHMARKS.md). A layer's timed pass has
 * two stamps, one ahead of its attention and one ahead of the layer's next kernels, so each layer's figure carries
 * half of what a layer's stamps add to the step: the mean of (step timed per layer − the step before it, timed
 * whole) / (2 · layers) over the steps given. On the H200's 1B and 8B shapes, attention less this (the median step's
 * then, now each layer's mean) came within 0.6–15% of what taking attention out of the step saves, where the figures
 * as timed were 13–104% over it.
 * Undefined where fewer than MIN_PAIRS steps have a whole step beside them, where the difference is within twice its
 * standard error of 0, or where it reaches one of `layerFiguresMs`, the figures it is to come off (each is its
 * attention plus the cost, so a cost that large is noise, and taking it off would read 0 or less): steps that vary
 * more than the stamps cost (a CPU adapter's) leave the figures as timed.
 */
export function estimateTimestampCost(steps: readonly StepTiming[], layerFiguresMs: readonly number[]): number | undefined {
  const pairs = steps.flatMap((t) => (t.wholeStepMs === undefined || t.attentionMs.length === 0 ? [] : [(t.stepMs - t.wholeStepMs) / (2 * t.attentionMs.length)]));
  if (pairs.length < MIN_PAIRS) return undefined;
  const meanCost = mean(pairs);
  const variance = pairs.reduce((sum, cost) => sum + (cost - meanCost) ** 2, 0) / (pairs.length - 1);
  return meanCost > 2 * Math.sqrt(variance / pairs.length) && meanCost < Math.min(...layerFiguresMs) ? meanCost : undefined;
}

/**
 * Figures less what their timestamps cost each, where the cost is below every one of them; as timed otherwise: each
 * figure is its attention plus the cost, so a cost that reaches one of them is noise there and would read 0 or less.
 */
export function lessTimestampCost(figuresMs: readonly number[], costMs: number | undefined): number[] {
  return costMs !== undefined && costMs < Math.min(...figuresMs) ? figuresMs.map((ms) => ms - costMs) : [...figuresMs];
}

/** Each layer's mean figure over steps timed per layer (at least one: a mean over none has no layers to name). */
export function meanLayerFigures(steps: readonly StepTiming[]): number[] {
  if (steps.length === 0) {
    throw new Error('meanLayerFigures: no step timed per layer to average; time at least one step with per-layer timing first');
  }
  return steps[0].attentionMs.map((_, layer) => mean(steps.map((timing) => timing.attentionMs[layer])));
}

/**
 * Attention over all layers of steps timed per layer (the sum of each layer's mean figure), less what their
 * timestamps cost it, and that cost a layer (estimateTimestampCost; 0 where it says nothing).
 */
export function attentionLessTimestampCost(steps: readonly StepTiming[]): { attentionMs: number; timestampCostMs: number } {
  const layerFiguresMs = meanLayerFigures(steps);
  const timestampCostMs = estimateTimestampCost(steps, layerFiguresMs) ?? 0;
  const attentionMs = lessTimestampCost(layerFiguresMs, timestampCostMs).reduce((a, b) => a + b, 0);
  return { attentionMs, timestampCostMs };
}

/**
 * The timing level of each step of a decode loop, and the timing its token carries. Per-layer timing by timestamps
 * alternates a step timed whole with a step timed per layer, which carries the whole step's time beside its own
 * (`wholeStepMs`, for estimateTimestampCost): every other token carries a timing, the first none. Other levels, and
 * per-layer timing by the CPU clock (each section submitted alone, no stamps), time every step as asked.
 */
export class DecodeTimings {
  private wholeStepMs: number | undefined;
  private readonly alternates: boolean;

  constructor(
    private readonly requested: TimingLevel,
    profiling: ProfilingMode,
  ) {
    this.alternates = requested === 'sections' && profiling === 'timestamps';
  }

  /** The level step `index` (0 for the loop's first) is timed at. */
  level(index: number): TimingLevel {
    if (!this.alternates) return this.requested;
    return index % 2 === 0 ? 'step' : 'sections';
  }

  /** What step `index`'s token carries, from what the step measured at its level; steps are taken in order. */
  take(index: number, measured: StepTiming | undefined): StepTiming | undefined {
    if (!this.alternates || !measured) return measured;
    if (this.level(index) === 'step') {
      this.wholeStepMs = measured.stepMs;
      return undefined;
    }
    return { ...measured, wholeStepMs: this.wholeStepMs };
  }
}
