import { describe, expect, it } from 'vitest';
import { randomFloat32, relativeError } from '../../test/pagedKvFixture.ts';
import { testGpu } from '../../test/gpu.ts';
import { withGpuErrorScope } from '../gpu/context.ts';
import { createStorageBuffer, readFloat32 } from '../gpu/buffers.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToFloat16Bits } from '../gpu/half.ts';
import { dispatch, type WeightDtype } from './boundKernel.ts';
import { bindLinear, type LinearSchedule } from './linear.ts';
import { bindMatmul, MATMUL_TILES, tileName, tileProblem, type MatmulTile } from './matmul.ts';
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

async function run(testCase: Case, kernel: 'gemv' | 'gemm', schedule?: LinearSchedule, tile?: MatmulTile) {
  const context = await testGpu();
  const { device } = context;
  const { tokens, inFeatures: K, outFeatures: N } = testCase;
  const x = randomFloat32(tokens * K);
  const normWeight = randomFloat32(K);
  // The GEMV's input after the optional RMS norm, in float64.
  const input = Float64Array.from(x);
  if (testCase.normed) {
    for (let t = 0; t < tokens; t++) {
      const row = x.subarray(t * K, (t + 1) * K);
      const scale = 1 / Math.sqrt(row.reduce((sum, v) => sum + v * v, 0) / K + EPS);
      for (let k = 0; k < K; k++) input[t * K + k] = row[k] * scale * normWeight[k];
    }
  }
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
  const io = {
    label: testCase.name,
    inFeatures: K,
    outFeatures: N,
    weightDtype: testCase.dtype,
    weights: buffers.weights,
    bias: testCase.bias ? buffers.bias : undefined,
    x: buffers.x,
    y: buffers.y,
    accumulate: testCase.accumulate,
  };
  await withGpuErrorScope(device, 'linear', () => {
    const bound =
      kernel === 'gemm'
        ? bindMatmul(device, { ...io, step: step.buffer, tile })
        : bindLinear(context, { ...io, gated: testCase.gated, norm: testCase.normed ? { weight: buffers.normWeight, eps: EPS } : undefined, schedule });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(pass, bound, { tokenCount: tokens });
    pass.end();
    device.queue.submit([encoder.finish()]);
  });
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
