import { isCpuAdapterInfo } from '../gpu/context.ts';
import { bindGroup, modelPipeline, WEIGHT_SNIPPETS, type BoundKernel } from './boundKernel.ts';
import { checkLinearShape, linearBuffers, type LinearIo } from './linear.ts';
import matmulWgsl from './matmul.wgsl?raw';

/**
 * How the prefill GEMM tiles its output: a workgroup owns `rows` output features × `tokens` tokens, each invocation
 * a `threadRows` × `threadTokens` block of them in registers ((rows / threadRows) · (tokens / threadTokens)
 * invocations), and K is staged through workgroup memory `kStep` at a time.
 */
export interface MatmulTile {
  rows: number;
  tokens: number;
  /** Multiples of 4 that divide `rows` and `tokens`. */
  threadRows: number;
  threadTokens: number;
  /** A multiple of 8. */
  kStep: number;
  /**
   * How the next k slice arrives: 'none' loads it after the current one is computed (load, barrier, compute,
   * barrier: the kernel before this tiling), 'registers' issues its loads before the current slice is computed,
   * 'workgroup' does that too and stores it beside the current slice (twice the workgroup memory, one barrier).
   */
  buffering: 'none' | 'registers' | 'workgroup';
}

/**
 * A CPU adapter (SwiftShader) runs a workgroup's invocations in turn on a few cores, switching at every barrier: few
 * invocations with much work each. 16 invocations of 8 × 8; on SwiftShader (2 cores, tiny-bench shapes, 64 tokens)
 * 2.2x the kernel before, where 4 × 4 blocks gained nothing. K in 8s: a quarter less unrolled code than 16s
 * (65k against 88k characters), which SwiftShader compiles that much sooner; prefill no slower (pydoc-chat-6m, 192
 * tokens: with CPU_CAUSAL_TILE's slices its load took 15 against 31 s).
 */
const CPU_TILE: MatmulTile = { rows: 32, tokens: 32, threadRows: 8, threadTokens: 8, kStep: 8, buffering: 'none' };

/**
 * A GPU wants many multiply-adds per byte read from workgroup memory (an 8 × 8 block: 64 per four 16-byte reads)
 * and enough workgroups to fill it. 128 × 64 tiles of 128 invocations, 12 KiB.
 */
const GPU_TILE: MatmulTile = { rows: 128, tokens: 64, threadRows: 8, threadTokens: 8, kStep: 16, buffering: 'registers' };

/**
 * 128 × 128 tiles of 256 invocations, 16 KiB: half the workgroups of GPU_TILE, each W and x value staged serves
 * twice the multiply-adds. On the H200 the fused gate/up GEMM of a 1B model over 512 tokens ran 1.14x faster than
 * on GPU_TILE (1,042 against 1,190 µs, BENCHMARKS.md); only shapes that still fill the GPU with it get it.
 */
const GPU_WIDE_TILE: MatmulTile = { rows: 128, tokens: 128, threadRows: 8, threadTokens: 8, kStep: 16, buffering: 'registers' };

/** 8 × 4 blocks: twice the workgroups of GPU_TILE for a shape; 8 KiB. */
const GPU_NARROW_TILE: MatmulTile = { rows: 64, tokens: 64, threadRows: 8, threadTokens: 4, kStep: 16, buffering: 'registers' };

/** 4 × 4 blocks: four times the workgroups of GPU_TILE, for small outputs (N = 2048 over a few hundred tokens). */
const GPU_SMALL_TILE: MatmulTile = { rows: 64, tokens: 32, threadRows: 4, threadTokens: 4, kStep: 16, buffering: 'registers' };

/** Workgroups a chunk should give a GPU: about two per SM of a large one (the H200 has 132). */
const GPU_FILL_WORKGROUPS = 256;

/** The GEMM's tile before the register-blocked kernel (64 × 32, 4 × 4 per invocation, k in 32s, no overlap). */
export const PREVIOUS_TILE: MatmulTile = { rows: 64, tokens: 32, threadRows: 4, threadTokens: 4, kStep: 32, buffering: 'none' };

/**
 * The tiles a benchmark compares and the tests check: the previous shape, the defaults, and each default with one
 * thing changed (overlap, k step, stages, block and workgroup sizes). Those beyond 16 KiB of workgroup memory run
 * only where the device allows.
 */
export const MATMUL_TILES: MatmulTile[] = [
  PREVIOUS_TILE,
  CPU_TILE,
  GPU_WIDE_TILE,
  GPU_TILE,
  GPU_NARROW_TILE,
  GPU_SMALL_TILE,
  { rows: 128, tokens: 64, threadRows: 8, threadTokens: 8, kStep: 16, buffering: 'none' },
  { rows: 128, tokens: 64, threadRows: 8, threadTokens: 8, kStep: 8, buffering: 'workgroup' },
  { rows: 128, tokens: 64, threadRows: 8, threadTokens: 8, kStep: 16, buffering: 'workgroup' },
  { rows: 64, tokens: 64, threadRows: 8, threadTokens: 8, kStep: 16, buffering: 'registers' },
  { rows: 128, tokens: 32, threadRows: 8, threadTokens: 4, kStep: 16, buffering: 'registers' },
  { rows: 64, tokens: 64, threadRows: 4, threadTokens: 4, kStep: 16, buffering: 'registers' },
];

/** `rows`x`tokens`/`threadRows`x`threadTokens`/k`kStep`/`buffering`, as `parseTile` reads it. */
export function tileName(t: MatmulTile): string {
  return `${t.rows}x${t.tokens}/${t.threadRows}x${t.threadTokens}/k${t.kStep}/${t.buffering}`;
}

export function parseTile(name: string): MatmulTile {
  const match = /^(\d+)x(\d+)\/(\d+)x(\d+)\/k(\d+)\/(none|registers|workgroup)$/.exec(name);
  if (!match) throw new Error(`tile "${name}" is not ROWSxTOKENS/THREAD_ROWSxTHREAD_TOKENS/kK_STEP/none|registers|workgroup, e.g. 128x64/8x8/k16/registers`);
  const [rows, tokens, threadRows, threadTokens, kStep] = match.slice(1, 6).map(Number);
  return { rows, tokens, threadRows, threadTokens, kStep, buffering: match[6] as MatmulTile['buffering'] };
}

export function tileInvocations(t: MatmulTile): number {
  return (t.rows / t.threadRows) * (t.tokens / t.threadTokens);
}

/** Bytes of workgroup memory the tile stages: its W and x slices, once or twice. */
export function tileWorkgroupBytes(t: MatmulTile): number {
  return (t.buffering === 'workgroup' ? 2 : 1) * (t.rows + t.tokens) * t.kStep * 4;
}

/** Why `device` cannot run `t` (a malformed tile or one beyond the device's limits), or undefined when it can. */
export function tileProblem(t: MatmulTile, limits: GPUSupportedLimits): string | undefined {
  const { rows, tokens, threadRows, threadTokens, kStep } = t;
  if (threadRows % 4 || threadTokens % 4 || rows % threadRows || tokens % threadTokens) {
    return `the register block ${threadRows} × ${threadTokens} must be multiples of 4 that divide ${rows} × ${tokens}`;
  }
  if (kStep % 8 || kStep <= 0) return `k step ${kStep} must be a positive multiple of 8`;
  const invocations = tileInvocations(t);
  const maxInvocations = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (invocations > maxInvocations) return `${invocations} invocations per workgroup exceed the device's ${maxInvocations}`;
  if (tileWorkgroupBytes(t) > limits.maxComputeWorkgroupStorageSize) {
    return `${tileWorkgroupBytes(t)} bytes of workgroup memory exceed the device's ${limits.maxComputeWorkgroupStorageSize}`;
  }
  return undefined;
}

/**
 * The tile for N output features and chunks of up to `maxTokens` tokens on `device`: CPU_TILE on a CPU adapter; on a
 * GPU, the largest tile whose grid at a full chunk still has GPU_FILL_WORKGROUPS workgroups (GPU_WIDE_TILE for the
 * gate/up of a 1B model at 512 tokens, GPU_TILE at 256, smaller blocks for N of a few thousand), else the smallest.
 * Tiles beyond the device's limits are passed over (none of these is, at WebGPU's defaults).
 */
export function matmulTile(outFeatures: number, maxTokens: number, device: GPUDevice): MatmulTile {
  // `adapterInfo` is missing from older browsers' devices: they get the GPU choice.
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (info && isCpuAdapterInfo(info)) return CPU_TILE;
  const fitting = [GPU_WIDE_TILE, GPU_TILE, GPU_NARROW_TILE, GPU_SMALL_TILE].filter((t) => !tileProblem(t, device.limits));
  const workgroups = (t: MatmulTile) => Math.ceil(outFeatures / t.rows) * Math.ceil(maxTokens / t.tokens);
  return fitting.find((t) => workgroups(t) >= GPU_FILL_WORKGROUPS) ?? fitting.at(-1) ?? CPU_TILE;
}

/** Tokens a call of `b` has at most: its `maxTokens`, else the rows its x buffer holds (the engine's prefill chunk). */
export function chunkTokens(b: MatmulBinding): number {
  return b.maxTokens ?? Math.floor(b.x.size / (4 * b.inFeatures));
}

export interface MatmulBinding extends LinearIo {
  /** The step uniform: its token count is the number of rows of x. */
  step: GPUBuffer;
  /** Tokens a call has at most, for `matmulTile` (default: the rows x holds, the engine's prefill chunk). */
  maxTokens?: number;
  /** Overrides `matmulTile` (benchmarks compare tiles). */
  tile?: MatmulTile;
}

/** The prefill linear layer (a GEMM over the chunk's tokens), compiled for its shape and tile. */
export function bindMatmul(device: GPUDevice, b: MatmulBinding): BoundKernel {
  checkLinearShape(b);
  const tile = b.tile ?? matmulTile(b.outFeatures, chunkTokens(b), device);
  const problem = tileProblem(tile, device.limits);
  if (problem) throw new Error(`${b.label}: tile ${tileName(tile)} cannot run here: ${problem}`);
  const { rows, tokens, threadRows, threadTokens, kStep, buffering } = tile;
  const workgroup = tileInvocations(tile);
  const flags = `${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}`;
  const key = `matmul/${b.weightDtype}/${b.inFeatures}x${b.outFeatures}/${tileName(tile)}${flags}`;
  const { pipeline } = modelPipeline(
    device,
    key,
    matmulWgsl,
    {
      IN_FEATURES: b.inFeatures,
      OUT_FEATURES: b.outFeatures,
      TILE_ROWS: rows,
      TILE_TOKENS: tokens,
      THREAD_ROWS: threadRows,
      THREAD_TOKENS: threadTokens,
      K_STEP: kStep,
      STAGES: buffering === 'workgroup' ? 2 : 1,
      PREFETCH: buffering === 'none' ? 'false' : 'true',
      HAS_BIAS: b.bias ? 'true' : 'false',
      ACCUMULATE: b.accumulate ? 'true' : 'false',
      WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
    },
    {
      VEC: 4,
      K_STEP: kStep,
      ROW_VECS: threadRows / 4,
      TOKEN_VECS: threadTokens / 4,
      // Units of four rows × one oct, of four tokens × one quad.
      WEIGHT_LOADS: Math.ceil((rows / 4) * (kStep / 8) / workgroup),
      INPUT_LOADS: Math.ceil((tokens / 4) * (kStep / 4) / workgroup),
    },
  );
  const rowTiles = Math.ceil(b.outFeatures / rows);
  if (rowTiles > device.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`${b.label}: ${b.outFeatures} rows in tiles of ${rows} need ${rowTiles} workgroups, beyond the device's ${device.limits.maxComputeWorkgroupsPerDimension}`);
  }
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [b.step, ...linearBuffers(b)]),
    grid: (step) => [Math.ceil(step.tokenCount / tokens), rowTiles],
  };
}
