import { float16BitsToFloat32, float32ToFloat16Bits } from '../kernels/gpu/half.ts';
import { rowWordOffset, rowWords, type PagedKvLayout } from '../kernels/attention/pagedKv.ts';

/** A random paged KV cache for a batch, as the GPU will hold it, plus the exact values it holds as float64. */
export interface PagedKvFixture {
  layout: PagedKvLayout;
  lengths: number[];
  pageTable: Uint32Array;
  pageTableOffsets: number[];
  keyWords: Uint32Array;
  valueWords: Uint32Array;
  /** keys[s][kvHead][token][d] as stored (f16-rounded for f16 pools). */
  keys: Float64Array[][];
  values: Float64Array[][];
}

const NAN_F16 = 0x7e00;
const NAN_F32 = 0x7fc00000;

/**
 * Fills a pool with random values in [-1, 1]: pages are handed out in a shuffled order (so the page table matters),
 * a few pages stay unused, and every slot no sequence owns holds NaN, so a kernel that reads past a sequence's
 * length turns its output into NaN. `keyAt`, where given, says what key element (sequence, token, d) holds instead,
 * from its random draw.
 */
export function makePagedKv(
  layout: PagedKvLayout,
  lengths: number[],
  keyAt: (sequence: number, token: number, d: number, drawn: number) => number = (_s, _t, _d, drawn) => drawn,
): PagedKvFixture {
  const { pageSize, numKvHeads, headDim, dtype } = layout;
  const pagesPerSeq = lengths.map((n) => Math.ceil(n / pageSize));
  const usedPages = pagesPerSeq.reduce((a, b) => a + b, 0);
  const poolPages = usedPages + 3;
  const order = Array.from({ length: poolPages }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const pageTable = new Uint32Array(usedPages);
  const pageTableOffsets: number[] = [];
  let next = 0;
  for (let s = 0; s < lengths.length; s++) {
    pageTableOffsets.push(next);
    for (let p = 0; p < pagesPerSeq[s]; p++) pageTable[next + p] = order[next + p];
    next += pagesPerSeq[s];
  }

  const words = poolPages * numKvHeads * pageSize * rowWords(layout);
  const keyWords = new Uint32Array(words).fill(dtype === 'f16' ? (NAN_F16 << 16) | NAN_F16 : NAN_F32);
  const valueWords = new Uint32Array(words).fill(dtype === 'f16' ? (NAN_F16 << 16) | NAN_F16 : NAN_F32);
  const f32 = new Float32Array(1);
  const f32Bits = new Uint32Array(f32.buffer);

  const fill = (target: Uint32Array, s: number, kvHead: number, token: number, valueAt = (_d: number, drawn: number) => drawn): Float64Array => {
    const page = pageTable[pageTableOffsets[s] + Math.floor(token / pageSize)];
    const base = rowWordOffset(layout, page, kvHead, token % pageSize);
    const row = new Float64Array(headDim);
    for (let d = 0; d < headDim; d++) {
      const value = valueAt(d, Math.random() * 2 - 1);
      if (dtype === 'f16') {
        const bits = float32ToFloat16Bits(value);
        row[d] = float16BitsToFloat32(bits);
        const word = base + (d >> 1);
        target[word] = d % 2 === 0 ? (target[word] & 0xffff0000) | bits : (target[word] & 0xffff) | (bits << 16);
      } else {
        f32[0] = value;
        row[d] = f32[0];
        target[base + d] = f32Bits[0];
      }
    }
    return row;
  };

  const keys: Float64Array[][] = [];
  const values: Float64Array[][] = [];
  for (let s = 0; s < lengths.length; s++) {
    const keyHeads: Float64Array[] = [];
    const valueHeads: Float64Array[] = [];
    for (let h = 0; h < numKvHeads; h++) {
      const k = new Float64Array(lengths[s] * headDim);
      const v = new Float64Array(lengths[s] * headDim);
      for (let t = 0; t < lengths[s]; t++) {
        k.set(fill(keyWords, s, h, t, (d, drawn) => keyAt(s, t, d, drawn)), t * headDim);
        v.set(fill(valueWords, s, h, t), t * headDim);
      }
      keyHeads.push(k);
      valueHeads.push(v);
    }
    keys.push(keyHeads);
    values.push(valueHeads);
  }
  return { layout, lengths, pageTable, pageTableOffsets, keyWords, valueWords, keys, values };
}

/** What one query attends to: the first `length` tokens of sequence `sequence`. */
export interface QueryWindow {
  sequence: number;
  length: number;
}

/**
 * Float64 attention over exactly the stored K and V: out[query][qHead][d] for queries[query][qHead][d], query i
 * attending to `windows[i]`.
 */
export function referenceAttention(fixture: PagedKvFixture, queries: Float32Array, group: number, windows: QueryWindow[]): Float64Array {
  const { headDim, numKvHeads } = fixture.layout;
  const queryHeads = numKvHeads * group;
  const out = new Float64Array(windows.length * queryHeads * headDim);
  const scale = 1 / Math.sqrt(headDim);
  for (const [query, { sequence, length: n }] of windows.entries()) {
    const scores = new Float64Array(n);
    for (let qh = 0; qh < queryHeads; qh++) {
      const kvHead = Math.floor(qh / group);
      const qBase = (query * queryHeads + qh) * headDim;
      const k = fixture.keys[sequence][kvHead];
      const v = fixture.values[sequence][kvHead];
      let max = -Infinity;
      for (let t = 0; t < n; t++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += queries[qBase + d] * k[t * headDim + d];
        scores[t] = dot * scale;
        max = Math.max(max, scores[t]);
      }
      let sum = 0;
      for (let t = 0; t < n; t++) {
        scores[t] = Math.exp(scores[t] - max);
        sum += scores[t];
      }
      for (let t = 0; t < n; t++) {
        const p = scores[t] / sum;
        for (let d = 0; d < headDim; d++) out[qBase + d] += p * v[t * headDim + d];
      }
    }
  }
  return out;
}

/** Decode: query s attends to the whole context of sequence s. */
export function decodeWindows(lengths: number[]): QueryWindow[] {
  return lengths.map((length, sequence) => ({ sequence, length }));
}

/** A prefill chunk of `count` queries at positions position … position + count − 1 of sequence 0 (causal). */
export function causalWindows(position: number, count: number): QueryWindow[] {
  return Array.from({ length: count }, (_, t) => ({ sequence: 0, length: position + t + 1 }));
}

/** ‖actual − expected‖ / ‖expected‖ (NaN anywhere in `actual` gives NaN, which fails any bound). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}

export function randomFloat32(length: number, random: () => number = Math.random): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = random() * 2 - 1;
  return out;
}
