import type { TimedStep } from '../app/attentionBreakdown.ts';
import { seededRandom } from '../kernels/gpu/seededRandom.ts';

export interface StepShape {
  /** True attention time of each layer's pass, in µs. */
  layerUs: number[];
  /** True time of the whole step, in µs. */
  stepUs: number;
  /**
   * With timestamps that slow the work after each of them by this many µs (engine/timestampCost.ts): every step is
   * then timed per layer beside the step before it timed whole, as the decode loop alternates them.
   */
  stampCostUs?: number;
}

/**
 * Decode steps as a clock with the given quantum (in ns; 0 for one of 1 ns) measures them: each step starts at a
 * random phase, each pass lasts its true time ±5% (real passes vary), and every stamp is rounded down to the
 * quantum, as Dawn's mask does. Durations are in ms from whole ns, as `PassTimer.read` gives them.
 */
export function measuredSteps(count: number, shape: StepShape, quantumNs: number, seed = 1): TimedStep[] {
  const random = seededRandom(seed);
  const stamp = (ns: number) => Math.floor(ns / (quantumNs || 1)) * (quantumNs || 1);
  const duration = (startNs: number, lengthNs: number) => (stamp(startNs + lengthNs * (0.95 + 0.1 * random())) - stamp(startNs)) / 1e6;
  return Array.from({ length: count }, (_, i) => {
    const start = random() * 1e9;
    let passStart = start + 20_000;
    const stampCostUs = shape.stampCostUs;
    const attentionMs = shape.layerUs.map((us) => {
      const ms = duration(passStart, (us + (stampCostUs ?? 0)) * 1000);
      passStart += us * 1000 + 10_000;
      return ms;
    });
    if (stampCostUs === undefined) return { step: i + 1, contextLength: 20 + i, timing: { stepMs: duration(start, shape.stepUs * 1000), attentionMs, method: 'timestamp-query' } };
    // Two stamps a layer, each slowing what follows it.
    const stepMs = duration(start, (shape.stepUs + 2 * shape.layerUs.length * stampCostUs) * 1000);
    const wholeStepMs = duration(start - 1e7, shape.stepUs * 1000);
    return { step: i + 1, contextLength: 20 + i, timing: { stepMs, wholeStepMs, attentionMs, method: 'timestamp-query' } };
  });
}
