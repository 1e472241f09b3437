import { describe, expect, it } from 'vitest';
import { measuredSteps } from '../test/timedSteps.ts';
import { attentionBreakdown, attentionHistory, MEAN_WINDOW } from './attentionBreakdown.ts';

const SHAPE = { layerUs: [8, 15, 30, 45, 60, 12], stepUs: 2_500 };

describe('attentionBreakdown', () => {
  it('shows the latest step as measured when the clock is fine', () => {
    const steps = measuredSteps(40, SHAPE, 0);
    const breakdown = attentionBreakdown(steps)!;
    expect(breakdown).toMatchObject({ basis: 'latest', steps: 1, contexts: [59, 59], clock: { kind: 'fine' } });
    expect(breakdown.layerMs).toEqual(steps.at(-1)!.timing.attentionMs);
    expect(breakdown.stepMs).toBe(steps.at(-1)!.timing.stepMs);
  });

  it('shows means over the steps when the clock is quantized to 100 µs, and they converge to the true times', () => {
    const steps = measuredSteps(200, SHAPE, 100_000);
    // One step alone: a column of zeros and hundreds.
    for (const ms of steps.at(-1)!.timing.attentionMs) expect([0, 0.1]).toContain(ms);
    const breakdown = attentionBreakdown(steps)!;
    expect(breakdown).toMatchObject({ basis: 'mean', steps: 200, contexts: [20, 219], clock: { kind: 'quantized', quantumMs: 0.1 } });
    for (const [layer, trueUs] of SHAPE.layerUs.entries()) {
      // A reading is one quantum with probability trueUs / 100: the mean's standard error follows.
      const p = trueUs / 100;
      const standardError = 100 * Math.sqrt((p * (1 - p)) / 200);
      expect(Math.abs(breakdown.layerMs[layer] * 1000 - trueUs)).toBeLessThan(4 * standardError);
    }
    expect(Math.abs(breakdown.stepMs * 1000 - SHAPE.stepUs)).toBeLessThan(100);
    expect(breakdown.attentionMs).toBeCloseTo(breakdown.layerMs.reduce((a, b) => a + b, 0), 12);
  });

  it("finds Dawn's 65.536 µs quantum and averages over the latest MEAN_WINDOW steps only", () => {
    const steps = measuredSteps(MEAN_WINDOW + 50, SHAPE, 65_536);
    const breakdown = attentionBreakdown(steps)!;
    expect(breakdown).toMatchObject({ basis: 'mean', steps: MEAN_WINDOW, contexts: [70, 20 + MEAN_WINDOW + 49], clock: { kind: 'quantized', quantumMs: 0.065536 } });
  });

  it("takes what each layer's timestamps cost off its figure, and shows the step timed whole", () => {
    const steps = measuredSteps(200, { ...SHAPE, stampCostUs: 10 }, 0);
    const breakdown = attentionBreakdown(steps)!;
    expect(breakdown).toMatchObject({ basis: 'latest', timestampPairs: 200, clock: { kind: 'fine' } });
    // Each step's pair of whole and per-layer steps varies by ±5% of 2.5 ms (±1 µs a layer's figure, over 200 pairs).
    expect(Math.abs(breakdown.timestampCostMs! * 1000 - 10)).toBeLessThan(4);
    const latest = steps.at(-1)!.timing;
    expect(breakdown.stepMs).toBe(latest.wholeStepMs);
    for (const [layer, ms] of breakdown.layerMs.entries()) expect(ms).toBeCloseTo(latest.attentionMs[layer] - breakdown.timestampCostMs!, 12);
    // With stamps that cost nothing, the difference is within the steps' spread: the figures stay as timed.
    const free = attentionBreakdown(measuredSteps(200, { ...SHAPE, stampCostUs: 0 }, 0, 3))!;
    expect(free.timestampCostMs).toBeUndefined();
    expect(free.timestampPairs).toBe(200);
  });

  it('leaves the figures as timed where the cost would take one shown to 0 or below', () => {
    const steps = measuredSteps(200, { ...SHAPE, stampCostUs: 10 }, 0);
    // The latest step's first layer read 5 µs (a noisy clock), under the ~10 µs its stamps cost on average.
    const latest = steps.at(-1)!.timing;
    latest.attentionMs[0] = 0.005;
    const breakdown = attentionBreakdown(steps)!;
    expect(breakdown.timestampCostMs).toBeUndefined();
    expect(breakdown.layerMs).toEqual(latest.attentionMs);
  });

  it('shows the latest step while too few durations are in to judge the clock', () => {
    const steps = measuredSteps(1, { layerUs: [30, 40], stepUs: 900 }, 0);
    expect(attentionBreakdown(steps)).toMatchObject({ basis: 'latest', steps: 1, clock: { kind: 'undecided' } });
    expect(attentionBreakdown([])).toBeUndefined();
  });
});

describe('attentionHistory', () => {
  it("gives each step timed whole and its attention less what the stamps cost, as the bars", () => {
    const steps = measuredSteps(200, { ...SHAPE, stampCostUs: 10 }, 0);
    const costMs = attentionBreakdown(steps)!.timestampCostMs!;
    const history = attentionHistory(steps, costMs);
    expect(history.map(({ step }) => step)).toEqual(steps.map(({ step }) => step));
    for (const [i, { timing }] of steps.entries()) {
      expect(history[i].stepMs).toBe(timing.wholeStepMs);
      expect(history[i].attentionMs).toBeCloseTo(timing.attentionMs.reduce((a, b) => a + b, 0) - SHAPE.layerUs.length * costMs, 12);
    }
    expect(attentionHistory(steps, undefined)[0].attentionMs).toBeCloseTo(steps[0].timing.attentionMs.reduce((a, b) => a + b, 0), 12);
  });

  it('leaves a step as timed where one of its figures reads under the cost, so no point reads 0 or less', () => {
    // A 100 µs clock reads each layer's ~20 µs pass (with its stamps' cost) as 0 or 100 µs; the cost (~10 µs a
    // layer) is a mean over them.
    const layerUs = [8, 15, 12, 10, 9, 11];
    const steps = measuredSteps(200, { layerUs, stepUs: 2_500, stampCostUs: 10 }, 100_000);
    const breakdown = attentionBreakdown(steps)!;
    expect(breakdown.basis).toBe('mean');
    const costMs = breakdown.timestampCostMs!;
    expect(costMs * 1000).toBeGreaterThan(5);
    const sums = steps.map(({ timing }) => timing.attentionMs.reduce((a, b) => a + b, 0));
    // Taking the cost off every layer of every step would put the steps that read all zeros below 0.
    expect(sums.filter((sum) => sum - layerUs.length * costMs < 0).length).toBeGreaterThan(0);
    const history = attentionHistory(steps, costMs);
    for (const [i, point] of history.entries()) {
      expect(point.attentionMs).toBeGreaterThanOrEqual(0);
      const figures = steps[i].timing.attentionMs;
      expect(point.attentionMs).toBeCloseTo(Math.min(...figures) > costMs ? sums[i] - figures.length * costMs : sums[i], 12);
    }
  });
});
