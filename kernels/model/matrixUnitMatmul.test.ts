import { describe, expect, it } from 'vitest';
import type { GpuContext, MatrixUnitShape } from '../gpu/context.ts';
import { testGpu } from '../../test/gpu.ts';
import { createStorageBuffer } from '../gpu/buffers.ts';
import { bindPrefillMatmul, MATRIX_UNIT_TILES, matrixUnitProblem, matrixUnitTile, matrixUnitTileName } from './matrixUnitMatmul.ts';
import { StepUniform } from './stepUniform.ts';

// The matrix-unit kernel itself runs only where the adapter has subgroup matrices (not SwiftShader): it is checked
// against float64 on the H200 by bench/matmul.ts and, end to end, by bench/checkModels.ts. Here: which tile the
// engine picks for which shape, and that everything else falls back to the portable GEMM.

const SHAPE: MatrixUnitShape = { M: 16, N: 16, K: 16, subgroupSize: 32 };

/** A context as an adapter with 16 × 16 × 16 matrix units would describe itself (nothing is dispatched on it). */
function matrixUnitContext(workgroupBytes = 49152): GpuContext {
  return {
    features: { timestampQuery: true, subgroups: true, shaderF16: true, subgroupMinSize: 32, subgroupMaxSize: 32, matrixUnits: SHAPE },
    limits: { maxComputeWorkgroupStorageSize: workgroupBytes, maxComputeInvocationsPerWorkgroup: 1024 },
  } as unknown as GpuContext;
}

describe('the prefill GEMM on matrix units', () => {
  const context = matrixUnitContext();

  it('takes the largest tile that still fills the GPU', () => {
    const tile = (outFeatures: number, tokens: number, device = context) =>
      matrixUnitTileName(matrixUnitTile(device, { inFeatures: 2048, outFeatures, weightDtype: 'f16' }, tokens)!, SHAPE);
    // A 1B model at 512 tokens: gate+up and q/k/v have 512 and 96 workgroups of 128 × 128; o and down 64 of
    // 128 × 128, 128 of 128 × 64.
    expect(tile(16384, 512)).toBe('mma 128x128/4x2sg/2x4/k64');
    expect(tile(3072, 512)).toBe('mma 128x128/4x2sg/2x4/k64');
    expect(tile(2048, 512)).toBe('mma 128x64/4x2sg/2x2/k32');
    // Too few tokens for any tile to fill the GPU: the smallest.
    expect(tile(2048, 8)).toBe('mma 64x64/2x2sg/2x2/k32');
    // 32 KiB of workgroup memory (WebGPU's default limit is 16): no room for the first, k in 64s.
    expect(tile(16384, 512, matrixUnitContext(32768))).toBe('mma 128x64/4x2sg/2x2/k32');
    expect(matrixUnitTile(context, { inFeatures: 2048, outFeatures: 2048, weightDtype: 'bf16' }, 2048)).toBe(MATRIX_UNIT_TILES[0]);
  });

  it('says why a shape or adapter cannot use them', () => {
    const tile = MATRIX_UNIT_TILES[0];
    expect(matrixUnitProblem(context, tile, 2048, 'f32')).toMatch(/f32 weights/);
    expect(matrixUnitProblem(context, tile, 2080, 'f16')).toMatch(/not a multiple of the k tile 64/);
    expect(matrixUnitProblem(matrixUnitContext(16384), MATRIX_UNIT_TILES[1], 2048, 'f16')).toMatch(/bytes of workgroup memory exceed the device's 16384/);
    expect(matrixUnitTile(context, { inFeatures: 2056, outFeatures: 512, weightDtype: 'f16' }, 512)).toBeUndefined();
    expect(matrixUnitTile(context, { inFeatures: 2080, outFeatures: 16384, weightDtype: 'f16' }, 512)).toBe(MATRIX_UNIT_TILES[1]);
    expect(matrixUnitProblem(context, tile, 2048, 'f16')).toBeUndefined();
  });

  it('falls back to the portable GEMM on an adapter without them, or when x must stay f32', async () => {
    const gpu = await testGpu();
    const { device } = gpu;
    const step = new StepUniform(device);
    const io = {
      label: 'fallback',
      inFeatures: 64,
      outFeatures: 32,
      weightDtype: 'f16' as const,
      weights: createStorageBuffer(device, 'w', 64 * 32 * 2),
      x: createStorageBuffer(device, 'x', 8 * 64 * 4),
      y: createStorageBuffer(device, 'y', 8 * 32 * 4),
      step: step.buffer,
    };
    expect(bindPrefillMatmul(gpu, io, false).onMatrixUnits).toBe(false);
    expect(bindPrefillMatmul(gpu, io, true).onMatrixUnits).toBe(gpu.features.matrixUnits !== undefined);
  });
});
