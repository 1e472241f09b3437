import { describe, expect, it } from 'vitest';
import { decodeWindows, makePagedKv, randomFloat32, referenceAttention, relativeError, type PagedKvFixture } from '../../test/pagedKvFixture.ts';
import {
  CAUSAL_SCHEDULES,
  CAUSAL_SHAPES,
  makeCase,
  makeCausalCase,
  runAttention as runOnGpu,
  runWithPoisonedOut,
  SCHEDULES,
  SHAPES,
  type Queries,
  type Run,
} from '../../test/attentionCases.ts';
import { testGpu } from '../../test/gpu.ts';
import { DecodeAttention } from './decodeAttention.ts';

/** Runs a case on the test adapter; nothing may be written past the last query's rows. */
async function runAttention(fixture: PagedKvFixture, queries: Float32Array, group: number, options: Parameters<typeof runOnGpu>[4], what?: Queries): Promise<Run> {
  const run = await runOnGpu(await testGpu(), fixture, queries, group, options, what);
  expect(run.spareRowsKept, 'rows past the last query were written').toBe(true);
  return run;
}

describe.each(SHAPES)('decode attention, $name', (shape) => {
  const testCase = makeCase(shape);

  for (const streamed of [true, false]) {
    it.each(SCHEDULES)(`$name, ${streamed ? 'streamed' : 'staged'} kernel: matches float64`, async ({ name: _, ...schedule }) => {
      const { attention, out } = await runAttention(testCase.fixture, testCase.queries, shape.group, { ...schedule, streamed });
      expect(attention.variant.kind, 'the test adapter must run the kernel asked for').toBe(streamed ? 'streamed' : 'staged');
      const error = relativeError(out, testCase.expected);
      expect(error, `relative error ${error}`).toBeLessThan(1e-4);
    });
  }
});

describe('decode attention across kernels', () => {
  const shape = SHAPES[0];
  const testCase = makeCase(shape);

  for (const streamed of [true, false]) {
    it(`${streamed ? 'streamed' : 'staged'} kernel gives the same bits on every run (partials merge in a fixed order)`, async () => {
      const first = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13, streamed });
      const second = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13, streamed });
      expect(first.attention.currentPlan.splitHeadCount).toBeGreaterThan(0);
      expect(new Uint32Array(second.out.buffer)).toEqual(new Uint32Array(first.out.buffer));
    });
  }

  it('streamed kernel with other workgroup sizes and unrolls, fd with its own split count: matches float64', async () => {
    for (const tuning of [{ workgroup: 64, unroll: 1, lanes: 2 }, { workgroup: 128, unroll: 3 }]) {
      const lean = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 5, ...tuning });
      expect(lean.attention.variant.key).toContain(`/w${tuning.workgroup}/u${tuning.unroll}`);
      expect(relativeError(lean.out, testCase.expected)).toBeLessThan(1e-4);
    }
    // 8 heads on 11 concurrent workgroups: the heuristic picks 4 splits (2.9 waves), more ranges than the buffers
    // were first made for (max(heads, grid)), so they grow and the bindings follow.
    const fd = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'fd', grid: 11 });
    expect(fd.attention.currentPlan.splits).toBe(4);
    expect(fd.attention.currentPlan.rangeCount).toBeGreaterThan(11);
    expect(relativeError(fd.out, testCase.expected)).toBeLessThan(1e-4);
  });

  it('a step whose heads keep their tile counts reuses the plan and reads the new lengths', async () => {
    const context = await testGpu();
    const attention = new DecodeAttention(context, { layout: shape.layout, group: shape.group, maxSequences: shape.lengths.length, defaultsFor: 'gpu', kernel: 'lean', grid: 7 });
    // Each sequence's first token of its last tile: as many tiles as the lengths the case attends to.
    const tile = attention.variant.tile;
    const earlier = shape.lengths.map((n) => n - ((n - 1) % tile));
    expect(earlier).not.toEqual(shape.lengths);
    const { out, spareRowsKept } = await runWithPoisonedOut(context, testCase.fixture, testCase.queries, shape.group, (io, encoder) => {
      attention.planBatch(earlier, testCase.fixture.pageTableOffsets);
      attention.planBatch(testCase.fixture.lengths, testCase.fixture.pageTableOffsets);
      attention.encode(encoder, attention.createBindings(io));
    });
    attention.destroy();
    expect(spareRowsKept).toBe(true);
    expect(relativeError(out, testCase.expected)).toBeLessThan(1e-4);
  });

  it("a CPU adapter's defaults (a workgroup per core, 32 invocations a token a step) match float64, lean, fd and fa2", async () => {
    const { hostCores } = (await testGpu()).adapter;
    for (const kernel of ['lean', 'fd', 'fa2'] as const) {
      const { attention, out } = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel, defaultsFor: 'cpu' });
      expect(attention.variant.key).toContain('/w32/u1');
      expect(attention.grid).toBe(hostCores);
      expect(relativeError(out, testCase.expected), kernel).toBeLessThan(1e-4);
    }
  });

  it('lean, fd and fa2 agree with each other, on both kernels', async () => {
    const fa2 = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'fa2' });
    for (const streamed of [true, false]) {
      const lean = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13, streamed });
      const fd = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'fd', splits: 4, streamed });
      expect(relativeError(lean.out, fa2.out)).toBeLessThan(1e-5);
      expect(relativeError(fd.out, fa2.out)).toBeLessThan(1e-5);
    }
  });
});

// The streamed kernel's reduce-scatter of q·k gives each of a K row's lanes its own query rows: with fewer rows than
// lanes several lanes own each row (group 2 on rows of 4 lanes), and rows are padded to a power of two (groups 3
// and 6: the padding rows score −∞ and are never written).
describe.each([2, 3, 6])('decode attention, GQA group %i on the streamed kernel', (group) => {
  const shape = { name: `d64 g${group} f16 p16`, layout: { headDim: 64, numKvHeads: 2, pageSize: 16, dtype: 'f16' as const }, group, lengths: [37, 300] };
  const testCase = makeCase(shape);

  it('matches float64, heads whole and split', async () => {
    for (const grid of [2, 7]) {
      const { attention, out } = await runAttention(testCase.fixture, testCase.queries, group, { kernel: 'lean', grid });
      expect(attention.variant.kind).toBe('streamed');
      const error = relativeError(out, testCase.expected);
      expect(error, `grid ${grid}: relative error ${error}`).toBeLessThan(1e-4);
    }
  });
});

// The streams of a workgroup merge at the end of a segment first inside each subgroup, by shuffles between the lanes
// that hold the same dimensions of other streams: with fewer lanes per K row than the subgroup has (1 and 2 here;
// SwiftShader's subgroups hold 4), one or two levels run. While a lane's quads of o halve evenly a level keeps half
// of them on each partner (d=8 with 1 lane: 2 quads, one such level and then a butterfly; d=24: 6 quads, 3 kept);
// the subgroup's o then lies spread over its streams. The subgroups' states merge `mergeRows` query rows per barrier
// pair, as many as workgroup memory holds.
describe.each([
  { lanes: 1, headDim: 64, group: 1, mergeRows: 1 },
  { lanes: 2, headDim: 128, group: 4, mergeRows: 1 },
  { lanes: 1, headDim: 64, group: 8, mergeRows: 2 },
  { lanes: 2, headDim: 64, group: 8, mergeRows: 2 },
  // 16 subgroups of 4: every row in one round.
  { lanes: 2, headDim: 64, group: 4, mergeRows: 4, workgroup: 64 },
  { lanes: 1, headDim: 8, group: 4, mergeRows: 4 },
  { lanes: 1, headDim: 24, group: 2, mergeRows: 2 },
])('decode attention, streams merged by shuffles ($lanes lanes per row, d$headDim, GQA $group, $mergeRows rows a round)', ({ lanes, headDim, group, mergeRows, workgroup }) => {
  const shape = { name: `d${headDim} g${group}`, layout: { headDim, numKvHeads: 2, pageSize: 16, dtype: 'f16' as const }, group, lengths: [5, 133, 290] };
  const testCase = makeCase(shape);

  it('matches float64, heads whole and split', async () => {
    for (const grid of [3, 11]) {
      const { attention, out } = await runAttention(testCase.fixture, testCase.queries, group, { kernel: 'lean', grid, lanes, workgroup });
      expect(attention.variant.key).toContain(`/l${lanes}/`);
      expect(attention.variant.attentionCode).toContain(`const MERGE_ROWS: u32 = ${mergeRows}u;`);
      const error = relativeError(out, testCase.expected);
      expect(error, `grid ${grid}: relative error ${error}`).toBeLessThan(1e-4);
    }
  });
});

// Scores that climb by ~100 along the context (key dimension 0 falls from −100 to 0 against a query dimension 0 of 8,
// at 1/√64): every stream's running max moves many times, and weights taken against a max that lags its scores
// (e^100) overflow f32.
describe('decode attention, scores climbing by 100 along the context', () => {
  const layout = { headDim: 64, numKvHeads: 2, pageSize: 16, dtype: 'f16' as const };
  const lengths = [700, 261];
  const group = 4;
  const fixture = makePagedKv(layout, lengths, (sequence, token, d, drawn) => (d === 0 ? -100 * (1 - token / (lengths[sequence] - 1)) : drawn));
  const queries = randomFloat32(lengths.length * layout.numKvHeads * group * layout.headDim).map((x, i) => (i % layout.headDim === 0 ? 8 : 3 * x));
  const expected = referenceAttention(fixture, queries, group, decodeWindows(lengths));

  for (const streamed of [true, false]) {
    it(`${streamed ? 'streamed' : 'staged'} kernel: matches float64, heads whole and split`, async () => {
      for (const grid of [2, 9]) {
        const { out } = await runAttention(fixture, queries, group, { kernel: 'lean', grid, streamed });
        const error = relativeError(out, expected);
        expect(error, `grid ${grid}: relative error ${error}`).toBeLessThan(1e-4);
      }
    });
  }
});

describe.each(CAUSAL_SHAPES)('causal prefill attention, $name', (shape) => {
  const testCase = makeCausalCase(shape);

  for (const streamed of [true, false]) {
    it.each(CAUSAL_SCHEDULES)(`$name, ${streamed ? 'streamed' : 'staged'} kernel: matches float64`, async ({ name: _, ...schedule }) => {
      const { attention, out } = await runAttention(testCase.fixture, testCase.queries, shape.group, { ...schedule, streamed }, testCase.what);
      expect(attention.variant.kind).toBe(streamed ? 'streamed' : 'staged');
      expect(attention.variant.queries * shape.group, 'query rows share each K and V read').toBeGreaterThanOrEqual(4);
      const error = relativeError(out, testCase.expected);
      expect(error, `relative error ${error}`).toBeLessThan(1e-4);
    });
  }
});

describe('causal prefill attention across kernels', () => {
  const shape = CAUSAL_SHAPES[0];
  const testCase = makeCausalCase(shape);
  const run = (options: Parameters<typeof runAttention>[3]) => runAttention(testCase.fixture, testCase.queries, shape.group, options, testCase.what);

  it('gives the same bits on every run', async () => {
    const first = await run({ kernel: 'lean', grid: 13 });
    const second = await run({ kernel: 'lean', grid: 13 });
    expect(first.attention.currentPlan.splitHeadCount).toBeGreaterThan(0);
    expect(new Uint32Array(second.out.buffer)).toEqual(new Uint32Array(first.out.buffer));
  });

  it('lean, fd and fa2 agree with each other', async () => {
    const lean = await run({ kernel: 'lean', grid: 13 });
    const fd = await run({ kernel: 'fd', splits: 4 });
    const fa2 = await run({ kernel: 'fa2' });
    expect(relativeError(lean.out, fa2.out)).toBeLessThan(1e-5);
    expect(relativeError(fd.out, fa2.out)).toBeLessThan(1e-5);
  });
});
