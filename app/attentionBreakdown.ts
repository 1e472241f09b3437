import { detectClockQuantum, type ClockResolution } from '../engine/clockQuantum.ts';
import type { StepTiming } from '../engine/model.ts';
import { estimateTimestampCost, lessTimestampCost, meanLayerFigures } from '../engine/timestampCost.ts';
import { mean } from '../kernels/gpu/timing.ts';

/** A decode step's GPU timing as the app keeps it over a conversation. */
export interface TimedStep {
  step: number;
  contextLength: number;
  timing: StepTiming;
}

/** Steps the figures are averaged over when the clock is quantized (the latest ones: context keeps growing). */
export const MEAN_WINDOW = 256;

/** What the attention panel shows: per-layer attention, the step and attention totals, and what they rest on. */
export interface AttentionBreakdown {
  /** `latest`: the latest step's figures; `mean`: means over the last `steps` steps. */
  basis: 'latest' | 'mean';
  steps: number;
  /** Context lengths of the first and last step behind the figures. */
  contexts: [number, number];
  layerMs: number[];
  stepMs: number;
  attentionMs: number;
  /**
   * What timing each layer's attention by timestamps costs its figure (estimateTimestampCost over the latest
   * MEAN_WINDOW steps), taken off layerMs and attentionMs; undefined where not estimated, or where it would take a
   * figure shown to 0 or below.
   */
  timestampCostMs: number | undefined;
  /** Steps behind that estimate: timed per layer by timestamps, each beside the step before it timed whole. */
  timestampPairs: number;
  method: StepTiming['method'];
  clock: ClockResolution;
}

/**
 * The figures to show for the steps recorded so far. The clock is judged on every duration recorded; a quantized
 * clock reads one step's microsecond passes as 0 or one quantum, so then each figure is the mean over the last
 * `MEAN_WINDOW` steps, which is unbiased and converges. Otherwise the latest step is shown, as measured. Each
 * layer's figure is less what its timestamps cost it where that is estimated, and the step is the one timed whole.
 */
export function attentionBreakdown(steps: readonly TimedStep[]): AttentionBreakdown | undefined {
  const latest = steps.at(-1);
  if (!latest) return undefined;
  const clock = detectClockQuantum(steps.flatMap(({ timing }) => [timing.stepMs, ...(timing.wholeStepMs === undefined ? [] : [timing.wholeStepMs]), ...timing.attentionMs]));
  const basis = clock.kind === 'quantized' ? 'mean' : 'latest';
  const window = basis === 'mean' ? steps.slice(-MEAN_WINDOW) : [latest];
  const recent = steps.slice(-MEAN_WINDOW).map(({ timing }) => timing);
  const figuresMs = meanLayerFigures(window.map(({ timing }) => timing));
  const timestampCostMs = estimateTimestampCost(recent, figuresMs);
  const layerMs = lessTimestampCost(figuresMs, timestampCostMs);
  return {
    basis,
    steps: window.length,
    contexts: [window[0].contextLength, latest.contextLength],
    layerMs,
    stepMs: mean(window.map(({ timing }) => timing.wholeStepMs ?? timing.stepMs)),
    attentionMs: layerMs.reduce((a, b) => a + b, 0),
    timestampCostMs,
    timestampPairs: recent.filter((timing) => timing.wholeStepMs !== undefined).length,
    method: latest.timing.method,
    clock,
  };
}

/** A point of the panel's line over the conversation: one step's GPU time, whole and in all layers' attention. */
export interface HistoryPoint {
  step: number;
  stepMs: number;
  attentionMs: number;
}

/**
 * Each step as timed, as the bars are: the step timed whole, and the sum of its layers' attention less what their
 * timestamps cost (the estimate behind the bars, by lessTimestampCost). The estimate is a mean, and one step's figure
 * may read under it (a quantized clock reads a short pass as 0): such a step's figures stay as timed, so that no point
 * reads 0 or less.
 */
export function attentionHistory(steps: readonly TimedStep[], timestampCostMs: number | undefined): HistoryPoint[] {
  return steps.map(({ step, timing }) => ({
    step,
    stepMs: timing.wholeStepMs ?? timing.stepMs,
    attentionMs: lessTimestampCost(timing.attentionMs, timestampCostMs).reduce((a, b) => a + b, 0),
  }));
}
