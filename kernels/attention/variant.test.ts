import { describe, expect, it } from 'vitest';
import { buildAttentionVariant, type AttentionVariantRequest } from './variant.ts';

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
