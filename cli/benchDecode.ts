import { readFileSync } from 'node:fs';
import { EngineError } from '../errors/engineError.ts';
import { formatTable } from './table.ts';
import { loadModel, stopTokenIds } from '../engine/engine.ts';
import { GrammarCompiler, type CompiledGrammar, type JsonSchema } from '../engine/grammar/grammar.ts';
import { readJson } from '../engine/loader/modelFiles.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import { bytesPerPage } from '../engine/kvCache.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';
import { ModelRunner, PREFILL_ATTENTION_KERNELS, type StepTiming } from '../engine/model.ts';
import { TextCodec } from '../engine/tokenizer.ts';
import type { TimingLevel } from '../engine/stepRecorder.ts';
import { randomWeights } from '../engine/randomWeights.ts';
import { measureReadBandwidth } from '../kernels/bandwidth/measureBandwidth.ts';
import { calibrateGrid } from '../kernels/attention/calibrate.ts';
import type { AttentionTuning } from '../kernels/attention/decodeAttention.ts';
import type { PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import { ATTENTION_KERNELS, KERNEL_LABELS, type AttentionKernel } from '../kernels/attention/plan.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import { seededRandom } from '../kernels/gpu/seededRandom.ts';
import { median, WARM_UP_MS } from '../kernels/gpu/timing.ts';
import { attentionLessTimestampCost } from '../engine/timestampCost.ts';
import { ROPE_KV_LINEAR_STORAGE_BUFFERS } from '../kernels/model/linear.ts';
import { GREEDY } from '../kernels/model/sampler.ts';
import { parseModelConfig, type ModelConfig } from '../models/config.ts';
import { MODEL_SHAPES } from '../models/shapes.ts';
import { BUILTIN_MODEL_DIR } from './builtinModel.ts';
import { fileCalibrationStore } from './calibrationFile.ts';
import type { CommandSpec, FlagTable, FlagValues } from './flags.ts';

/** Timed runs of each row's decode steps: the row reports their median. */
const TIMED_RUNS = 3;

/**
 * Masked and free runs of each mask row: the row compares the fastest of each. More than a decode row's, because
 * the difference is a few percent of a run and a host pause or a slow mode of one run is larger.
 */
const MASK_RUNS = 5;

const BENCH_DECODE_FLAGS = {
  model: { type: 'text', placeholder: 'DIR', excludes: ['shape'], help: 'a model folder; without --model or --shape: the built-in pydoc-chat-6m' },
  shape: { type: 'choice', choices: Object.keys(MODEL_SHAPES), help: 'a named model shape, with random f16 weights' },
  contexts: { type: 'sizes', placeholder: 'N[,N...]', min: 1, help: 'context lengths to time decode at (default 1k,32k,128k; --quick: 256,1k)' },
  attention: { type: 'choices', choices: ATTENTION_KERNELS, help: 'the attention kernels to time, in this order (default: all)' },
  steps: { type: 'integer', placeholder: 'N', min: 1, help: 'decode steps per row (default 64; --quick: 8)' },
  'prefill-chunk': { type: 'integer', placeholder: 'N', min: 1, max: 4096, help: 'tokens per prefill forward call (default: the engine\'s, 1024 on a GPU, 64 on a CPU adapter)' },
  prefill: { type: 'sizes', placeholder: 'N[,N...]', min: 0, help: 'prompt lengths to time prefill with, with the first attention kernel; 0 skips it (default 1k,8k,32k; --quick: 0)' },
  'prefill-attention': { type: 'choice', choices: PREFILL_ATTENTION_KERNELS, help: 'the kernel of prefill\'s causal attention where the matrix units do not take it: chunk (causal_chunk_attention.wgsl) or decode (the decode kernel); default: the engine\'s' },
  grid: { type: 'integer', placeholder: 'N', min: 1, help: 'LeanAttention grid (default: calibrated on this adapter, kept in ~/.cache/lean-decode)' },
  'attention-unroll': { type: 'integer', placeholder: 'N', min: 1, max: 8, help: 'decode attention kernel tuning: tokens per stream per step (default: the kernel\'s)' },
  'attention-workgroup': { type: 'integer', placeholder: 'N', min: 32, max: 256, help: 'decode attention kernel tuning: invocations per workgroup (default: the kernel\'s)' },
  'decode-depth': { type: 'integer', placeholder: 'N', min: 1, max: 8, help: 'decode steps kept in flight while the host reads the oldest back (default: the engine\'s, 3)' },
  schema: { type: 'text', placeholder: 'FILE', help: 'the JSON schema of the mask rows (default: an object with a free string, so that most steps are inside it)' },
  toggles: { type: 'text', placeholder: 'TOGGLES', help: 'Dawn instance toggles, e.g. enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia (the matrix units on an NVIDIA GPU)' },
  'skip-mask': { type: 'switch', help: 'no mask rows (for builds whose tokens mean nothing: scripts/build-ablations.mjs)' },
  json: { type: 'switch', help: 'print the rows as JSON on stdout (the log goes to stderr)' },
  quick: { type: 'switch', help: 'a short run: contexts 256,1k, fewer steps, no prefill' },
} as const satisfies FlagTable;

type BenchDecodeFlags = FlagValues<typeof BENCH_DECODE_FLAGS>;

export const BENCH_DECODE: CommandSpec<typeof BENCH_DECODE_FLAGS> = {
  name: 'bench-decode',
  summary: 'time decode steps and prefill for each attention kernel, beside the bandwidth floor',
  synopsis: 'bench-decode [--model DIR | --shape NAME] [--contexts 1k,32k,128k] [--attention lean,fd,fa2] [--steps N] [--prefill 1k,8k,32k] [--prefill-chunk N] [--prefill-attention chunk|decode] [--decode-depth N] [--grid N] [--attention-unroll N] [--attention-workgroup N] [--schema FILE] [--skip-mask] [--toggles TOGGLES] [--json] [--quick]',
  description: `Times decode steps at each context (KV filled with random values) for each attention kernel, beside the floor:
(weight bytes + KV bytes of the context) / the measured read bandwidth. Per row: tokens/s and wall time per token
(steps recorded without timing; the median of three runs, and the slowest and fastest run's tokens/s, and the longest
wait for one token), the GPU step (timestamps around the whole step), the attention (timestamps around
each layer's, less what they cost it: half of what they add to the step), the rest and its bandwidth over the weights, and the dispatches per step. Then decode under a JSON
schema's token mask against free decode in generations of the same lengths (a text the grammar ends is followed
by a new one) at each context, with the first attention kernel, in the same run (five runs of each,
taking turns; the fastest of each compared): the mask's cost per token (a --shape has no tokenizer: the built-in model's stands in, every id past its vocabulary
masked out, so the mask is as wide as the shape's vocabulary). Then the time to the first token of prompts of each
prefill length, with the first attention kernel.`,
  flags: BENCH_DECODE_FLAGS,
};

interface Row {
  context: number;
  kernel: AttentionKernel;
  /** The median run's. */
  tokensPerSecond: number;
  /** The slowest and the fastest run's. */
  runsTokensPerSecond: [number, number];
  /** The longest wait between two tokens (or before the first) in the timed runs: a host pause shows here. */
  longestGapMs: number;
  wallMsPerToken: number;
  stepMs: number;
  /** Each layer's attention timed in a pass of its own, less what its timestamps cost it, summed (attentionLessTimestampCost). */
  attentionMs: number;
  /** What the timestamps cost each layer's figure (taken off attentionMs; 0 where the steps' spread hides it). */
  timestampCostMs: number;
  restMs: number;
  /** Weight bytes over the GPU step's time outside attention. */
  restGBps: number;
  dispatches: number;
  floorTokensPerSecond: number;
  percentOfFloor: number;
}

/** Decode under a grammar's token mask against free decode, from the same context. */
interface MaskRow {
  context: number;
  kernel: AttentionKernel;
  /** Generations (texts the grammar completed, the last one cut at the step budget) of the run with the most. */
  texts: number;
  /** The fastest free run's. */
  freeTokensPerSecond: number;
  /** The fastest masked run's. */
  maskedTokensPerSecond: number;
  /** The slowest and the fastest run's, free and masked. */
  freeRunsTokensPerSecond: [number, number];
  maskedRunsTokensPerSecond: [number, number];
  /** Wall time a token gains under the mask. */
  maskMsPerToken: number;
  percentSlower: number;
}

/**
 * The mask rows' default schema: an object with one free string, so that most steps are inside the string, where
 * nearly every token is allowed and XGrammar checks the most tokens one by one.
 */
const MASK_SCHEMA: JsonSchema = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false };

interface PrefillRow {
  tokens: number;
  kernel: AttentionKernel;
  secondsToFirstToken: number;
  tokensPerSecond: number;
}

/** Wall time of prefilling `tokens` random token ids into a fresh sequence, to the first sampled token. */
async function timePrefill(runner: ModelRunner, tokens: number, attention: AttentionKernel): Promise<number> {
  const { kv } = runner;
  const sequence = kv.createSequence();
  kv.reserve(sequence, tokens + 1);
  const random = seededRandom(7);
  runner.writeTokens(0, Array.from({ length: tokens }, () => Math.floor(random() * runner.config.vocabSize)));
  runner.beginSampling(GREEDY, []);
  const start = performance.now();
  await runner.prefill(sequence, 0, tokens, { attention });
  const seconds = (performance.now() - start) / 1000;
  kv.release(sequence);
  return seconds;
}

/** The JSON schema in `file` (--schema). */
function readSchema(file: string): JsonSchema {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as JsonSchema;
  } catch (error) {
    throw new EngineError('invalid-argument', `--schema ${file}: ${(error as Error).message}: give a file that holds a JSON schema`);
  }
}

/**
 * Decodes `steps` tokens from context `n` of `sequence` under `grammar`'s token mask, as a constrained generation
 * does (each step's sample after the host writes the mask). Where the grammar's text ends (its stop token sampled)
 * before `steps` tokens, a new matcher takes over from there, so that every token is decoded under a mask. Returns
 * the seconds and the length of each generation (each text).
 */
async function timeMaskedDecode(runner: ModelRunner, sequence: number, n: number, kernel: AttentionKernel, steps: number, grammar: CompiledGrammar): Promise<{ seconds: number; lengths: number[] }> {
  const lengths: number[] = [];
  const start = performance.now();
  let position = n;
  while (position - n < steps) {
    const constraint = await grammar.createMatcher();
    const from = position;
    try {
      for await (const step of runner.decode(sequence, from, { attention: kernel, steps: steps - (from - n), constraint })) position = step.position;
    } finally {
      constraint.dispose();
    }
    if (position === from) throw new Error(`decode under the token mask ran no step at position ${from}`);
    lengths.push(position - from);
  }
  return { seconds: (performance.now() - start) / 1000, lengths };
}

/**
 * Seconds to decode free generations of `lengths` tokens one after another from context `n` of `sequence`: what
 * the masked run did without the mask, each generation's start and end included.
 */
async function timeFreeGenerations(runner: ModelRunner, sequence: number, n: number, kernel: AttentionKernel, lengths: readonly number[]): Promise<number> {
  const start = performance.now();
  let position = n;
  for (const length of lengths) {
    for await (const step of runner.decode(sequence, position, { attention: kernel, steps: length })) position = step.position;
  }
  return (performance.now() - start) / 1000;
}

/** The decode attention kernel's tuning the flags ask for. */
function attentionTuning(flags: BenchDecodeFlags): AttentionTuning {
  return { unroll: flags['attention-unroll'], workgroup: flags['attention-workgroup'] };
}

async function runnerFor(context: GpuContext, flags: BenchDecodeFlags, maxContext: number, grid: number): Promise<{ runner: ModelRunner; name: string; codec: TextCodec }> {
  const model = flags.model ?? (flags.shape ? undefined : BUILTIN_MODEL_DIR);
  const layoutBytes = (config: ModelConfig) => {
    const layout: PagedKvLayout = { headDim: config.headDim, numKvHeads: config.numKvHeads, pageSize: 16, dtype: 'f16' };
    return bytesPerPage(layout, config.numLayers) * Math.ceil(maxContext / 16);
  };
  if (model) {
    const files = nodeModelFiles(model);
    const config = parseModelConfig(await readJson(files, 'config.json'));
    const { runner, codec } = await loadModel(context, files, { maxContext, kvBudgetBytes: layoutBytes(config), maxSequences: 1, grid, attentionTuning: attentionTuning(flags), prefillChunk: flags['prefill-chunk'], prefillAttention: flags['prefill-attention'], decodeDepth: flags['decode-depth'] });
    return { runner, name: model, codec };
  }
  const shapeName = flags.shape!;
  const config = MODEL_SHAPES[shapeName];
  const weights = randomWeights(context.device, config);
  const runner = new ModelRunner(context, { ...config, maxPositionEmbeddings: Math.max(config.maxPositionEmbeddings, maxContext) }, weights, {
    maxContext,
    kvBudgetBytes: layoutBytes(config),
    maxSequences: 1,
    grid,
    attentionTuning: attentionTuning(flags),
    prefillChunk: flags['prefill-chunk'],
    prefillAttention: flags['prefill-attention'],
    decodeDepth: flags['decode-depth'],
  });
  // The mask rows need a tokenizer: the built-in model's stands in (grammarTokenizerInfo masks out the ids past it).
  const codec = await TextCodec.load(nodeModelFiles(BUILTIN_MODEL_DIR));
  return { runner, name: `${shapeName} (random f16 weights)`, codec };
}

export async function benchDecodeCommand(flags: BenchDecodeFlags): Promise<void> {
  const { quick, json } = flags;
  const log = (line: string) => (json ? process.stderr.write(`${line}\n`) : console.log(line));
  const contexts = flags.contexts ?? (quick ? [256, 1024] : [1024, 32768, 131072]);
  const kernels = flags.attention ?? [...ATTENTION_KERNELS];
  const steps = flags.steps ?? (quick ? 8 : 64);
  const prefillLengths = (flags.prefill ?? (quick ? [0] : [1024, 8192, 32768])).filter((n) => n > 0);
  const context = await createNodeGpuContext(flags.toggles ? [flags.toggles] : []);
  log(`adapter: ${context.adapter.description}; timestamp-query: ${context.features.timestampQuery}`);
  const { gbps: bandwidth, bytes: bandwidthBytes } = await measureReadBandwidth(context, { quick, repeats: quick ? 3 : 10 });
  log(`streaming read: ${bandwidth.toPrecision(4)} GB/s over ${(bandwidthBytes / 1024 ** 2).toFixed(0)} MiB`);

  const maxContext = Math.max(...contexts, ...prefillLengths) + steps + 8;
  let grid = flags.grid ?? 0;
  const { runner, name, codec } = await runnerFor(context, flags, maxContext, grid || 256);
  const schema = flags.schema ? readSchema(flags.schema) : MASK_SCHEMA;
  const compiler = await GrammarCompiler.create(codec.grammarTokenizerInfo(runner.config.vocabSize, stopTokenIds(runner.config, codec)));
  const grammar = await compiler.compile({ kind: 'json_schema', schema });
  if (flags.shape) log(`mask rows: the built-in model's tokenizer stands in for the shape's (the ids past its vocabulary are never allowed; the mask covers all ${runner.config.vocabSize})`);
  if (!grid) {
    const calibration = await calibrateGrid(context, { layout: runner.layout, group: runner.config.numHeads / runner.config.numKvHeads, contextLength: quick ? 2048 : 32768, kernelOptions: attentionTuning(flags), store: fileCalibrationStore() });
    grid = calibration.grid;
    runner.setGrid(grid);
    log(`LeanAttention grid (calibrated on this adapter): ${grid}  [${calibration.timings.map((t) => `${t.grid}: ${t.ms.toFixed(3)} ms`).join(', ')}]`);
  }
  log(`model: ${name}; weights ${(runner.weights.bytes / 1e9).toFixed(3)} GB; ${steps} steps per row, ${runner.decodeDepth} in flight`);
  const matrixUnits = context.features.matrixUnits;
  log(
    `prefill projections: ${runner.prefillOnMatrixUnits ? `the matrix units (${matrixUnits!.M} × ${matrixUnits!.N} × ${matrixUnits!.K}, x rounded to f16, f32 sums)` : 'the portable f32 GEMM'}; ` +
      `prefill attention: ${runner.prefillAttentionOnMatrixUnits ? 'the matrix units (q and softmax weights rounded to f16)' : 'the attention kernel of each row'}` +
      (matrixUnits ? '' : ' (no subgroup matrices on this adapter)'),
  );
  log(
    `decode rotary embedding and KV write: ${runner.decodeFusesRopeKv ? "in the q/k/v GEMV's epilogue" : `a dispatch after the q/k/v GEMV (the epilogue binds ${ROPE_KV_LINEAR_STORAGE_BUFFERS} storage buffers, the adapter ${context.limits.maxStorageBuffersPerShaderStage})`}`,
  );

  const { kv, config } = runner;
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const pool of [kv.keyPools[layer], kv.valuePools[layer]]) fillRandom(context.device, pool, pool.size / 4, 'f16', 100 + layer);
  }
  const kvBytesPerToken = 2 * config.numLayers * config.numKvHeads * config.headDim * 2;
  const rows: Row[] = [];
  const maskRows: MaskRow[] = [];
  for (const n of contexts) {
    for (const kernel of kernels) {
      const sequence = kv.createSequence();
      kv.reserve(sequence, n + steps + 4);
      kv.setLength(sequence, n);
      runner.writeTokens(n, [1]);
      runner.beginSampling(GREEDY, []);
      // Every run decodes `count` steps from the same context of n tokens.
      const run = async (count: number, timing: TimingLevel) => {
        const timings: StepTiming[] = [];
        const start = performance.now();
        let last = start;
        let longestGapMs = 0;
        for await (const step of runner.decode(sequence, n, { attention: kernel, timing, steps: count })) {
          if (step.timing) timings.push(step.timing);
          const now = performance.now();
          longestGapMs = Math.max(longestGapMs, now - last);
          last = now;
        }
        return { seconds: (last - start) / 1000, timings, longestGapMs };
      };
      // Keep the GPU busy first, as measurePasses does: straight after host work (calibration, the previous row's
      // setup) the H200's clocks are low.
      for (const warmUp = performance.now(); performance.now() - warmUp < WARM_UP_MS; ) await run(8, 'none');
      // The median of TIMED_RUNS runs: one run's wall time can carry a host pause (on the H200, V8's full collections
      // of 18–24 ms: BENCHMARKS.md) that the GPU step does not show; the runs' spread is printed beside it.
      const runSeconds: number[] = [];
      let longestGapMs = 0;
      for (let i = 0; i < TIMED_RUNS; i++) {
        const timed = await run(steps, 'none');
        runSeconds.push(timed.seconds);
        longestGapMs = Math.max(longestGapMs, timed.longestGapMs);
      }
      const seconds = median(runSeconds);
      const timedSteps = Math.min(steps, 8);
      const stepMs = median((await run(timedSteps, 'step')).timings.map((t) => t.stepMs));
      // Every other step timed per layer (DecodeTimings).
      const { attentionMs, timestampCostMs } = attentionLessTimestampCost((await run(2 * timedSteps, 'sections')).timings);
      if (kernel === kernels[0] && !flags['skip-mask']) {
        // Masked and free runs take turns, so that a drift in clocks or host load falls on both; each side's fastest
        // run is compared (on the H200, runs of a few hundred milliseconds fall into a fast and a slow mode, for both,
        // and a median of five picks either: BENCHMARKS.md), the runs' spread printed beside it. Free runs decode
        // generations of the masked run's lengths: a generation's start and end are not the mask's.
        const maskedRuns: number[] = [];
        const freeRuns: number[] = [];
        let texts = 0;
        for (let i = 0; i < MASK_RUNS; i++) {
          const { seconds, lengths } = await timeMaskedDecode(runner, sequence, n, kernel, steps, grammar);
          maskedRuns.push(seconds);
          texts = Math.max(texts, lengths.length);
          freeRuns.push(await timeFreeGenerations(runner, sequence, n, kernel, lengths));
        }
        const [masked, free] = [Math.min(...maskedRuns), Math.min(...freeRuns)];
        maskRows.push({
          context: n,
          kernel,
          texts,
          freeTokensPerSecond: steps / free,
          maskedTokensPerSecond: steps / masked,
          freeRunsTokensPerSecond: [steps / Math.max(...freeRuns), steps / free],
          maskedRunsTokensPerSecond: [steps / Math.max(...maskedRuns), steps / masked],
          maskMsPerToken: (1000 * (masked - free)) / steps,
          percentSlower: (100 * (masked - free)) / free,
        });
      }
      kv.release(sequence);
      const tokensPerSecond = steps / seconds;
      const floorTokensPerSecond = (bandwidth * 1e9) / (runner.weights.bytes + n * kvBytesPerToken);
      rows.push({
        context: n,
        kernel,
        tokensPerSecond,
        runsTokensPerSecond: [steps / Math.max(...runSeconds), steps / Math.min(...runSeconds)],
        longestGapMs,
        wallMsPerToken: (1000 * seconds) / steps,
        stepMs,
        attentionMs,
        timestampCostMs,
        restMs: stepMs - attentionMs,
        restGBps: runner.weights.bytes / ((stepMs - attentionMs) * 1e6),
        dispatches: runner.lastDispatchCount,
        floorTokensPerSecond,
        percentOfFloor: (100 * tokensPerSecond) / floorTokensPerSecond,
      });
    }
  }
  const prefillRows: PrefillRow[] = [];
  // One untimed prompt first, for the same reason as the rows' warm-up.
  if (prefillLengths.length) await timePrefill(runner, Math.min(...prefillLengths), kernels[0]);
  for (const tokens of prefillLengths) {
    const seconds = await timePrefill(runner, tokens, kernels[0]);
    prefillRows.push({ tokens, kernel: kernels[0], secondsToFirstToken: seconds, tokensPerSecond: tokens / seconds });
  }
  if (json) {
    console.log(JSON.stringify({ adapter: context.adapter, bandwidthGBps: bandwidth, model: name, grid: runner.grid, decodeFusesRopeKv: runner.decodeFusesRopeKv, samplerDispatches: runner.sampler.kernels.length, steps, rows, maskRows, prefillChunk: runner.prefillChunk, prefillRows }, null, 2));
  } else {
    console.log('');
    console.log(
      formatTable(
        ['context', 'kernel', 'tokens/s', 'runs tok/s', 'floor tok/s', '% of floor', 'wall ms/token', 'longest gap ms', 'GPU step ms', 'attention ms', "timestamps' cost µs a layer", 'rest ms', 'rest GB/s', 'dispatches', 'vs Lean'],
        rows.map((r) => {
          const lean = rows.find((x) => x.context === r.context && x.kernel === 'lean');
          return [
            r.context,
            KERNEL_LABELS[r.kernel],
            +r.tokensPerSecond.toFixed(1),
            r.runsTokensPerSecond.map((t) => t.toFixed(0)).join('–'),
            +r.floorTokensPerSecond.toFixed(1),
            +r.percentOfFloor.toFixed(1),
            +r.wallMsPerToken.toFixed(3),
            +r.longestGapMs.toFixed(2),
            +r.stepMs.toFixed(3),
            +r.attentionMs.toFixed(3),
            +(1000 * r.timestampCostMs).toFixed(1),
            +r.restMs.toFixed(3),
            +r.restGBps.toPrecision(3),
            r.dispatches,
            lean ? `${(lean.tokensPerSecond / r.tokensPerSecond).toFixed(2)}x` : '',
          ];
        }),
      ),
    );
    console.log(
      '\n"vs Lean": LeanAttention tokens/s divided by this row\'s; floor = read bandwidth / (weight bytes + KV bytes of the context);' +
        '\nattention: each layer\'s timed in a pass of its own, less what its timestamps cost it (half of what they add to the step, per layer:' +
        '\nthe cost column; engine/timestampCost.ts);' +
        '\nrest = GPU step − attention (projections, norms, rope, LM head, sampling); rest GB/s = weight bytes / rest.',
    );
    if (maskRows.length) {
      console.log(
        `\ndecode under a JSON schema's token mask (${flags.schema ?? 'an object with a free string'}) against free decode in generations of the same lengths, from the same context\n` +
          '(texts: the generations of a run, each ended by the grammar, the last by the step budget; tokens/s: the fastest of five runs each, taking turns)',
      );
      console.log(
        formatTable(
          ['context', 'kernel', 'texts', 'free tok/s', 'masked tok/s', 'mask ms/token', '% slower', 'free runs tok/s', 'masked runs tok/s'],
          maskRows.map((r) => [
            r.context,
            KERNEL_LABELS[r.kernel],
            r.texts,
            +r.freeTokensPerSecond.toFixed(1),
            +r.maskedTokensPerSecond.toFixed(1),
            +r.maskMsPerToken.toFixed(3),
            +r.percentSlower.toFixed(1),
            r.freeRunsTokensPerSecond.map((t) => t.toFixed(0)).join('–'),
            r.maskedRunsTokensPerSecond.map((t) => t.toFixed(0)).join('–'),
          ]),
        ),
      );
    }
    if (prefillRows.length) {
      console.log(`\nprefill in chunks of ${runner.prefillChunk} tokens: wall time to the first sampled token`);
      console.log(
        formatTable(
          ['prompt tokens', 'kernel', 'time to first token s', 'prefill tokens/s'],
          prefillRows.map((r) => [r.tokens, KERNEL_LABELS[r.kernel], +r.secondsToFirstToken.toFixed(3), +r.tokensPerSecond.toFixed(1)]),
        ),
      );
    }
  }
  compiler.dispose();
  runner.destroy();
}
