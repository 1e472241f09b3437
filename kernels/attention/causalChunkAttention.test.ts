import { describe, expect, it } from 'vitest';
import { relativeError } from '../../test/pagedKvFixture.ts';
import { makeCausalCase, PREFILL_SHAPES, runCausalChunk } from '../../test/attentionCases.ts';
import { testGpu } from '../../test/gpu.ts';
import { CPU_CAUSAL_TILE, GPU_CAUSAL_TILE, GPU_CAUSAL_TILE_IN_32K, GPU_SMALL_CAUSAL_TILE, causalTileName, causalTileProblem, type CausalTile } from './causalChunkVariant.ts';

const TOLERANCE = 1e-4;

async function run(testCase: ReturnType<typeof makeCausalCase>, group: number, options: { tile?: CausalTile; splits?: number }) {
  const { position, count } = testCase.what as { position: number; count: number };
  const result = await runCausalChunk(await testGpu(), testCase.fixture, testCase.queries, group, { position, count }, options);
  expect(result.spareRowsKept, 'rows past the last query were written').toBe(true);
  return result;
}

describe.each(PREFILL_SHAPES)('prefill attention kernel, $name', (shape) => {
  const testCase = makeCausalCase(shape);

  it.each([{ splits: 1 }, { splits: 3 }])('CPU tile, $splits split(s): matches float64', async ({ splits }) => {
    const { attention, out } = await run(testCase, shape.group, { tile: CPU_CAUSAL_TILE, splits });
    expect(attention.currentPlan.splits).toBe(splits);
    const error = relativeError(out, testCase.expected);
    expect(error, `relative error ${error}`).toBeLessThan(TOLERANCE);
  });
});

describe('prefill attention kernel across tiles and splits', () => {
  // Two row blocks of the GPU tile (the last one ragged), keys across several tiles and the diagonal.
  const shapes = [PREFILL_SHAPES[0], PREFILL_SHAPES[2], PREFILL_SHAPES[6]];

  for (const tile of [GPU_CAUSAL_TILE, GPU_CAUSAL_TILE_IN_32K, GPU_SMALL_CAUSAL_TILE]) {
    for (const shape of shapes) {
      it(`tile ${causalTileName(tile)}, ${shape.name}, 1 and 2 splits: match float64`, async ({ skip }) => {
        const context = await testGpu();
        const problem = causalTileProblem(tile, shape.layout.headDim, context.limits);
        if (problem) skip(`this adapter cannot run the tile: ${problem}`);
        const testCase = makeCausalCase(shape);
        for (const splits of [1, 2]) {
          const { attention, out } = await run(testCase, shape.group, { tile, splits });
          expect(attention.variant.key).toContain(causalTileName(tile));
          const error = relativeError(out, testCase.expected);
          expect(error, `relative error ${error}, ${splits} split(s)`).toBeLessThan(TOLERANCE);
        }
      });
    }
  }

  it('more splits than key tiles (empty splits weigh nothing)', async () => {
    const shape = PREFILL_SHAPES[3]; // 5 queries after 3: one tile of keys
    const testCase = makeCausalCase(shape);
    const { out } = await run(testCase, shape.group, { splits: 5 });
    expect(relativeError(out, testCase.expected)).toBeLessThan(TOLERANCE);
  });

  it('gives the same bits on every run (splits merge in a fixed order)', async () => {
    const shape = PREFILL_SHAPES[0];
    const testCase = makeCausalCase(shape);
    const first = await run(testCase, shape.group, { splits: 3 });
    const second = await run(testCase, shape.group, { splits: 3 });
    expect(new Uint32Array(second.out.buffer)).toEqual(new Uint32Array(first.out.buffer));
  });

  it('the adapter tile by default, split only where a GPU would idle', async () => {
    const shape = PREFILL_SHAPES[0];
    const testCase = makeCausalCase(shape);
    const context = await testGpu();
    const { attention, out } = await run(testCase, shape.group, {});
    if (context.adapter.isCpu) {
      expect(attention.tile).toEqual(CPU_CAUSAL_TILE);
      expect(attention.currentPlan.splits).toBe(1);
    }
    expect(relativeError(out, testCase.expected)).toBeLessThan(TOLERANCE);
  });
});
