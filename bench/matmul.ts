// Prefill GEMM benchmark: a layer's projections as GEMMs over a prefill chunk, under every tile, in one run.
//   node dist-node/matmul.mjs [--shape llama-3.2-1b] [--tokens 64,256,512] [--tiles 128x64/8x8/k16/registers,...]
//                             [--quick] [--repeats N] [--json] [--toggles enable-dawn-features=...]
// 1. Each matrix of one layer (fused q/k/v, o with the residual add, fused gate/up, down with the residual add),
//    f16 weights, at each chunk length: GPU time and TFLOP/s of the kernel before this tiling (bench/
//    matmul_before.wgsl) and of the tiled kernel under each tile, the ratio to the kernel before, and the error
//    against float64 at sampled outputs; the engine's tile for the matrix marked *.
// 2. The layer's four GEMMs summed: per tile, with the engine's tile per matrix, with the best tile per matrix.
// --tiles replaces the tiles offered (MATMUL_TILES); the engine's choices always run. Where the adapter has subgroup
// matrices (on an NVIDIA GPU: --toggles enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia), the
// matrix-unit tiles (MATRIX_UNIT_TILES, "mma ...") run too, checked against float64 of x rounded to f16.
// --quick (a CPU adapter): the tiny shape, one chunk length, the kernel before and the adapter's tiles.
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { createStorageBuffer, readBuffer, readFloat32 } from '../kernels/gpu/buffers.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../kernels/gpu/half.ts';
import { measurePasses } from '../kernels/gpu/timing.ts';
import { bindGroup, dispatch, modelPipeline, shapeUniform, WEIGHT_SNIPPETS, type BoundKernel } from '../kernels/model/boundKernel.ts';
import { linearBuffers } from '../kernels/model/linear.ts';
import { bindMatmul, MATMUL_TILES, matmulTile, parseTile, tileName, tileProblem, type MatmulBinding } from '../kernels/model/matmul.ts';
import { StepUniform } from '../kernels/model/stepUniform.ts';
import { bindMatrixUnitMatmul, MATRIX_UNIT_TILES, matrixUnitProblem, matrixUnitTile, matrixUnitTileName, type MatrixUnitTile } from '../kernels/model/matrixUnitMatmul.ts';
import { relativeError } from '../test/pagedKvFixture.ts';
import { runProgram } from '../cli/exit.ts';
import { parseFlags } from '../cli/flags.ts';
import beforeWgsl from './matmul_before.wgsl?raw';
import { projectionBenchFlags } from './benchFlags.ts';
import { formatTable } from '../cli/table.ts';

interface Matrix {
  name: string;
  inFeatures: number;
  outFeatures: number;
  accumulate?: boolean;
}

interface Row {
  matrix: string;
  tokens: number;
  /** A tile's name, or BEFORE. */
  kernel: string;
  engineChoice: boolean;
  us: number;
  tflops: number;
  /** Time of the kernel before over this one's. */
  speedup: number;
  /** Relative error against float64 at sampled outputs of the longest chunk. */
  error: number;
}

const BEFORE = 'before (5f5fdeb)';
/** The kernel before's fixed tile (its TILE_ROWS × TILE_TOKENS). */
const BEFORE_ROWS = 64;
const BEFORE_TOKENS = 32;

/** The GEMM before this tiling, bound as the engine bound it then. */
function bindBefore(device: GPUDevice, b: MatmulBinding): BoundKernel {
  const key = `matmul-before/${b.weightDtype}${b.bias ? '/bias' : ''}${b.accumulate ? '/acc' : ''}`;
  const { code, pipeline } = modelPipeline(device, key, beforeWgsl, {
    TILE_ROWS: BEFORE_ROWS,
    TILE_TOKENS: BEFORE_TOKENS,
    HAS_BIAS: b.bias ? 'true' : 'false',
    ACCUMULATE: b.accumulate ? 'true' : 'false',
    WEIGHTS: WEIGHT_SNIPPETS[b.weightDtype],
  });
  const shape = shapeUniform(device, code, b.label, { inFeatures: b.inFeatures, outFeatures: b.outFeatures });
  const rowTiles = Math.ceil(b.outFeatures / BEFORE_ROWS);
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, [shape, b.step, ...linearBuffers(b)]),
    grid: (step) => [rowTiles, Math.ceil(step.tokenCount / BEFORE_TOKENS)],
  };
}

/** Outputs checked against float64 per matrix and kernel. */
const SAMPLES = 256;

/** x, W (f16) and y for a matrix at the longest chunk, and the float64 reference at sampled outputs. */
async function matrixData(context: GpuContext, m: Matrix, maxTokens: number) {
  const { device } = context;
  const { inFeatures: K, outFeatures: N } = m;
  const weights = createStorageBuffer(device, `${m.name} weights`, N * K * 2);
  fillRandom(device, weights, (N * K) / 2, 'f16', 11);
  const x = createStorageBuffer(device, `${m.name} x`, maxTokens * K * 4);
  fillRandom(device, x, maxTokens * K, 'f32', 12);
  const y = createStorageBuffer(device, `${m.name} y`, maxTokens * N * 4);
  const xValues = await readFloat32(device, x, maxTokens * K);
  const halves = new Uint16Array(await readBuffer(device, weights, N * K * 2));
  const samples = Array.from({ length: SAMPLES }, (_, i) => ({ token: (i * 7919) % maxTokens, row: Math.floor(((i + 0.5) / SAMPLES) * N) }));
  const reference = (round: (v: number) => number) =>
    new Float64Array(
      samples.map(({ token, row }) => {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += round(xValues[token * K + k]) * float16BitsToFloat32(halves[row * K + k]);
        return sum;
      }),
    );
  // The matrix units multiply x rounded to f16: their reference rounds it too, so the check stays as tight.
  return { weights, x, y, samples, expected: reference((v) => v), expectedF16Inputs: reference((v) => float16BitsToFloat32(float32ToFloat16Bits(v))) };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const json = flags.has('json');
  const repeats = Number(flags.get('repeats') ?? (quick ? 3 : 20));
  const { toggles, shapeName, config } = projectionBenchFlags(flags, quick);
  const tokenCounts = String(flags.get('tokens') ?? (quick ? '64' : '64,256,512')).split(',').map(Number);
  if (tokenCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`--tokens wants positive whole numbers, got ${flags.get('tokens')}`);
  const maxTokens = Math.max(...tokenCounts);

  const context = await createNodeGpuContext(toggles);
  const { device } = context;
  const log = (line: string) => {
    if (!json) console.log(line);
  };
  const { limits } = device;
  log(`adapter: ${context.adapter.description} (${context.adapter.vendor}); workgroup memory up to ${limits.maxComputeWorkgroupStorageSize} bytes, ${limits.maxComputeInvocationsPerWorkgroup} invocations`);
  if (toggles.length) log(`DIAGNOSTIC RUN with Dawn toggles ${toggles.join(' ')}: not what Chrome runs`);

  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim } = config;
  const matrices: Matrix[] = [
    { name: 'qkv', inFeatures: h, outFeatures: (numHeads + 2 * numKvHeads) * headDim },
    { name: 'o (+residual)', inFeatures: numHeads * headDim, outFeatures: h, accumulate: true },
    { name: 'gate+up', inFeatures: h, outFeatures: 2 * inter },
    { name: 'down (+residual)', inFeatures: inter, outFeatures: h, accumulate: true },
  ];
  // The engine's choice with an f16 KV cache: the matrix units where the adapter has them.
  const matrixShape = context.features.matrixUnits;
  const choices = matrices.map((m) => {
    const onMatrixUnits = matrixUnitTile(context, { ...m, weightDtype: 'f16' }, maxTokens);
    return onMatrixUnits ? matrixUnitTileName(onMatrixUnits, matrixShape) : tileName(matmulTile(m.outFeatures, maxTokens, device));
  });
  const offered = typeof flags.get('tiles') === 'string' ? (flags.get('tiles') as string).split(',').map(parseTile) : quick ? [] : MATMUL_TILES;
  const candidates = [...matrices.map((m) => matmulTile(m.outFeatures, maxTokens, device)), ...offered];
  const tiles = candidates.filter((t, i) => candidates.findIndex((u) => tileName(u) === tileName(t)) === i);
  for (const t of tiles) {
    const problem = tileProblem(t, limits);
    if (problem) log(`skipped ${tileName(t)}: ${problem}`);
  }
  const runnable = tiles.filter((t) => !tileProblem(t, limits));
  type Config = { componentType: string; resultComponentType: string; M: number; N: number; K: number };
  const configs = (device as GPUDevice & { adapterInfo?: { subgroupMatrixConfigs?: Config[] } }).adapterInfo?.subgroupMatrixConfigs;
  if (configs) log(`subgroup matrix configurations: ${configs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ')}`);
  const matrixTiles = new Map<string, MatrixUnitTile>();
  if (matrixShape) {
    log(`matrix units: ${matrixShape.M} × ${matrixShape.N} × ${matrixShape.K} f16 → f32, subgroups of ${matrixShape.subgroupSize}`);
    for (const t of MATRIX_UNIT_TILES) {
      const problems = matrices.map((m) => matrixUnitProblem(context, t, m.inFeatures, 'f16')).filter(Boolean);
      if (problems.length) log(`skipped ${matrixUnitTileName(t, matrixShape)}: ${problems[0]}`);
      else matrixTiles.set(matrixUnitTileName(t, matrixShape), t);
    }
  } else {
    log('matrix units: none on this adapter (Dawn on an NVIDIA GPU offers them with --toggles enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia)');
  }
  const kernels = [BEFORE, ...runnable.map(tileName), ...matrixTiles.keys()];
  log(`\nshape ${shapeName}, f16 weights; median of ${repeats} passes; * = the engine's tile for the matrix in chunks of ${maxTokens}; error: against float64 at ${SAMPLES} outputs of ${maxTokens} tokens`);

  const step = new StepUniform(device);
  const setTokens = (tokenCount: number) => step.write({ tokenCount, position: 0, pageTableOffset: 0, lastRow: tokenCount - 1 });
  const rows: Row[] = [];
  for (const [index, m] of matrices.entries()) {
    const data = await matrixData(context, m, maxTokens);
    const beforeUs = new Map<number, number>();
    for (const kernelName of kernels) {
      const binding: MatmulBinding = {
        label: `${m.name} ${kernelName}`,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        weightDtype: 'f16',
        weights: data.weights,
        x: data.x,
        y: data.y,
        accumulate: m.accumulate,
        step: step.buffer,
      };
      const matrixTile = matrixTiles.get(kernelName);
      const kernel =
        kernelName === BEFORE
          ? bindBefore(device, binding)
          : matrixTile
            ? bindMatrixUnitMatmul(context, { ...binding, matrixTile })
            : bindMatmul(device, { ...binding, tile: runnable[kernels.indexOf(kernelName) - 1] });
      // One pass into a zeroed y (the residual add then adds to 0), its sampled outputs against float64.
      setTokens(maxTokens);
      device.queue.writeBuffer(data.y, 0, new Float32Array(maxTokens * m.outFeatures));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      dispatch(pass, kernel, { tokenCount: maxTokens });
      pass.end();
      device.queue.submit([encoder.finish()]);
      const y = await readFloat32(device, data.y, maxTokens * m.outFeatures);
      const error = relativeError(data.samples.map(({ token, row }) => y[token * m.outFeatures + row]), matrixTile ? data.expectedF16Inputs : data.expected);
      for (const tokens of tokenCounts) {
        setTokens(tokens);
        const { ms } = await measurePasses(context, repeats, (p) => dispatch(p, kernel, { tokenCount: tokens }));
        const us = ms * 1000;
        if (kernelName === BEFORE) beforeUs.set(tokens, us);
        const tflops = (2 * tokens * m.inFeatures * m.outFeatures) / (ms * 1e9);
        rows.push({ matrix: m.name, tokens, kernel: kernelName, engineChoice: kernelName === choices[index], us, tflops, speedup: beforeUs.get(tokens)! / us, error });
      }
    }
    for (const b of [data.weights, data.x, data.y]) b.destroy();
  }

  if (json) {
    console.log(JSON.stringify({ adapter: context.adapter.description, shape: shapeName, repeats, engineChoices: Object.fromEntries(matrices.map((m, i) => [m.name, choices[i]])), rows }, null, 1));
  } else {
    const order = (r: Row) => matrices.findIndex((m) => m.name === r.matrix);
    const sorted = [...rows].sort((a, b) => order(a) - order(b) || a.tokens - b.tokens);
    console.log(
      formatTable(
        ['matrix', 'tokens', 'kernel', 'µs', 'TFLOP/s', '× before', 'error'],
        sorted.map((r) => [r.matrix, r.tokens, `${r.kernel}${r.engineChoice ? ' *' : ''}`, r.us.toFixed(1), r.tflops.toPrecision(3), r.speedup.toFixed(2), r.error.toExponential(1)]),
      ),
    );
    console.log(`\none layer's four GEMMs (${matrices.map((m) => m.name).join(', ')}), summed; * = the engine's tile per matrix`);
    const layerRows: (string | number)[][] = [];
    const bestLines: string[] = [];
    for (const tokens of tokenCounts) {
      const layerFlops = matrices.reduce((sum, m) => sum + 2 * tokens * m.inFeatures * m.outFeatures, 0);
      const at = rows.filter((r) => r.tokens === tokens);
      const sum = (pick: (r: Row) => boolean) => at.filter(pick).reduce((s, r) => s + r.us, 0);
      const before = sum((r) => r.kernel === BEFORE);
      const line = (name: string, us: number) => [tokens, name, us.toFixed(1), (layerFlops / (us * 1e6)).toPrecision(3), (before / us).toFixed(2)];
      const best = matrices.map((m) => at.filter((r) => r.matrix === m.name && r.kernel !== BEFORE).reduce((a, b) => (b.us < a.us ? b : a)));
      layerRows.push(line("the engine's tiles *", sum((r) => r.engineChoice)), line('the best tile per matrix', best.reduce((s, r) => s + r.us, 0)));
      const perKernel = kernels.map((k) => ({ k, us: sum((r) => r.kernel === k) })).sort((a, b) => a.us - b.us);
      for (const { k, us } of perKernel) layerRows.push(line(k, us));
      bestLines.push(`best at ${tokens} tokens: ${best.map((r) => `${r.matrix} ${r.kernel} (${r.tflops.toPrecision(3)} TFLOP/s)`).join('; ')}`);
    }
    console.log(formatTable(['tokens', 'kernel', 'µs', 'TFLOP/s', '× before'], layerRows));
    console.log(`\n${bestLines.join('\n')}`);
    const worst = rows.reduce((a, b) => (b.error > a.error ? b : a));
    console.log(`largest error against float64 (x rounded to f16 for the matrix units, as they compute): ${worst.error.toExponential(2)} (${worst.matrix}, ${worst.kernel})${worst.error < 1e-5 ? '' : ': ABOVE 1e-5, a kernel computes wrong results on this adapter'}`);
  }
  step.buffer.destroy();
  device.destroy();
}

runProgram(main);
