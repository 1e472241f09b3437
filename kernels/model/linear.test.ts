import { describe, expect, it } from 'vitest';
import { randomFloat32, relativeError } from '../../test/pagedKvFixture.ts';
import { testGpu } from '../../test/gpu.ts';
import { withGpuErrorScope } from '../gpu/context.ts';
import { createStorageBuffer, readBuffer, readFloat32 } from '../gpu/buffers.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToFloat16Bits } from '../gpu/half.ts';
import { rowWordOffset, rowWords, type KvDtype, type PagedKvLayout } from '../attention/pagedKv.ts';
import { dispatch, type BoundKernel, type WeightDtype } from './boundKernel.ts';
import { bindLinear, decodeFusesRopeKv, linearSchedule, type LinearSchedule } from './linear.ts';
import { bindMatmul, MATMUL_TILES, tileName, tileProblem, type MatmulTile } from './matmul.ts';
import { bindRopeKv, toRopePairedOrder } from './ropeKv.ts';
import { StepUniform } from './stepUniform.ts';

/** W rounded to `dtype` as stored words, and the exact values the kernel reads. */
function storeWeights(values: Float32Array, dtype: WeightDtype): { words: Uint32Array; exact: Float64Array } {
  const exact = new Float64Array(values.length);
  if (dtype === 'f32') {
    exact.set(values);
    return { words: new Uint32Array(values.buffer.slice(0)), exact };
  }
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'f16') {
      halves[i] = float32ToFloat16Bits(values[i]);
      exact[i] = float16BitsToFloat32(halves[i]);
    } else {
      // bf16: the top half of the f32 (truncated).
      halves[i] = new Uint32Array(new Float32Array([values[i]]).buffer)[0] >>> 16;
      exact[i] = bfloat16BitsToFloat32(halves[i]);
    }
  }
  return { words: new Uint32Array(halves.buffer), exact };
}

/** Rows [tokens][K] of x RMS-normalized with `weight`, in float64. */
function rmsNormed(x: Float32Array, weight: Float32Array, tokens: number, K: number): Float64Array {
  const input = new Float64Array(tokens * K);
  for (let t = 0; t < tokens; t++) {
    const row = x.subarray(t * K, (t + 1) * K);
    const scale = 1 / Math.sqrt(row.reduce((sum, v) => sum + v * v, 0) / K + EPS);
    for (let k = 0; k < K; k++) input[t * K + k] = row[k] * scale * weight[k];
  }
  return input;
}

interface Case {
  name: string;
  tokens: number;
  inFeatures: number;
  outFeatures: number;
  dtype: WeightDtype;
  bias: boolean;
  accumulate: boolean;
  /** W is [gate; up] and y = silu(x·gateᵀ) · (x·upᵀ) (decode GEMV only). */
  gated?: boolean;
  /** x is RMS-normalized first (decode GEMV only). */
  normed?: boolean;
}

const EPS = 1e-5;

// Token counts around the GEMM's tiles, N not a multiple of its tile rows or of the GEMV's rows per workgroup, K a
// multiple of 8 but not of the GEMM's k step, every weight dtype, bias and residual add.
const CASES: Case[] = [
  { name: 'f32, 1 token, 256 → 72', tokens: 1, inFeatures: 256, outFeatures: 72, dtype: 'f32', bias: false, accumulate: false },
  { name: 'f16, 33 tokens, 200 → 130, bias', tokens: 33, inFeatures: 200, outFeatures: 130, dtype: 'f16', bias: true, accumulate: false },
  { name: 'bf16, 64 tokens, 96 → 64, residual add', tokens: 64, inFeatures: 96, outFeatures: 64, dtype: 'bf16', bias: false, accumulate: true },
  { name: 'f16, 5 tokens, 1032 → 17, bias + residual add', tokens: 5, inFeatures: 1032, outFeatures: 17, dtype: 'f16', bias: true, accumulate: true },
  { name: 'f16, 2 tokens, 264 → 37, gated', tokens: 2, inFeatures: 264, outFeatures: 37, dtype: 'f16', bias: false, accumulate: false, gated: true },
  { name: 'bf16, 1 token, 2048 → 24, gated', tokens: 1, inFeatures: 2048, outFeatures: 24, dtype: 'bf16', bias: false, accumulate: false, gated: true },
  { name: 'f16, 3 tokens, 520 → 45, RMS norm + bias', tokens: 3, inFeatures: 520, outFeatures: 45, dtype: 'f16', bias: true, accumulate: false, normed: true },
  { name: 'f32, 1 token, 264 → 19, RMS norm + gated', tokens: 1, inFeatures: 264, outFeatures: 19, dtype: 'f32', bias: false, accumulate: false, gated: true, normed: true },
];

// Prefill chunks from one token to 512, ragged around the 32-, 64- and 128-token tiles (GEMM only: the reference is
// cheap, a GEMV per token is not).
const GEMM_CASES: Case[] = [
  { name: 'f32, 1 token, 64 → 72', tokens: 1, inFeatures: 64, outFeatures: 72, dtype: 'f32', bias: false, accumulate: false },
  { name: 'f16, 63 tokens, 200 → 130, bias', tokens: 63, inFeatures: 200, outFeatures: 130, dtype: 'f16', bias: true, accumulate: false },
  { name: 'bf16, 65 tokens, 96 → 136, residual add', tokens: 65, inFeatures: 96, outFeatures: 136, dtype: 'bf16', bias: false, accumulate: true },
  { name: 'f16, 200 tokens, 72 → 70, bias + residual add', tokens: 200, inFeatures: 72, outFeatures: 70, dtype: 'f16', bias: true, accumulate: true },
  { name: 'bf16, 512 tokens, 48 → 200', tokens: 512, inFeatures: 48, outFeatures: 200, dtype: 'bf16', bias: false, accumulate: false },
  { name: 'f32, 129 tokens, 40 → 257, residual add', tokens: 129, inFeatures: 40, outFeatures: 257, dtype: 'f32', bias: false, accumulate: true },
];

const DTYPES: WeightDtype[] = ['f32', 'f16', 'bf16'];
const FLAGS = [{ bias: true, accumulate: false }, { bias: false, accumulate: true }, { bias: true, accumulate: true }, { bias: false, accumulate: false }];

/**
 * One shape per tile the benchmark offers, run at one token, a second token tile that is nearly empty and one that
 * is nearly full (one compiled kernel): N ends inside the second row tile, K inside the third k slice; dtype, bias
 * and residual add rotate over the tiles.
 */
function tileCases(tile: MatmulTile, index: number): Case[] {
  const shape = { inFeatures: 2 * tile.kStep + 8, outFeatures: 2 * tile.rows - 3, dtype: DTYPES[index % DTYPES.length], ...FLAGS[index % FLAGS.length] };
  const flags = `${shape.bias ? ', bias' : ''}${shape.accumulate ? ', residual add' : ''}`;
  return [1, tile.tokens + 3, 2 * tile.tokens - 1].map((tokens) => ({
    name: `${shape.dtype}, ${tokens} token${tokens === 1 ? '' : 's'}, ${shape.inFeatures} → ${shape.outFeatures}${flags}`,
    tokens,
    ...shape,
  }));
}

// The GEMV's schedules: the adapter's own, and GPU-sized ones whose unrolled batches overrun K (a guarded tail)
// or divide it exactly, with row counts that do not divide N.
const SCHEDULES: (LinearSchedule | undefined)[] = [
  undefined,
  { workgroup: 128, rows: 2, batchSteps: 4 },
  { workgroup: 64, rows: 3, batchSteps: 2 },
  { workgroup: 256, rows: 1, batchSteps: 1 },
];

const SPARE_TOKENS = 2;

/** What a test's linear layer reads: its shape, its weights and bias as stored, x. */
function linearInputs(
  testCase: { name: string; inFeatures: number; outFeatures: number; dtype: WeightDtype; bias: boolean },
  buffers: { weights: GPUBuffer; bias: GPUBuffer; x: GPUBuffer },
) {
  const { name: label, inFeatures, outFeatures, dtype: weightDtype } = testCase;
  return { label, inFeatures, outFeatures, weightDtype, weights: buffers.weights, bias: testCase.bias ? buffers.bias : undefined, x: buffers.x };
}

/** Binds `kernels` and runs them in order in one pass over `tokens` tokens; a validation error fails the test. */
async function runKernels(device: GPUDevice, tokens: number, kernels: () => BoundKernel[]): Promise<void> {
  await withGpuErrorScope(device, 'linear', () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const kernel of kernels()) dispatch(pass, kernel, { tokenCount: tokens });
    pass.end();
    device.queue.submit([encoder.finish()]);
  });
}

async function run(testCase: Case, kernel: 'gemv' | 'gemm', schedule?: LinearSchedule, tile?: MatmulTile) {
  const context = await testGpu();
  const { device } = context;
  const { tokens, inFeatures: K, outFeatures: N } = testCase;
  const x = randomFloat32(tokens * K);
  const normWeight = randomFloat32(K);
  // The GEMV's input after the optional RMS norm, in float64.
  const input = testCase.normed ? rmsNormed(x, normWeight, tokens, K) : Float64Array.from(x);
  const matrices = testCase.gated ? 2 : 1;
  const { words, exact: w } = storeWeights(randomFloat32(matrices * N * K), testCase.dtype);
  const bias = randomFloat32(N);
  const residual = randomFloat32(tokens * N);
  const expected = new Float64Array(tokens * N);
  for (let t = 0; t < tokens; t++) {
    for (let n = 0; n < N; n++) {
      const dot = (row: number) => {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += input[t * K + k] * w[row * K + k];
        return sum;
      };
      const gate = dot(n);
      const value = testCase.gated ? (gate / (1 + Math.exp(-gate))) * dot(N + n) : gate;
      expected[t * N + n] = value + (testCase.bias ? bias[n] : 0) + (testCase.accumulate ? residual[t * N + n] : 0);
    }
  }
  // y holds the residual (or poison, which a plain y = x·Wᵀ must overwrite), then poisoned spare rows.
  const yInit = new Float32Array((tokens + SPARE_TOKENS) * N).fill(NaN);
  if (testCase.accumulate) yInit.set(residual);
  const buffers = {
    x: createStorageBuffer(device, 'x', x),
    weights: createStorageBuffer(device, 'weights', words),
    bias: createStorageBuffer(device, 'bias', bias),
    y: createStorageBuffer(device, 'y', yInit),
    normWeight: createStorageBuffer(device, 'norm weight', normWeight),
  };
  const step = new StepUniform(device);
  step.write({ tokenCount: tokens, position: 0, pageTableOffset: 0, lastRow: tokens - 1 });
  const io = { ...linearInputs(testCase, buffers), y: buffers.y, accumulate: testCase.accumulate };
  await runKernels(device, tokens, () => [
    kernel === 'gemm'
      ? bindMatmul(device, { ...io, step: step.buffer, tile })
      : bindLinear(context, { ...io, gated: testCase.gated, norm: testCase.normed ? { weight: buffers.normWeight, eps: EPS } : undefined, schedule }),
  ]);
  const y = await readFloat32(device, buffers.y, yInit.length);
  for (const buffer of [...Object.values(buffers), step.buffer]) buffer.destroy();
  return { y: y.subarray(0, tokens * N), spare: y.subarray(tokens * N), expected };
}

function expectMatch({ y, spare, expected }: Awaited<ReturnType<typeof run>>) {
  const error = relativeError(y, expected);
  expect(error, `relative error ${error}`).toBeLessThan(1e-5);
  expect(spare.every(Number.isNaN), 'rows past the token count were written').toBe(true);
}

describe.each(CASES)('linear layer, $name', (testCase) => {
  for (const schedule of SCHEDULES) {
    const name = schedule ? `workgroup ${schedule.workgroup}, ${schedule.rows} rows, batches of ${schedule.batchSteps}` : "the adapter's schedule";
    it(`decode GEMV (${name}) matches float64 and writes only its rows`, async () => expectMatch(await run(testCase, 'gemv', schedule)));
  }
  if (!testCase.gated && !testCase.normed) {
    it("prefill GEMM (the adapter's tile) matches float64 and writes only its rows", async () => expectMatch(await run(testCase, 'gemm')));
  }
});

// The schedules linearSchedule picks on a GPU, for each kind of matrix at the widths its rules tell apart (rows of
// 2,048 features, the 1B shape's, and of 4,096 and more, the 8B's): a CI without a GPU runs them nowhere else. Few
// output rows, none a multiple of the schedule's.
const GPU_RULE_CASES: Case[] = [
  { name: 'q/k/v, 1 token, 2048 → 27, RMS norm', tokens: 1, inFeatures: 2048, outFeatures: 27, dtype: 'f16', bias: false, accumulate: false, normed: true },
  { name: 'o, 1 token, 2048 → 21, residual add', tokens: 1, inFeatures: 2048, outFeatures: 21, dtype: 'f16', bias: false, accumulate: true },
  { name: 'q/k/v, 1 token, 4096 → 27, RMS norm + bias', tokens: 1, inFeatures: 4096, outFeatures: 27, dtype: 'bf16', bias: true, accumulate: false, normed: true },
  { name: 'o, 2 tokens, 4096 → 21, residual add', tokens: 2, inFeatures: 4096, outFeatures: 21, dtype: 'f16', bias: false, accumulate: true },
  { name: 'gate/up, 1 token, 2048 → 13, RMS norm + gated', tokens: 1, inFeatures: 2048, outFeatures: 13, dtype: 'f16', bias: false, accumulate: false, gated: true, normed: true },
  { name: 'gate/up, 1 token, 4096 → 13, RMS norm + gated', tokens: 1, inFeatures: 4096, outFeatures: 13, dtype: 'f32', bias: false, accumulate: false, gated: true, normed: true },
  { name: 'down, 1 token, 14336 → 9, residual add', tokens: 1, inFeatures: 14336, outFeatures: 9, dtype: 'f16', bias: false, accumulate: true },
];

describe.each(GPU_RULE_CASES)('linear layer on the schedule a GPU gets, $name', (testCase) => {
  const schedule = linearSchedule(testCase, false);
  it(`decode GEMV (workgroup ${schedule.workgroup}, ${schedule.rows} rows, batches of ${schedule.batchSteps}) matches float64 and writes only its rows`, async () =>
    expectMatch(await run(testCase, 'gemv', schedule)));
});

describe.each(GEMM_CASES)('prefill GEMM, $name', (testCase) => {
  it("the adapter's tile matches float64 and writes only its rows", async () => expectMatch(await run(testCase, 'gemm')));
});

describe.each(MATMUL_TILES.map((tile, index) => ({ tile, index, name: tileName(tile) })))('prefill GEMM, tile $name', ({ tile, index }) => {
  for (const testCase of tileCases(tile, index)) {
    it(`${testCase.name} matches float64 and writes only its rows`, async (context) => {
      const problem = tileProblem(tile, (await testGpu()).limits);
      if (problem) context.skip(problem);
      expectMatch(await run(testCase, 'gemm', undefined, tile));
    });
  }
});

interface RopeCase {
  name: string;
  tokens: number;
  /** Position of the first token. */
  position: number;
  headDim: number;
  queryHeads: number;
  kvHeads: number;
  inFeatures: number;
  dtype: WeightDtype;
  kvDtype: KvDtype;
  pageSize: number;
  bias: boolean;
}

// Head dims 64 and 128, GQA ratios 1 to 8, every weight dtype, f16 and f32 KV, tokens that cross a page, with and
// without a bias.
const ROPE_CASES: RopeCase[] = [
  { name: 'd64, 4 q / 2 kv heads, f16 W, f16 KV, bias, position 37', tokens: 1, position: 37, headDim: 64, queryHeads: 4, kvHeads: 2, inFeatures: 264, dtype: 'f16', kvDtype: 'f16', pageSize: 16, bias: true },
  { name: 'd128, 8 q / 2 kv heads, bf16 W, f32 KV, 3 tokens across a page, position 30', tokens: 3, position: 30, headDim: 128, queryHeads: 8, kvHeads: 2, inFeatures: 256, dtype: 'bf16', kvDtype: 'f32', pageSize: 16, bias: false },
  { name: 'd128, 2 q / 1 kv heads, f32 W, f16 KV, bias, position 0', tokens: 1, position: 0, headDim: 128, queryHeads: 2, kvHeads: 1, inFeatures: 128, dtype: 'f32', kvDtype: 'f16', pageSize: 4, bias: true },
  { name: 'd64, 3 q / 3 kv heads, f16 W, f32 KV, bias, 2 tokens, position 201', tokens: 2, position: 201, headDim: 64, queryHeads: 3, kvHeads: 3, inFeatures: 96, dtype: 'f16', kvDtype: 'f32', pageSize: 8, bias: true },
  { name: 'd64, 8 q / 1 kv heads, bf16 W, f16 KV, position 1000', tokens: 1, position: 1000, headDim: 64, queryHeads: 8, kvHeads: 1, inFeatures: 512, dtype: 'bf16', kvDtype: 'f16', pageSize: 32, bias: false },
];

// The adapter's schedule (rows adjusted to whole quads within a head) and explicit ones.
const ROPE_SCHEDULES: (LinearSchedule | undefined)[] = [undefined, { workgroup: 128, rows: 4, batchSteps: 2 }, { workgroup: 128, rows: 4, batchSteps: 4 }, { workgroup: 64, rows: 8, batchSteps: 1 }, { workgroup: 64, rows: 32, batchSteps: 3 }];

const POISON_F16_WORD = 0x7e007e00;
const POISON_F32_WORD = 0x7fc00000;
const PAGE_TABLE_OFFSET = 3;

/** The largest gap between adjacent f16 values around magnitude `a`. */
function f16Spacing(a: number): number {
  return a < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
}

/**
 * The q/k/v projection over RMS-normed x, rotary embedding, q to its buffer and k, v into a paged pool whose page
 * table is shuffled, against float64 in Hugging Face's order; `fused` runs it as the GEMV's epilogue, `separate` as
 * the GEMV then rope_kv.wgsl. q's buffer, its spare rows and both pools start poisoned (NaN).
 */
async function runRope(testCase: RopeCase, path: 'fused' | 'separate', schedule?: LinearSchedule) {
  const context = await testGpu();
  const { device } = context;
  const { tokens, position, headDim: D, queryHeads: QH, kvHeads: KVH, inFeatures: K, pageSize } = testCase;
  const layout: PagedKvLayout = { pageSize, numKvHeads: KVH, headDim: D, dtype: testCase.kvDtype };
  const N = (QH + 2 * KVH) * D;
  const half = D / 2;
  const x = randomFloat32(tokens * K);
  const normWeight = randomFloat32(K);
  const input = rmsNormed(x, normWeight, tokens, K);
  const { words, exact: w } = storeWeights(randomFloat32(N * K), testCase.dtype);
  const bias = randomFloat32(N);
  // cos and sin as the engine's table holds them (f32), and the float64 values of those f32s.
  const rope = new Float32Array((position + tokens) * half * 2);
  for (let p = 0; p < position + tokens; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * 10000 ** (-(2 * i) / D);
      rope[2 * (p * half + i)] = Math.cos(angle);
      rope[2 * (p * half + i) + 1] = Math.sin(angle);
    }
  }

  // Float64 reference in dimension order: qkv rows, then q and k rotated.
  const qkv = new Float64Array(tokens * N);
  for (let t = 0; t < tokens; t++) {
    for (let n = 0; n < N; n++) {
      let sum = testCase.bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) sum += input[t * K + k] * w[n * K + k];
      qkv[t * N + n] = sum;
    }
    for (let head = 0; head < QH + KVH; head++) {
      const base = t * N + head * D;
      for (let i = 0; i < half; i++) {
        const [cos, sin] = [rope[2 * ((position + t) * half + i)], rope[2 * ((position + t) * half + i) + 1]];
        const [low, high] = [qkv[base + i], qkv[base + i + half]];
        qkv[base + i] = low * cos - high * sin;
        qkv[base + i + half] = high * cos + low * sin;
      }
    }
  }

  // A shuffled page table starting at PAGE_TABLE_OFFSET, with spare pages in the pool.
  const tablePages = Math.ceil((position + tokens) / pageSize);
  const poolPages = PAGE_TABLE_OFFSET + tablePages + 2;
  const order = Array.from({ length: poolPages }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const pageTable = Uint32Array.from(order.slice(0, PAGE_TABLE_OFFSET + tablePages));
  const poolWords = poolPages * KVH * pageSize * rowWords(layout);
  const poison = testCase.kvDtype === 'f16' ? POISON_F16_WORD : POISON_F32_WORD;

  // The GPU's inputs: q and k rows (and bias) in rope-paired order.
  const qkRows = (QH + KVH) * D;
  const rowBytes = words.byteLength / N;
  const pairedWords = new Uint8Array(words.byteLength);
  pairedWords.set(toRopePairedOrder(new Uint8Array(words.buffer, 0, qkRows * rowBytes), D, rowBytes));
  pairedWords.set(new Uint8Array(words.buffer, qkRows * rowBytes), qkRows * rowBytes);
  const pairedBias = Float32Array.from(bias);
  pairedBias.set(new Float32Array(toRopePairedOrder(new Uint8Array(bias.buffer, 0, qkRows * 4), D, 4).buffer));

  const buffers = {
    x: createStorageBuffer(device, 'x', x),
    weights: createStorageBuffer(device, 'weights', pairedWords),
    bias: createStorageBuffer(device, 'bias', pairedBias),
    normWeight: createStorageBuffer(device, 'norm weight', normWeight),
    qkv: createStorageBuffer(device, 'qkv', new Float32Array(tokens * N).fill(NaN)),
    q: createStorageBuffer(device, 'q', new Float32Array((tokens + SPARE_TOKENS) * QH * D).fill(NaN)),
    rope: createStorageBuffer(device, 'rope', rope),
    pageTable: createStorageBuffer(device, 'page table', pageTable),
    keyPool: createStorageBuffer(device, 'key pool', new Uint32Array(poolWords).fill(poison)),
    valuePool: createStorageBuffer(device, 'value pool', new Uint32Array(poolWords).fill(poison)),
  };
  const step = new StepUniform(device);
  step.write({ tokenCount: tokens, position, pageTableOffset: PAGE_TABLE_OFFSET, lastRow: tokens - 1 });
  const targets = { layout, queryHeads: QH, step: step.buffer, rope: buffers.rope, pageTable: buffers.pageTable, keyPool: buffers.keyPool, valuePool: buffers.valuePool };
  const linear = { ...linearInputs({ ...testCase, outFeatures: N }, buffers), norm: { weight: buffers.normWeight, eps: EPS }, schedule };
  await runKernels(device, tokens, () =>
    path === 'fused'
      ? [bindLinear(context, { ...linear, y: buffers.q, ropeKv: targets })]
      : [bindLinear(context, { ...linear, y: buffers.qkv }), bindRopeKv(device, { label: 'rope+kv', ...targets, qkv: buffers.qkv, q: buffers.q })],
  );
  const q = await readFloat32(device, buffers.q, (tokens + SPARE_TOKENS) * QH * D);
  const pools = [buffers.keyPool, buffers.valuePool].map(async (pool) => new Uint32Array(await readBuffer(device, pool)));
  const [keyPool, valuePool] = await Promise.all(pools);
  for (const buffer of [...Object.values(buffers), step.buffer]) buffer.destroy();

  const expectedQ = new Float64Array(tokens * QH * D);
  for (let t = 0; t < tokens; t++) expectedQ.set(qkv.subarray(t * N, t * N + QH * D), t * QH * D);
  // The pools' written rows as values (f16 words unpacked) beside float64's, and every other word, which must
  // still be poison.
  const kv = { actual: [] as number[], expected: [] as number[] };
  const written = new Set<number>();
  for (let t = 0; t < tokens; t++) {
    const p = position + t;
    const page = pageTable[PAGE_TABLE_OFFSET + Math.floor(p / pageSize)];
    for (const [pool, part] of [[keyPool, QH], [valuePool, QH + KVH]] as const) {
      for (let kvHead = 0; kvHead < KVH; kvHead++) {
        const rowWord = rowWordOffset(layout, page, kvHead, p % pageSize);
        for (let d = 0; d < D; d++) {
          const word = testCase.kvDtype === 'f16' ? rowWord + (d >> 1) : rowWord + d;
          const bits = pool[word];
          const value = testCase.kvDtype === 'f16' ? float16BitsToFloat32(d % 2 === 0 ? bits & 0xffff : bits >>> 16) : new Float32Array(Uint32Array.of(bits).buffer)[0];
          kv.actual.push(value);
          kv.expected.push(qkv[t * N + (part + kvHead) * D + d]);
          written.add((pool === keyPool ? 0 : poolWords) + word);
        }
      }
    }
  }
  const unwritten = [...keyPool, ...valuePool].filter((word, i) => !written.has(i) && word !== poison).length;
  return { q: q.subarray(0, tokens * QH * D), spareQ: q.subarray(tokens * QH * D), expectedQ, kv, unwritten };
}

function expectRopeMatch(testCase: RopeCase, result: Awaited<ReturnType<typeof runRope>>) {
  const { q, spareQ, expectedQ, kv, unwritten } = result;
  const qError = relativeError(q, expectedQ);
  expect(qError, `q relative error ${qError}`).toBeLessThan(1e-5);
  expect(spareQ.every(Number.isNaN), 'q rows past the token count were written').toBe(true);
  if (testCase.kvDtype === 'f32') {
    const kvError = relativeError(kv.actual, kv.expected);
    expect(kvError, `K/V relative error ${kvError}`).toBeLessThan(1e-5);
  } else {
    // Each f16 must be a rounding of a value within 1e-5 (relative to the values' RMS) of float64's.
    const tolerance = 1e-5 * Math.sqrt(kv.expected.reduce((sum, v) => sum + v * v, 0) / kv.expected.length);
    const misses = kv.expected.filter((v, i) => !(Math.abs(kv.actual[i] - v) <= tolerance + f16Spacing(Math.abs(v) + tolerance))).length;
    expect(misses, 'K/V values further than an f16 step from float64').toBe(0);
  }
  expect(unwritten, 'pool words outside the tokens\' rows that were written').toBe(0);
}

describe.each(ROPE_CASES)('q/k/v projection with rotary embedding and KV write, $name', (testCase) => {
  for (const schedule of ROPE_SCHEDULES) {
    const name = schedule ? `workgroup ${schedule.workgroup}, ${schedule.rows} rows, batches of ${schedule.batchSteps}` : "the adapter's schedule";
    it(`decode GEMV with the rotary epilogue (${name}) matches float64 and writes only its rows`, async (context) => {
      if (!decodeFusesRopeKv(await testGpu())) context.skip('the adapter has too few storage buffers per stage for the rotary epilogue');
      expectRopeMatch(testCase, await runRope(testCase, 'fused', schedule));
    });
  }
  it('decode GEMV then rope_kv.wgsl (the two-dispatch path) matches float64 and writes only its rows', async () => {
    expectRopeMatch(testCase, await runRope(testCase, 'separate'));
  });
});

describe('the rotary epilogue', () => {
  it('refuses rows per workgroup that straddle heads or split quads', async (context) => {
    if (!decodeFusesRopeKv(await testGpu())) context.skip('the adapter has too few storage buffers per stage for the rotary epilogue');
    for (const rows of [6, 48]) {
      await expect(runRope(ROPE_CASES[0], 'fused', { workgroup: 64, rows, batchSteps: 1 })).rejects.toThrow(/multiple of 4 that divides the head dimension 64/);
    }
  });
});
