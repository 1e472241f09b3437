// The attention kernel tests' float64 checks on whatever adapter Dawn finds: run on the GPU in the same call that
// benchmarks it, so the kernel specialized for that GPU (its subgroup size, its tuning) is checked where it runs.
//   node dist-node/checkAttention.mjs [--toggles TOGGLES]   prints one line per case and ends "N passed, N failed"
// Where the adapter has subgroup matrices (on an NVIDIA GPU: --toggles
// enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia), prefill's causal attention on the matrix
// units too, against float64 of q rounded to f16 as the kernel rounds it.
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../kernels/gpu/half.ts';
import { causalMatrixUnitsProblem } from '../kernels/attention/causalMatrixUnits.ts';
import { parseFlags } from '../cli/flags.ts';
import { relativeError } from '../test/pagedKvFixture.ts';
import { CAUSAL_SCHEDULES, CAUSAL_SHAPES, makeCase, makeCausalCase, PREFILL_SHAPES, runAttention, runCausalChunk, runCausalMatrixUnits, SCHEDULES, SHAPES, type CausalShape } from '../test/attentionCases.ts';
import { CPU_CAUSAL_TILE, GPU_CAUSAL_TILE, GPU_CAUSAL_TILE_IN_32K, GPU_SMALL_CAUSAL_TILE, causalTileProblem } from '../kernels/attention/causalChunkVariant.ts';
import { runProgram } from '../cli/exit.ts';
import { CheckTally } from './checkTally.ts';

const TOLERANCE = 1e-4;

/**
 * The matrix units round the softmax weights to f16 before P·V (their sum counts them rounded too): a weighted
 * mean with weights perturbed by up to 2⁻¹¹ each, which the float64 reference cannot replay.
 */
const MATRIX_UNIT_TOLERANCE = 2e-3;

/** Beyond CAUSAL_SHAPES: chunks as the engine runs them (512 tokens), deep in a context, GQA 1/4/8. */
const MATRIX_UNIT_SHAPES: CausalShape[] = [
  { name: 'd64 g4 f16 p16, 512 queries after 3000', layout: { headDim: 64, numKvHeads: 2, pageSize: 16, dtype: 'f16' }, group: 4, position: 3000, count: 512 },
  { name: 'd128 g8 f16 p16, 300 queries after 1500', layout: { headDim: 128, numKvHeads: 1, pageSize: 16, dtype: 'f16' }, group: 8, position: 1500, count: 300 },
  { name: 'd64 g1 f16 p32, 77 queries from 0', layout: { headDim: 64, numKvHeads: 2, pageSize: 32, dtype: 'f16' }, group: 1, position: 0, count: 77 },
  { name: 'd128 g4 f16 p16, 1 query after 70', layout: { headDim: 128, numKvHeads: 2, pageSize: 16, dtype: 'f16' }, group: 4, position: 70, count: 1 },
];

async function checkMatrixUnits(context: GpuContext, report: (name: string, passed: boolean, detail: string) => void): Promise<void> {
  const shapes = [...CAUSAL_SHAPES, ...MATRIX_UNIT_SHAPES].filter((shape) => !causalMatrixUnitsProblem(context, shape.layout, shape.group));
  for (const shape of shapes) {
    const testCase = makeCausalCase(shape, (q) => float16BitsToFloat32(float32ToFloat16Bits(q)));
    const run = await runCausalMatrixUnits(context, testCase.fixture, testCase.queries, shape.group, shape.position, shape.count);
    const error = relativeError(run.out, testCase.expected);
    report(`causal ${shape.name}, matrix units`, error < MATRIX_UNIT_TOLERANCE && run.spareRowsKept, `relative error ${error.toExponential(2)}${run.spareRowsKept ? '' : ', wrote past its rows'}`);
  }
}

async function main(): Promise<number> {
  const toggles = parseFlags(process.argv.slice(2)).get('toggles');
  const context = await createNodeGpuContext(typeof toggles === 'string' ? [toggles] : []);
  console.log(`adapter: ${context.adapter.description}; subgroups ${context.features.subgroupMinSize}–${context.features.subgroupMaxSize}`);
  const tally = new CheckTally();
  const report = tally.report.bind(tally);
  // The benchmark's streamed tunings; 256 invocations of rows of 4 lanes (SwiftShader) outgrow workgroup memory.
  const tunings = [{}, { workgroup: 64, unroll: 1 }, { lanes: 16, unroll: 2 }, { lanes: 4, unroll: 8 }, ...(context.features.subgroupMinSize >= 16 ? [{ workgroup: 256, unroll: 2 }] : [])];
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
  if (context.features.matrixUnits) await checkMatrixUnits(context, report);
  else console.log('no subgroup matrices on this adapter: the matrix-unit causal attention is not checked');
  return tally.finish();
}

runProgram(main);
