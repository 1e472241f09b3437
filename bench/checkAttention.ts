// The attention kernel tests' float64 checks on whatever adapter Dawn finds: run on the GPU in the same call that
// benchmarks it, so the kernel specialized for that GPU (its subgroup size, its tuning) is checked where it runs.
//   node dist-node/checkAttention.mjs      prints one line per case and ends "N passed, N failed"
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import { relativeError } from '../test/pagedKvFixture.ts';
import { CAUSAL_SCHEDULES, CAUSAL_SHAPES, makeCase, makeCausalCase, PREFILL_SHAPES, runAttention, runCausalChunk, SCHEDULES, SHAPES } from '../test/attentionCases.ts';
import { CPU_CAUSAL_TILE, GPU_CAUSAL_TILE, GPU_CAUSAL_TILE_IN_32K, GPU_SMALL_CAUSAL_TILE, causalTileProblem } from '../kernels/attention/causalChunkVariant.ts';
import { exitAfterFlush } from '../cli/exit.ts';
import { CheckTally } from './checkTally.ts';

const TOLERANCE = 1e-4;

async function main(): Promise<number> {
  const context = await createNodeGpuContext();
  console.log(`adapter: ${context.adapter.description}; subgroups ${context.features.subgroupMinSize}–${context.features.subgroupMaxSize}`);
  const tally = new CheckTally();
  const report = tally.report.bind(tally);
  // The benchmark's streamed tunings; 256 invocations of rows of 4 lanes (SwiftShader) outgrow workgroup memory.
  const tunings = [{}, { workgroup: 64, unroll: 1 }, { lanes: 16, unroll: 2 }, ...(context.features.subgroupMinSize >= 16 ? [{ workgroup: 256, unroll: 2 }] : [])];
  for (const streamed of [true, false]) {
    for (const shape of SHAPES) {
      const testCase = makeCase(shape);
      for (const { name, ...schedule } of SCHEDULES) {
        for (const tuning of streamed ? tunings : [{}]) {
          const run = await runAttention(context, testCase.fixture, testCase.queries, shape.group, { ...schedule, ...tuning, streamed });
          const error = relativeError(run.out, testCase.expected);
          report(`decode ${shape.name}, ${name}, ${run.attention.variant.key}`, error < TOLERANCE && run.spareRowsKept, `relative error ${error.toExponential(2)}${run.spareRowsKept ? '' : ', wrote past its rows'}`);
        }
      }
      const first = await runAttention(context, testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13, streamed });
      const second = await runAttention(context, testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13, streamed });
      const same = new Uint32Array(first.out.buffer).every((bits, i) => bits === new Uint32Array(second.out.buffer)[i]);
      report(`decode ${shape.name}, lean grid 13, ${first.attention.variant.key}, twice`, same, same ? 'the same bits' : 'bits differ between runs');
    }
    for (const shape of CAUSAL_SHAPES) {
      const testCase = makeCausalCase(shape);
      for (const { name, ...schedule } of CAUSAL_SCHEDULES) {
        const run = await runAttention(context, testCase.fixture, testCase.queries, shape.group, { ...schedule, streamed }, testCase.what);
        const error = relativeError(run.out, testCase.expected);
        report(`causal ${shape.name}, ${name}, ${run.attention.variant.key}`, error < TOLERANCE && run.spareRowsKept, `relative error ${error.toExponential(2)}${run.spareRowsKept ? '' : ', wrote past its rows'}`);
      }
    }
  }
  // The prefill kernel: every tile the adapter runs, whole and split, and the same bits twice.
  for (const shape of PREFILL_SHAPES) {
    const testCase = makeCausalCase(shape);
    const chunk = { position: shape.position, count: shape.count };
    for (const tile of [GPU_CAUSAL_TILE, GPU_CAUSAL_TILE_IN_32K, GPU_SMALL_CAUSAL_TILE, CPU_CAUSAL_TILE]) {
      if (causalTileProblem(tile, shape.layout.headDim, context.limits)) continue;
      for (const splits of [1, 3]) {
        const run = await runCausalChunk(context, testCase.fixture, testCase.queries, shape.group, chunk, { tile, splits });
        const error = relativeError(run.out, testCase.expected);
        report(`prefill ${shape.name}, ${run.attention.variant.key}, ${splits} split(s)`, error < TOLERANCE && run.spareRowsKept, `relative error ${error.toExponential(2)}${run.spareRowsKept ? '' : ', wrote past its rows'}`);
      }
    }
    const first = await runCausalChunk(context, testCase.fixture, testCase.queries, shape.group, chunk, { splits: 3 });
    const second = await runCausalChunk(context, testCase.fixture, testCase.queries, shape.group, chunk, { splits: 3 });
    const same = new Uint32Array(first.out.buffer).every((bits, i) => bits === new Uint32Array(second.out.buffer)[i]);
    report(`prefill ${shape.name}, ${first.attention.variant.key}, 3 splits, twice`, same, same ? 'the same bits' : 'bits differ between runs');
  }
  return tally.finish();
}

main().then(
  (code) => exitAfterFlush(code),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return exitAfterFlush(1);
  },
);
