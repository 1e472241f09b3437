import type { GpuContext, MatrixUnitShape } from '../gpu/context.ts';
import { bindGroup, modelPipeline, type BoundKernel } from './boundKernel.ts';
import { checkLinearShape, linearBuffers } from './linear.ts';
import { bindMatmul, chunkTokens, type MatmulBinding } from './matmul.ts';
import matmulMatrixUnitWgsl from './matmul_subgroup_matrix.wgsl?raw';

/**
 * How the prefill GEMM on the matrix units tiles its output: `subgroupsM` × `subgroupsN` subgroups per workgroup,
 * each holding `matsM` × `matsN` result matrices of the adapter's M × N (rows × tokens), K staged `kTile` at a time.
 */
export interface MatrixUnitTile {
  subgroupsM: number;
  subgroupsN: number;
  matsM: number;
  matsN: number;
  kTile: number;
}

/**
 * The engine's three tiles, largest first, then variants for the benchmark. On the H200 (16 × 16 × 16 matrices,
 * BENCHMARKS.md) a layer of a 1B model at 512 tokens ran 692 µs on the first (90 TFLOP/s), against 2,029 µs on
 * 128 × 128 tiles of 4 subgroups holding 4 × 4 matrices each (too many accumulators per invocation); with the best
 * tile per matrix, 655 µs: the first for q/k/v and gate/up, 128 × 64 and 64 × 64 for o and down (64 workgroups
 * of the first).
 */
export const MATRIX_UNIT_TILES: MatrixUnitTile[] = [
  { subgroupsM: 4, subgroupsN: 2, matsM: 2, matsN: 4, kTile: 64 },
  { subgroupsM: 4, subgroupsN: 2, matsM: 2, matsN: 2, kTile: 32 },
  { subgroupsM: 2, subgroupsN: 2, matsM: 2, matsN: 2, kTile: 32 },
  { subgroupsM: 4, subgroupsN: 2, matsM: 2, matsN: 4, kTile: 32 },
  { subgroupsM: 4, subgroupsN: 4, matsM: 2, matsN: 2, kTile: 32 },
];

/** The engine's choices, largest first: the first whose grid at a full chunk fills the GPU (as matmulTile). */
const ENGINE_TILES = MATRIX_UNIT_TILES.slice(0, 3);

/**
 * Workgroups that fill the GPU with a tile. On the H200 (132 SMs) the q/k/v GEMM of a 1B model at 512 tokens ran
 * faster on 96 workgroups of 128 × 128 than on 192 of 128 × 64 (72.2 against 99.8 µs), while o, at 64 workgroups
 * of 128 × 128, ran faster on 128 of 128 × 64 (63.6 against 82.1 µs).
 */
const FILL_WORKGROUPS = 96;

export function matrixUnitTileName(t: MatrixUnitTile, shape?: MatrixUnitShape): string {
  const rows = shape ? `${t.subgroupsM * t.matsM * shape.M}x${t.subgroupsN * t.matsN * shape.N}/` : '';
  return `mma ${rows}${t.subgroupsM}x${t.subgroupsN}sg/${t.matsM}x${t.matsN}/k${t.kTile}`;
}

function tileRows(t: MatrixUnitTile, shape: MatrixUnitShape): number {
  return t.subgroupsM * t.matsM * shape.M;
}

function tileTokens(t: MatrixUnitTile, shape: MatrixUnitShape): number {
  return t.subgroupsN * t.matsN * shape.N;
}

/** Why `tile` cannot run for this shape on `context` (or undefined when it can). */
export function matrixUnitProblem(context: GpuContext, t: MatrixUnitTile, inFeatures: number, weightDtype: string): string | undefined {
  const shape = context.features.matrixUnits;
  if (!shape) return 'the adapter has no f16 × f16 → f32 subgroup matrices (chromium-experimental-subgroup-matrix with shader-f16)';
  if (weightDtype === 'f32') return 'f32 weights would lose precision as f16: the portable GEMM runs them';
  const { subgroupSize } = shape;
  const workgroup = t.subgroupsM * t.subgroupsN * subgroupSize;
  if (t.kTile % shape.K || t.kTile % 8) return `k tile ${t.kTile} is not a multiple of the matrices' K ${shape.K} and of 8`;
  if (inFeatures % t.kTile) return `input features ${inFeatures} are not a multiple of the k tile ${t.kTile}`;
  const rows = tileRows(t, shape);
  const tokens = tileTokens(t, shape);
  if (((rows * t.kTile) / 8) % workgroup || ((tokens * t.kTile) / 4) % workgroup) return `the ${rows} × ${tokens} tile does not share out evenly over ${workgroup} invocations`;
  if ((shape.M * shape.N) % subgroupSize) return `an ${shape.M} × ${shape.N} matrix does not share out evenly over a subgroup of ${subgroupSize}`;
  const bytes = (rows + tokens) * (t.kTile + 8) * 2 + t.subgroupsM * t.subgroupsN * shape.M * shape.N * 4;
  if (bytes > context.limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed the device's ${context.limits.maxComputeWorkgroupStorageSize}`;
  if (workgroup > context.limits.maxComputeInvocationsPerWorkgroup) return `${workgroup} invocations exceed the device's ${context.limits.maxComputeInvocationsPerWorkgroup}`;
  return undefined;
}

/** The engine's tile for N output features in chunks of up to `maxTokens`, or undefined where none can run. */
export function matrixUnitTile(context: GpuContext, b: { inFeatures: number; outFeatures: number; weightDtype: string }, maxTokens: number): MatrixUnitTile | undefined {
  const shape = context.features.matrixUnits;
  if (!shape) return undefined;
  const fitting = ENGINE_TILES.filter((t) => !matrixUnitProblem(context, t, b.inFeatures, b.weightDtype));
  const workgroups = (t: MatrixUnitTile) => Math.ceil(b.outFeatures / tileRows(t, shape)) * Math.ceil(maxTokens / tileTokens(t, shape));
  return fitting.find((t) => workgroups(t) >= FILL_WORKGROUPS) ?? fitting.at(-1);
}

/** The prefill linear layer on the matrix units: x and W rounded to f16, summed in f32. */
export function bindMatrixUnitMatmul(context: GpuContext, b: MatmulBinding & { matrixTile: MatrixUnitTile }): BoundKernel {
  checkLinearShape(b);
  const { device } = context;
  const t = b.matrixTile;
  const problem = matrixUnitProblem(context, t, b.inFeatures, b.weightDtype);
  if (problem) throw new Error(`${b.label}: ${matrixUnitTileName(t)} cannot run here: ${problem}`);
  const shape = context.features.matrixUnits!;
  const rows = tileRows(t, shape);
  const tokens = tileTokens(t, shape);
  const workgroup = t.subgroupsM * t.subgroupsN * shape.subgroupSize;
  const flags = `${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}`;
  const key = `matmul-mma/${b.weightDtype}/${b.inFeatures}x${b.outFeatures}/${matrixUnitTileName(t, shape)}${flags}`;
  const { pipeline } = modelPipeline(
    device,
    key,
    matmulMatrixUnitWgsl,
    {
      IN_FEATURES: b.inFeatures,
      OUT_FEATURES: b.outFeatures,
      M: shape.M,
      N: shape.N,
      K: shape.K,
      MATS_M: t.matsM,
      MATS_N: t.matsN,
      SUBGROUPS_M: t.subgroupsM,
      SUBGROUPS_N: t.subgroupsN,
      SUBGROUP_SIZE: shape.subgroupSize,
      K_TILE: t.kTile,
      WEIGHTS_BF16: b.weightDtype === 'bf16' ? 'true' : 'false',
      HAS_BIAS: b.bias ? 'true' : 'false',
      ACCUMULATE: b.accumulate ? 'true' : 'false',
    },
    {
      WEIGHT_LOADS: (rows * t.kTile) / 8 / workgroup,
      INPUT_LOADS: (tokens * t.kTile) / 4 / workgroup,
      WORDS_PER_OCT: 4,
      VALUES_PER_QUAD: 4,
      K_STEPS: t.kTile / shape.K,
      MATS_M: t.matsM,
      MATS_N: t.matsN,
      RESULT_VALUES: (shape.M * shape.N) / shape.subgroupSize,
    },
  );
  const rowTiles = Math.ceil(b.outFeatures / rows);
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [b.step, ...linearBuffers(b)]),
    grid: (step) => [Math.ceil(step.tokenCount / tokens), rowTiles],
  };
}

/**
 * The prefill GEMM the adapter runs best: on the matrix units where it has them and `f16Inputs` allows x rounded to
 * f16 (the engine allows it when the KV cache is f16, the precision its attention already runs at), else the
 * portable f32 kernel.
 */
export function bindPrefillMatmul(context: GpuContext, b: MatmulBinding, f16Inputs: boolean): BoundKernel & { onMatrixUnits: boolean } {
  const matrixTile = f16Inputs ? matrixUnitTile(context, b, chunkTokens(b)) : undefined;
  if (matrixTile) return { ...bindMatrixUnitMatmul(context, { ...b, matrixTile }), onMatrixUnits: true };
  return { ...bindMatmul(context.device, b), onMatrixUnits: false };
}
