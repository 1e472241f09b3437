/**
 * Host-side work partition for split decode attention (plan once per batch shape, then dispatch).
 *
 * The batch's (sequence, KV head) pairs, in that order, are "work heads"; head h owns tiles
 * [firstTile[h], firstTile[h + 1]) of one flat tile list. A plan gives every workgroup a contiguous range of that
 * list; the kernels differ only in how they cut it:
 *   - fa2:  one range per head;
 *   - fd:   FlashDecoding: each head cut into the same number of splits (fewer when it has fewer tiles), one count
 *           for the whole batch, chosen as FlashAttention chooses it (flashDecodingSplits);
 *   - lean: LeanAttention: the whole list cut into `grid` equal shares, stream-K style.
 * A range that covers a head only partly leaves a partial state in slot 2w (its first segment) or 2w + 1 (its
 * last). A head split over ranges w0 … w1 is the first segment of every range after w0, so its slots in range order
 * (the merge order) are its first one, then 2(w0 + 1), 2(w0 + 2), … 2·w1 (mergeSlot): a split head is its first
 * slot and a count.
 */
import type { AdapterDescription } from '../gpu/context.ts';

export type AttentionKernel = 'lean' | 'fd' | 'fa2';

export const ATTENTION_KERNELS: readonly AttentionKernel[] = ['lean', 'fd', 'fa2'];

export const KERNEL_LABELS: Record<AttentionKernel, string> = {
  lean: 'LeanAttention',
  fd: 'FlashDecoding',
  fa2: 'FA2-style',
};

export interface PlanOptions {
  kernel: AttentionKernel;
  /** Workgroups of the LeanAttention grid (its calibrated size: the workgroups the GPU runs at once). */
  grid: number;
  /** Splits per head for FlashDecoding; by default flashDecodingSplits for the batch. */
  splits?: number;
}

/** A GPU's LeanAttention grid until a calibration says otherwise (the H200 runs 264 of its workgroups at once). */
const GPU_GRID = 256;

/**
 * LeanAttention's grid before any calibration: the workgroups the adapter runs at once, as far as that is known
 * (a CPU adapter runs one on each core; see DecodeAttention's CPU_TUNING).
 */
export function defaultGrid(adapter: Pick<AdapterDescription, 'isCpu' | 'hostCores'>): number {
  return adapter.isCpu ? adapter.hostCores : GPU_GRID;
}

/** The slot of a split head's partial state `entry` (0 = its first range's), from the slot of the first. */
export function mergeSlot(firstSlot: number, entry: number): number {
  return entry === 0 ? firstSlot : 2 * ((firstSlot >> 1) + entry);
}

/** FlashAttention's cap on splits per head. */
export const MAX_FLASH_DECODING_SPLITS = 128;

/**
 * FlashDecoding's split count, as FlashAttention-2's `num_splits_heuristic` (flash_api.cpp) picks it: no split
 * when the heads alone nearly fill the GPU; otherwise the smallest count whose wave efficiency (how full the last
 * wave of `concurrentWorkgroups` is) reaches 85% of the best, among counts that change the split size.
 */
export function flashDecodingSplits(heads: number, concurrentWorkgroups: number, tilesOfLongest: number): number {
  if (heads >= 0.8 * concurrentWorkgroups) return 1;
  const limit = Math.min(MAX_FLASH_DECODING_SPLITS, concurrentWorkgroups, tilesOfLongest);
  const efficiency = (splits: number) => {
    const waves = (heads * splits) / concurrentWorkgroups;
    return waves / Math.ceil(waves);
  };
  const eligible = (splits: number) => splits === 1 || Math.ceil(tilesOfLongest / splits) !== Math.ceil(tilesOfLongest / (splits - 1));
  // The best efficiency among eligible counts only, as FlashAttention's: against the best of every count, all
  // eligible ones can fall short and the head would stay whole (8 KV heads at 32k on a grid of 512 or 2048 did).
  let best = 0;
  for (let splits = 1; splits <= limit; splits++) if (eligible(splits)) best = Math.max(best, efficiency(splits));
  for (let splits = 1; splits <= limit; splits++) {
    if (eligible(splits) && efficiency(splits) >= 0.85 * best) return splits;
  }
  return 1;
}

/** A plan, in reusable arrays that grow only when a batch needs more than any before it. */
export class WorkPlan {
  /** Per head: firstTile (plus a final entry: the total). */
  headFirstTile: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  headCount = 0;
  /** Per range: tileBegin, tileEnd, firstHead, first partial slot. */
  ranges: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  rangeCount = 0;
  /** Per split head: head index, its first partial slot, how many slots it merges (see mergeSlot), unused. */
  splitHeads: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  splitHeadCount = 0;
  /** FlashDecoding's splits in the latest fd plan. */
  splits = 1;

  get totalTiles(): number {
    return this.headFirstTile[this.headCount];
  }

  /** The largest number of ranges any kernel makes for `heads` heads with FlashDecoding at `splits`. */
  static maxRanges(heads: number, options: { grid: number; splits: number }): number {
    return Math.max(heads, options.grid, heads * options.splits);
  }

  /** Plans `tilesPerHead` (one entry per work head, each ≥ 1) for `options.kernel`. */
  build(tilesPerHead: ArrayLike<number>, options: PlanOptions): this {
    const heads = tilesPerHead.length;
    this.headCount = heads;
    this.headFirstTile = ensure(this.headFirstTile, heads + 1);
    let total = 0;
    for (let h = 0; h < heads; h++) {
      if (!(tilesPerHead[h] >= 1)) throw new Error(`work head ${h} has ${tilesPerHead[h]} tiles: every head needs one`);
      this.headFirstTile[h] = total;
      total += tilesPerHead[h];
    }
    this.headFirstTile[heads] = total;

    if (options.kernel === 'fd') {
      let longest = 0;
      for (let h = 0; h < heads; h++) longest = Math.max(longest, tilesPerHead[h]);
      this.splits = options.splits ?? flashDecodingSplits(heads, options.grid, longest);
    }
    const splits = options.kernel === 'fd' ? this.splits : 1;
    this.ranges = ensure(this.ranges, 4 * WorkPlan.maxRanges(heads, { grid: options.grid, splits }));
    this.rangeCount = 0;
    if (options.kernel === 'fa2') {
      for (let h = 0; h < heads; h++) this.pushRange(this.headFirstTile[h], this.headFirstTile[h + 1]);
    } else if (options.kernel === 'fd') {
      for (let h = 0; h < heads; h++) {
        this.pushEqualShares(this.headFirstTile[h], this.headFirstTile[h + 1], this.splits);
      }
    } else {
      this.pushEqualShares(0, total, options.grid);
    }
    this.assignHeadsAndSlots();
    return this;
  }

  private pushRange(begin: number, end: number): void {
    this.ranges[4 * this.rangeCount] = begin;
    this.ranges[4 * this.rangeCount + 1] = end;
    this.rangeCount++;
  }

  /** Cuts [begin, end) into min(parts, length) contiguous shares whose sizes differ by at most one tile. */
  private pushEqualShares(begin: number, end: number, parts: number): void {
    const length = end - begin;
    const count = Math.max(1, Math.min(parts, length));
    const base = Math.floor(length / count);
    const larger = length % count;
    let start = begin;
    for (let i = 0; i < count; i++) {
      const size = base + (i < larger ? 1 : 0);
      this.pushRange(start, start + size);
      start += size;
    }
  }

  /** Fills each range's first head and partial slot, and the slots of every head split across ranges. */
  private assignHeadsAndSlots(): void {
    const first = this.headFirstTile;
    this.splitHeads = ensure(this.splitHeads, 4 * this.headCount);
    this.splitHeadCount = 0;
    let head = 0;
    for (let w = 0; w < this.rangeCount; w++) {
      const begin = this.ranges[4 * w];
      const end = this.ranges[4 * w + 1];
      while (first[head + 1] <= begin) head++;
      this.ranges[4 * w + 2] = head;
      this.ranges[4 * w + 3] = 2 * w;
      let segment = 0;
      for (let h = head; h < this.headCount && first[h] < end; h++, segment++) {
        const whole = begin <= first[h] && first[h + 1] <= end;
        if (whole) continue;
        const startsHere = begin <= first[h];
        if (startsHere) {
          const s = this.splitHeadCount++;
          this.splitHeads[4 * s] = h;
          this.splitHeads[4 * s + 1] = 2 * w + (segment === 0 ? 0 : 1);
          this.splitHeads[4 * s + 2] = 0;
        }
        this.splitHeads[4 * (this.splitHeadCount - 1) + 2]++;
      }
    }
  }
}

function ensure(array: Uint32Array<ArrayBuffer>, length: number): Uint32Array<ArrayBuffer> {
  return array.length >= length ? array : new Uint32Array(Math.max(length, 2 * array.length));
}
