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
function matrixUnitContext(workgroupBytes = 32768): GpuContext {
  return {
    features: { timestampQuery: true, subgroups: true, shaderF16: true, subgroupMinSize: 32, subgroupMaxSize: 32, matrixUnits: SHAPE },
    limits: { maxComputeWorkgroupStorageSize: workgroupBytes, maxComputeInvocationsPerWorkgroup: 1024 },
  } as unknown as GpuContext;
}

describe('the prefill GEMM on matrix units', () => {
  const context = matrixUnitContext();

  it('takes 128 × 128 tiles where they fill the GPU, smaller ones where they do not', () => {
    const gateUp = matrixUnitTile(context, { inFeatures: 2048, outFeatures: 16384, weightDtype: 'f16' }, 512)!;
    expect(matrixUnitTileName(gateUp, SHAPE)).toBe('mma 128x128/2x2sg/4x4/k32');
    // q/k/v of a 1B model at 512 tokens: 24 × 4 workgroups of 128 × 128, 24 × 8 of 128 × 64, 48 × 8 of 64 × 64.
    const qkv = matrixUnitTile(context, { inFeatures: 2048, outFeatures: 3072, weightDtype: 'bf16' }, 512)!;
    expect(matrixUnitTileName(qkv, SHAPE)).toBe('mma 64x64/2x2sg/2x2/k32');
    // Too few tokens for any tile to fill the GPU: the smallest.
    const short = matrixUnitTile(context, { inFeatures: 2048, outFeatures: 16384, weightDtype: 'f16' }, 8)!;
    expect(matrixUnitTileName(short, SHAPE)).toBe('mma 64x64/2x2sg/2x2/k32');
  });

  it('says why a shape or adapter cannot use them', () => {
    const tile = MATRIX_UNIT_TILES[0];
    expect(matrixUnitProblem(context, tile, 2048, 'f32')).toMatch(/f32 weights/);
    expect(matrixUnitProblem(context, tile, 2056, 'f16')).toMatch(/not a multiple of the k tile 32/);
    expect(matrixUnitProblem(matrixUnitContext(16384), tile, 2048, 'f16')).toMatch(/bytes of workgroup memory exceed the device's 16384/);
    expect(matrixUnitTile(context, { inFeatures: 2056, outFeatures: 512, weightDtype: 'f16' }, 512)).toBeUndefined();
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
