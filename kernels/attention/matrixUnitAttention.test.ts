// The matrix-unit kernel (matrix_unit_attention.wgsl) on an emulation of subgroup matrices (test/emulatedMatrixUnits.ts):
// CI's adapter has neither subgroup matrices nor f16, so this checks the kernel's logic (tiles straight from the
// pages, q and p split into two halves, the reference max that moves only past its headroom, the last tile's V
// staged with the rows past the length zeroed, the partial states) against float64 on the same cases as the other
// kernels. The kernel itself runs on the matrix units in bench/checkAttention.ts, where an adapter has them.
import { describe, expect, it, vi } from 'vitest';
import { CAUSAL_SHAPES, makeCase, makeCausalCase, makeClimbingCase, runAttention as runOnGpu, SCHEDULES, SHAPES, type Queries, type Run } from '../../test/attentionCases.ts';
import { relativeError, type PagedKvFixture } from '../../test/pagedKvFixture.ts';
import { testGpu } from '../../test/gpu.ts';
import type { AttentionVariantRequest } from './variant.ts';

vi.mock('./variant.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('./variant.ts')>();
  const { emulateMatrixUnits, EMULATED_MATRIX_UNITS } = await import('../../test/emulatedMatrixUnits.ts');
  return {
    ...original,
    buildAttentionVariant(request: AttentionVariantRequest) {
      const variant = original.buildAttentionVariant({ ...request, matrixUnits: EMULATED_MATRIX_UNITS });
      if (variant.kind !== 'matrixUnits') return variant;
      return { ...variant, key: `${variant.key}+emulated`, attentionCode: emulateMatrixUnits(variant.attentionCode) };
    },
  };
});

async function runAttention(fixture: PagedKvFixture, queries: Float32Array, group: number, options: Parameters<typeof runOnGpu>[4], what?: Queries): Promise<Run> {
  const run = await runOnGpu(await testGpu(), fixture, queries, group, { ...options, matrixUnits: true }, what);
  expect(run.attention.variant.kind, 'the shape fits the matrix-unit kernel').toBe('matrixUnits');
  expect(run.spareRowsKept, 'rows past the last query were written').toBe(true);
  return run;
}

const fitting = SHAPES.filter((shape) => shape.layout.dtype === 'f16' && shape.group <= 8);

// One workgroup walking every head (grid 1) is the emulation's slowest case: the first shape alone takes it.
describe.each(fitting)('matrix-unit decode attention, $name', (shape) => {
  const testCase = makeCase(shape);
  const schedules = shape === fitting[0] ? SCHEDULES : SCHEDULES.filter((schedule) => schedule.grid !== 1);

  it.each(schedules)('$name: matches float64', async ({ name: _, ...schedule }) => {
    const { out } = await runAttention(testCase.fixture, testCase.queries, shape.group, schedule);
    const error = relativeError(out, testCase.expected);
    expect(error, `relative error ${error}`).toBeLessThan(1e-4);
  });
});

describe('matrix-unit decode attention', () => {
  it('gives the same bits on every run', async () => {
    const shape = fitting[0];
    const testCase = makeCase(shape);
    const first = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13 });
    const second = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid: 13 });
    expect(first.attention.currentPlan.splitHeadCount).toBeGreaterThan(0);
    expect(new Uint32Array(second.out.buffer)).toEqual(new Uint32Array(first.out.buffer));
  });

  // Each row's max moves past its headroom tile after tile: O is rescaled through workgroup memory again and again.
  it('matches float64 with scores climbing by 100 along the context', async () => {
    const { fixture, queries, group, expected } = makeClimbingCase();
    for (const grid of [2, 9]) {
      const { out } = await runAttention(fixture, queries, group, { kernel: 'lean', grid });
      const error = relativeError(out, expected);
      expect(error, `grid ${grid}: relative error ${error}`).toBeLessThan(1e-4);
    }
  });
});

// Causal blocks: one query of a GQA group of 4 or 8 a work head, and two queries of 4 (rows that see one token more
// than the others).
describe.each(CAUSAL_SHAPES.filter((shape) => shape.layout.dtype === 'f16'))('matrix-unit causal attention, $name', (shape) => {
  const testCase = makeCausalCase(shape);

  it('matches float64, heads whole and split', async () => {
    const runs = [{ queriesPerHead: 1, grid: 3 }, ...(shape.group === 4 ? [{ queriesPerHead: 2, grid: 16 }] : [{ queriesPerHead: 1, grid: 16 }])];
    for (const { queriesPerHead, grid } of runs) {
      const { attention, out } = await runAttention(testCase.fixture, testCase.queries, shape.group, { kernel: 'lean', grid, queriesPerHead }, testCase.what);
      expect(attention.variant.queries).toBe(queriesPerHead);
      const error = relativeError(out, testCase.expected);
      expect(error, `${queriesPerHead} queries a head, grid ${grid}: relative error ${error}`).toBeLessThan(1e-4);
    }
  });
});
