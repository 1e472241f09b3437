import { describe, expect, it } from 'vitest';
import { relativeError, type PagedKvFixture } from '../../test/pagedKvFixture.ts';
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
import { SHORT_CONTEXT_TOKENS_PER_WORKGROUP } from './variant.ts';

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

// Short decode batches run a second kernel with twice the lanes per K row (DecodeAttention's shortGrid; on the H200,
// 16 lanes at d=128 where long contexts run 8). SwiftShader's subgroups of 4 hold 2 and 4: with 2 pinned, one
// DecodeAttention runs a batch that gives its grid's workgroups more than SHORT_CONTEXT_TOKENS_PER_WORKGROUP tokens
// on 2 lanes, a shorter one on 4, and the long one again, each on the grid of its kernel.
describe('decode attention, the short-context kernel', () => {
  const shape = SHAPES[0];
  const testCase = makeCase(shape);
  const rowFloats = shape.layout.numKvHeads * shape.group * shape.layout.headDim;
  const tokens = (lengths: number[]) => lengths.reduce((a, b) => a + b) * shape.layout.numKvHeads;
  const grid = Math.floor(tokens(shape.lengths) / SHORT_CONTEXT_TOKENS_PER_WORKGROUP);
  const shortGrid = 7;

  it('runs short batches with twice the lanes and long ones without, each matching float64, the same bits twice', async () => {
    const context = await testGpu();
    const attention = new DecodeAttention(context, { layout: shape.layout, group: shape.group, maxSequences: shape.lengths.length, kernel: 'lean', grid, shortGrid, lanes: 2 });
    expect(attention.shortVariant?.lanes).toBe(4);
    const run = (lengths: number[]) =>
      runWithPoisonedOut(context, testCase.fixture, testCase.queries, shape.group, (io, encoder) => {
        attention.planBatch(lengths, testCase.fixture.pageTableOffsets.slice(0, lengths.length));
        attention.encode(encoder, attention.createBindings(io));
      });
    // The first three sequences (1,018 tokens a KV head) are short for the grid; all four (5,115) are not.
    const short = shape.lengths.slice(0, 3);
    expect(tokens(short)).toBeLessThanOrEqual(SHORT_CONTEXT_TOKENS_PER_WORKGROUP * grid);
    const outs: Float32Array[] = [];
    for (const lengths of [shape.lengths, short, shape.lengths, short]) {
      const { out } = await run(lengths);
      const isShort = lengths.length === short.length;
      expect(attention.activeVariant.lanes).toBe(isShort ? 4 : 2);
      expect(attention.currentPlan.rangeCount).toBe(isShort ? shortGrid : grid);
      expect(attention.currentPlan.splitHeadCount, 'heads split, so the merge runs too').toBeGreaterThan(0);
      const written = out.subarray(0, lengths.length * rowFloats);
      const error = relativeError(written, testCase.expected.subarray(0, written.length));
      expect(error, `${lengths.length} sequences: relative error ${error}`).toBeLessThan(1e-4);
      outs.push(written);
    }
    expect(new Uint32Array(outs[2].buffer, outs[2].byteOffset, outs[2].length)).toEqual(new Uint32Array(outs[0].buffer, outs[0].byteOffset, outs[0].length));
    expect(new Uint32Array(outs[3].buffer, outs[3].byteOffset, outs[3].length)).toEqual(new Uint32Array(outs[1].buffer, outs[1].byteOffset, outs[1].length));
    // FA2-style (a workgroup per head) keeps the long-context kernel, whose workgroups hold twice the streams.
    attention.planBatch(short, testCase.fixture.pageTableOffsets);
    expect(attention.activeVariant.lanes).toBe(4);
    attention.planBatch(short, testCase.fixture.pageTableOffsets, 'fa2');
    expect(attention.activeVariant.lanes).toBe(2);
    attention.destroy();
  });

  it('is not built where the lanes cannot double, nor without a short-context grid', async () => {
    const context = await testGpu();
    const withoutGrid = new DecodeAttention(context, { layout: shape.layout, group: shape.group, maxSequences: 1, grid, lanes: 2 });
    expect(withoutGrid.shortVariant).toBeUndefined();
    // A head of 64 dimensions has 8 words of 16 bytes: 8 lanes a row at most, whatever the subgroup (the H200's d=64
    // models run their one kernel at every context).
    const allWords = new DecodeAttention(context, { layout: { ...shape.layout, headDim: 64 }, group: shape.group, maxSequences: 1, grid, shortGrid, lanes: 8 });
    expect(allWords.shortVariant).toBeUndefined();
    for (const attention of [withoutGrid, allWords]) attention.destroy();
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

// The streams of a workgroup merge at the end of a segment first inside each subgroup, by a butterfly of shuffles
// over the lanes that hold the same dimensions of other streams: with fewer lanes per K row than the subgroup has
// (1 and 2 here; SwiftShader's subgroups hold 4), one or two levels of it run. The subgroups' states then merge
// `mergeRows` query rows per barrier pair, as many as workgroup memory holds.
describe.each([
  { lanes: 1, headDim: 64, group: 1, mergeRows: 1 },
  { lanes: 2, headDim: 128, group: 4, mergeRows: 1 },
  { lanes: 1, headDim: 128, group: 8, mergeRows: 1 },
  { lanes: 2, headDim: 64, group: 8, mergeRows: 2 },
  // 16 subgroups of 4: every row in one round.
  { lanes: 2, headDim: 64, group: 4, mergeRows: 4, workgroup: 64 },
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
