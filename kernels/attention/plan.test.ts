import { describe, expect, it } from 'vitest';
import { defaultGrid, flashDecodingSplits, MAX_FLASH_DECODING_SPLITS, mergeSlot, WorkPlan, type AttentionKernel } from './plan.ts';

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
    const [head, firstSlot, count] = plan.splitHeads.subarray(4 * s, 4 * s + 3);
    merged.set(head, Array.from({ length: count }, (_, entry) => mergeSlot(firstSlot, entry)));
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

describe('flashDecodingSplits (FlashAttention-2 num_splits_heuristic)', () => {
  it('does not split when the heads nearly fill the GPU', () => {
    expect(flashDecodingSplits(64, 80, 1000)).toBe(1);
    expect(flashDecodingSplits(200, 132, 1000)).toBe(1);
  });

  it('takes the smallest count within 85% of the best wave efficiency', () => {
    // 8 heads on 1024 concurrent workgroups: 128 splits fill 100%, 109 is the first at ≥ 85% (852/1024).
    expect(flashDecodingSplits(8, 1024, 100_000)).toBe(109);
    // 5 heads on 8: 3 splits make 1.875 waves (94%), the first count within 85% of the best (100% at 8).
    expect(flashDecodingSplits(5, 8, 100)).toBe(3);
  });

  it('never splits more than the tiles, the GPU or FlashAttention allow', () => {
    expect(flashDecodingSplits(1, 1024, 5)).toBeLessThanOrEqual(5);
    expect(flashDecodingSplits(1, 4096, 1_000_000)).toBeLessThanOrEqual(MAX_FLASH_DECODING_SPLITS);
  });

  it('skips counts that give the same split size as one fewer, and measures the best among the others', () => {
    // 1 head on 7: 6 and 7 splits are the efficient ones. Of 100 tiles, 6 splits are 17 tiles each (5 are 20);
    // of 10 tiles, 6 and 7 splits are 2 tiles each, as 5 are, so neither counts: 5 (71%) is the best that does.
    expect(flashDecodingSplits(1, 7, 100)).toBe(6);
    expect(flashDecodingSplits(1, 7, 10)).toBe(5);
    // 8 KV heads at 32k on the H200's grids: the eligible counts peak at 50% (2048) and 100% (512) of a wave.
    expect(flashDecodingSplits(8, 512, 257)).toBeGreaterThan(1);
    expect(flashDecodingSplits(8, 2048, 2048)).toBeGreaterThan(1);
  });

  it('is what an fd plan uses when no split count is given', () => {
    const plan = new WorkPlan().build([40, 40, 40, 40, 40], { kernel: 'fd', grid: 8 });
    expect(plan.splits).toBe(flashDecodingSplits(5, 8, 40));
    expect(plan.rangeCount).toBe(5 * plan.splits);
  });
});

describe('defaultGrid', () => {
  it('is one workgroup per core on a CPU adapter, 256 on a GPU until a calibration says otherwise', () => {
    expect(defaultGrid({ isCpu: true, hostCores: 6 })).toBe(6);
    expect(defaultGrid({ isCpu: false, hostCores: 6 })).toBe(256);
  });
});
