import { describe, expect, it } from 'vitest';
import type { StepTiming } from './model.ts';
import { attentionLessTimestampCost, DecodeTimings, estimateTimestampCost, lessTimestampCost, meanLayerFigures, MIN_PAIRS } from './timestampCost.ts';

/** A step timed per layer (`layers` of 0.2 ms) beside the step before it, timed whole. */
const pair = (stepMs: number, wholeStepMs: number, layers = 4): StepTiming => ({ stepMs, wholeStepMs, attentionMs: Array(layers).fill(0.2), method: 'timestamp-query' });

describe('estimateTimestampCost', () => {
  const FIGURES = [0.2, 0.2, 0.2, 0.2];

  it("is half of what a layer's timestamps add to a step, over the steps timed per layer beside a whole one", () => {
    // 4 layers: the stamps add 0.8 ms to each step, 0.1 ms to each layer's figure.
    expect(estimateTimestampCost([pair(5.8, 5), pair(5.81, 5.02), pair(5.79, 4.98)], FIGURES)).toBeCloseTo(0.1, 3);
    // Steps timed whole or by the CPU clock have nothing to say.
    const others: StepTiming[] = [{ stepMs: 5, attentionMs: [], method: 'timestamp-query' }, { stepMs: 5.8, attentionMs: [0.2, 0.2], method: 'cpu' }];
    expect(estimateTimestampCost([...others, pair(5.8, 5), pair(5.81, 5.02), pair(5.79, 4.98)], FIGURES)).toBeCloseTo(0.1, 3);
  });

  it(`says nothing from fewer than ${MIN_PAIRS} pairs, or where the difference is within twice its standard error of 0`, () => {
    expect(estimateTimestampCost([pair(5.8, 5), pair(5.8, 5)], FIGURES)).toBeUndefined();
    // A CPU adapter's steps vary by tens of percent: the difference is noise.
    expect(estimateTimestampCost([pair(71.4, 64), pair(65.2, 69), pair(69.3, 66), pair(66.9, 70), pair(60.7, 61)], FIGURES)).toBeUndefined();
    expect(estimateTimestampCost([], FIGURES)).toBeUndefined();
  });

  it('says nothing where the cost reaches a figure it is to come off: each is its attention plus the cost', () => {
    // A steady 1.2 ms a step over 4 layers is 0.15 ms a layer, below every 0.2 ms figure; 2 ms a step (0.25) is not.
    expect(estimateTimestampCost([pair(6.2, 5), pair(6.21, 5.02), pair(6.19, 4.98)], FIGURES)).toBeCloseTo(0.15, 3);
    expect(estimateTimestampCost([pair(7, 5), pair(7.01, 5.02), pair(6.99, 4.98)], FIGURES)).toBeUndefined();
    // The smallest figure bounds it, not their mean (0.175 here).
    expect(estimateTimestampCost([pair(6.2, 5), pair(6.21, 5.02), pair(6.19, 4.98)], [0.2, 0.2, 0.1, 0.2])).toBeUndefined();
  });
});

describe('lessTimestampCost', () => {
  it('takes the cost off every figure where it is below all of them, and leaves them as timed otherwise', () => {
    expect(lessTimestampCost([0.3, 0.2, 0.5], 0.1).map((ms) => +ms.toFixed(12))).toEqual([0.2, 0.1, 0.4]);
    // A quantized clock's 0, or a figure the cost reaches: none taken off.
    expect(lessTimestampCost([0.3, 0, 0.5], 0.1)).toEqual([0.3, 0, 0.5]);
    expect(lessTimestampCost([0.3, 0.1, 0.5], 0.1)).toEqual([0.3, 0.1, 0.5]);
    expect(lessTimestampCost([0.3, 0.2], undefined)).toEqual([0.3, 0.2]);
  });
});

describe('meanLayerFigures', () => {
  it("is each layer's mean over the steps: a quantized clock's readings of 0 and one quantum average out", () => {
    const reading = (ms: number[]): StepTiming => ({ stepMs: 5, attentionMs: ms, method: 'timestamp-query' });
    expect(meanLayerFigures([reading([0, 1, 1]), reading([1, 1, 0]), reading([0, 1, 1]), reading([1, 1, 1])])).toEqual([0.5, 1, 0.75]);
  });

  it('names the missing steps instead of failing on an undefined first step', () => {
    expect(() => meanLayerFigures([])).toThrow(/no step timed per layer/);
  });
});

describe('attentionLessTimestampCost', () => {
  it("is the sum of each layer's mean figure less the layers' timestamps' cost, and that cost a layer", () => {
    // 4 layers of 0.2 ms as timed, 0.1 ms of each the stamps'.
    const { attentionMs, timestampCostMs } = attentionLessTimestampCost([pair(5.8, 5), pair(5.81, 5.02), pair(5.79, 4.98)]);
    expect(timestampCostMs).toBeCloseTo(0.1, 3);
    expect(attentionMs).toBeCloseTo(0.8 - 4 * timestampCostMs, 12);
    // Where the cost is not told apart, the figures as timed.
    expect(attentionLessTimestampCost([pair(5.8, 5)])).toEqual({ attentionMs: 0.8, timestampCostMs: 0 });
    // A CPU adapter whose steps timed per layer ran steadily 8 ms longer: not a cost of 1 ms off figures of 0.2 ms.
    const unsteady = attentionLessTimestampCost([pair(13, 5), pair(13.01, 5.02), pair(12.99, 4.98)]);
    expect(unsteady.timestampCostMs).toBe(0);
    expect(unsteady.attentionMs).toBeCloseTo(0.8, 12);
  });
});

describe('DecodeTimings', () => {
  it('alternates a step timed whole and a step timed per layer where timestamps time the layers; the second carries the first', () => {
    const timings = new DecodeTimings('sections', 'timestamps');
    expect([0, 1, 2, 3].map((index) => timings.level(index))).toEqual(['step', 'sections', 'step', 'sections']);
    expect(timings.take(0, { stepMs: 2, attentionMs: [], method: 'timestamp-query' })).toBeUndefined();
    expect(timings.take(1, { stepMs: 2.4, attentionMs: [0.3, 0.5], method: 'timestamp-query' })).toEqual({ stepMs: 2.4, attentionMs: [0.3, 0.5], method: 'timestamp-query', wholeStepMs: 2 });
    expect(timings.take(2, { stepMs: 3, attentionMs: [], method: 'timestamp-query' })).toBeUndefined();
    expect(timings.take(3, { stepMs: 3.2, attentionMs: [0.3, 0.5], method: 'timestamp-query' })!.wholeStepMs).toBe(3);
  });

  it('times every step as asked otherwise: the CPU clock (sections submitted alone), whole steps, none', () => {
    const cpu = new DecodeTimings('sections', 'cpu');
    expect([0, 1].map((index) => cpu.level(index))).toEqual(['sections', 'sections']);
    const measured: StepTiming = { stepMs: 4, attentionMs: [1, 1], method: 'cpu' };
    expect(cpu.take(0, measured)).toBe(measured);
    const whole = new DecodeTimings('step', 'timestamps');
    expect([0, 1].map((index) => whole.level(index))).toEqual(['step', 'step']);
    expect(whole.take(0, { stepMs: 1, attentionMs: [], method: 'timestamp-query' })).toEqual({ stepMs: 1, attentionMs: [], method: 'timestamp-query' });
    expect(new DecodeTimings('none', 'timestamps').level(1)).toBe('none');
  });
});
