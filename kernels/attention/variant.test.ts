import { describe, expect, it } from 'vitest';
import { buildAttentionVariant, matrixUnitAttentionProblem, type AttentionVariantRequest } from './variant.ts';

const H200: Omit<AttentionVariantRequest, 'headDim' | 'group'> = { kvDtype: 'f16', subgroupMinSize: 32, maxWorkgroupStorage: 49152, pageSize: 16 };

describe('streamed attention variant', () => {
  it.each([
    { headDim: 128, group: 4, lanes: 8 },
    { headDim: 64, group: 4, lanes: 8 },
    { headDim: 64, group: 8, lanes: 8 },
    // q and o of 8 rows over 16 dimensions would take 256 registers a lane: 16 lanes of 8 dimensions instead.
    { headDim: 128, group: 8, lanes: 16 },
    { headDim: 128, group: 1, lanes: 8 },
    // A head of 32 dimensions has 4 words of 8 halves: at most 4 lanes.
    { headDim: 32, group: 4, lanes: 4 },
  ])('d=$headDim, GQA $group on subgroups of 32: $lanes lanes per K row', ({ headDim, group, lanes }) => {
    const variant = buildAttentionVariant({ ...H200, headDim, group });
    expect(variant.kind).toBe('streamed');
    expect(variant.key).toContain(`/l${lanes}/`);
  });

  it.each([
    { headDim: 128, group: 4, unroll: 4 },
    { headDim: 128, group: 8, unroll: 4 },
    // Capped at 4 tokens a step, though 4 rows of 8 dimensions leave registers for 8.
    { headDim: 64, group: 4, unroll: 4 },
    // Subgroups of 4 leave 32 dimensions a lane: 4 rows of them take 128 values, 2 tokens a step.
    { headDim: 128, group: 4, unroll: 2, subgroupMinSize: 4 },
  ])('d=$headDim, GQA $group: $unroll tokens per stream and step', ({ headDim, group, unroll, subgroupMinSize }) => {
    expect(buildAttentionVariant({ ...H200, headDim, group, subgroupMinSize: subgroupMinSize ?? 32 }).key).toMatch(new RegExp(`/u${unroll}$`));
  });

  it('keeps a K row inside the smallest subgroup', () => {
    expect(buildAttentionVariant({ ...H200, subgroupMinSize: 4, headDim: 128, group: 8 }).key).toContain('/l4/');
  });

  it('pads rows to a power of two for the reduce-scatter, and a lane owns a share of them', () => {
    const { attentionCode } = buildAttentionVariant({ ...H200, headDim: 64, group: 6 });
    expect(attentionCode).toContain('const PADDED_ROWS: u32 = 8u;');
    expect(attentionCode).toContain('const SCATTER_LEVELS: u32 = 3u;');
  });
});

describe('matrix-unit attention variant', () => {
  const MATRICES = { M: 16, N: 16, K: 16, subgroupSize: 32 };

  it.each([
    { headDim: 128, group: 4 },
    { headDim: 64, group: 8 },
    { headDim: 128, group: 1, pageSize: 256 },
    // Causal blocks: 2 queries of GQA 4 make the 8 rows the kernel holds.
    { headDim: 64, group: 4, queries: 2 },
  ])('d=$headDim, GQA $group, $queries queries: runs on the matrix units, a tile of 16 tokens', (shape) => {
    const variant = buildAttentionVariant({ ...H200, ...shape, matrixUnits: MATRICES });
    expect(variant.kind).toBe('matrixUnits');
    expect(variant.tile).toBe(16);
    expect(variant.attentionCode).not.toContain('// unroll');
  });

  it.each([
    { change: { group: 16 }, problem: '16 query rows per work head: the kernel holds 8' },
    { change: { group: 4, queries: 4 }, problem: '16 query rows per work head: the kernel holds 8' },
    { change: { kvDtype: 'f32' as const }, problem: 'the KV cache is f32: the matrix units multiply f16' },
    { change: { headDim: 72 }, problem: 'head dim 72 is not a multiple of 16' },
    { change: { pageSize: 8 }, problem: 'pages of 8 tokens do not hold whole tiles of 16' },
  ])('falls back to the streamed kernel where $problem', ({ change, problem }) => {
    const request = { ...H200, headDim: 128, group: 4, ...change };
    expect(matrixUnitAttentionProblem(MATRICES, request)).toBe(problem);
    expect(buildAttentionVariant({ ...request, matrixUnits: MATRICES }).kind).toBe('streamed');
  });

  it('needs 16 × 16 × 16 matrices on subgroups of 32', () => {
    const request = { ...H200, headDim: 128, group: 4 };
    expect(matrixUnitAttentionProblem({ ...MATRICES, M: 8, N: 8, K: 8 }, request)).toMatch(/16 × 16 × 16 matrices and subgroups of 32 \(the adapter: 8 × 8 × 8, 32\)/);
    expect(matrixUnitAttentionProblem({ ...MATRICES, subgroupSize: 64 }, request)).toMatch(/the adapter: 16 × 16 × 16, 64/);
    expect(buildAttentionVariant(request).kind, 'no matrices, no matrix-unit kernel').toBe('streamed');
  });
});
