import { describe, expect, it } from 'vitest';
import { measuredSteps } from '../test/timedSteps.ts';
import { attentionBreakdown, MEAN_WINDOW } from './attentionBreakdown.ts';

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

  it('shows the latest step while too few durations are in to judge the clock', () => {
    const steps = measuredSteps(1, { layerUs: [30, 40], stepUs: 900 }, 0);
    expect(attentionBreakdown(steps)).toMatchObject({ basis: 'latest', steps: 1, clock: { kind: 'undecided' } });
    expect(attentionBreakdown([])).toBeUndefined();
  });
});
