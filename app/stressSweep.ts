/**
 * How the stress page spaces its sweep's contexts up to the target:
 *   - doubling: target, target/2, target/4, … (a log-scale axis: the short contexts, where the split of the work
 *     decides, get as many points as the long ones, where the bytes do);
 *   - even: target/steps, 2·target/steps, … target.
 */
export type SweepSpacing = 'doubling' | 'even';

/** The shortest context a sweep measures: below it a context is a page or less, and a point says nothing. */
export const SHORTEST_SWEEP_CONTEXT = 16;

/** The contexts of a sweep of `steps` points up to `target`, ascending, without repeats. */
export function sweepContexts(target: number, steps: number, spacing: SweepSpacing): number[] {
  const contexts = Array.from({ length: steps }, (_, i) => {
    const context = spacing === 'doubling' ? target / 2 ** (steps - 1 - i) : (target * (i + 1)) / steps;
    return Math.max(SHORTEST_SWEEP_CONTEXT, Math.round(context));
  });
  return [...new Set(contexts)];
}
