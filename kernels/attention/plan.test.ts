import { describe, expect, it } from 'vitest';
import { WorkPlan, type AttentionKernel } from './plan.ts';

/** Replays a plan on the CPU: which workgroup segment covers each tile, and what each split head merges. */
function checkPlan(tilesPerHead: number[], kernel: AttentionKernel, grid: number, splits: number) {
  const plan = new WorkPlan().build(tilesPerHead, { kernel, grid, splits });
  const total = tilesPerHead.reduce((a, b) => a + b, 0);
  const first = plan.headFirstTile;
  const covered = new Uint8Array(total);
  const partialSlots = new Map<number, number[]>();
  for (let w = 0; w < plan.rangeCount; w++) {
    const [begin, end, firstHead, slotBase] = plan.ranges.subarray(4 * w, 4 * w + 4);
    expect(begin).toBeLessThan(end);
    expect(first[firstHead]).toBeLessThanOrEqual(begin);
    expect(first[firstHead + 1]).toBeGreaterThan(begin);
    expect(slotBase).toBe(2 * w);
    for (let t = begin; t < end; t++) covered[t]++;
    let segment = 0;
    for (let h = firstHead; h < tilesPerHead.length && first[h] < end; h++, segment++) {
      const whole = begin <= first[h] && first[h + 1] <= end;
      if (!whole) partialSlots.set(h, [...(partialSlots.get(h) ?? []), 2 * w + (segment === 0 ? 0 : 1)]);
    }
  }
  expect(Array.from(covered).every((c) => c === 1), 'every tile covered exactly once').toBe(true);
  const merged = new Map<number, number[]>();
  for (let s = 0; s < plan.splitHeadCount; s++) {
    const [head, from, to] = plan.splitHeads.subarray(4 * s, 4 * s + 3);
    merged.set(head, Array.from(plan.mergeSlots.subarray(from, to)));
  }
  expect(merged).toEqual(partialSlots);
  return plan;
}

describe('WorkPlan', () => {
  const ragged = [1, 1, 3, 3, 63, 63, 257, 257];

  it('lean cuts the flat tile list into equal shares that cross heads', () => {
    const plan = checkPlan(ragged, 'lean', 10, 1);
    expect(plan.rangeCount).toBe(10);
    const sizes = Array.from({ length: plan.rangeCount }, (_, w) => plan.ranges[4 * w + 1] - plan.ranges[4 * w]);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(plan.splitHeadCount).toBeGreaterThan(0);
  });

  it('lean with more workgroups than tiles gives one tile each', () => {
    const plan = checkPlan([2, 3], 'lean', 64, 1);
    expect(plan.rangeCount).toBe(5);
  });

  it('fd splits every head the same number of times', () => {
    const plan = checkPlan(ragged, 'fd', 0, 4);
    expect(plan.rangeCount).toBe(1 + 1 + 3 + 3 + 4 * 4);
  });

  it('fa2 gives one whole head per workgroup and merges nothing', () => {
    const plan = checkPlan(ragged, 'fa2', 0, 0);
    expect(plan.rangeCount).toBe(ragged.length);
    expect(plan.splitHeadCount).toBe(0);
  });

  it.each(Array.from({ length: 20 }, (_, i) => i))('random batch %i: every schedule covers and merges correctly', () => {
    const heads = 1 + Math.floor(Math.random() * 12);
    const tiles = Array.from({ length: heads }, () => 1 + Math.floor(Math.random() ** 3 * 300));
    const grid = 1 + Math.floor(Math.random() * 200);
    checkPlan(tiles, 'lean', grid, 1);
    checkPlan(tiles, 'fd', grid, 1 + Math.floor(Math.random() * 9));
    checkPlan(tiles, 'fa2', grid, 1);
  });

  it('rejects a head without tiles', () => {
    expect(() => new WorkPlan().build([3, 0], { kernel: 'lean', grid: 4, splits: 1 })).toThrow(/head 1 has 0 tiles/);
  });
});
