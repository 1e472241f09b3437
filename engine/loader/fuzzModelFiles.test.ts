import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { testGpu } from '../../test/gpu.ts';
import { SHARED_MODELS } from '../../test/sharedModels.ts';
import { mutateFile, random32, weighted } from '../../test/mutateFiles.ts';
import { makeTinyModelBytes, shardModel } from '../../test/tinyModel.ts';
import { Engine, type GenerateRequest, type LoadOptions } from '../engine.ts';
import { EngineError } from '../../errors/engineError.ts';
import { blobModelFiles } from './blobFiles.ts';
import type { ByteSource } from './byteSource.ts';
import type { ModelFiles } from './modelFiles.ts';

/**
 * Fuzzed model files. Each case takes one of two tiny model folders, damages one of its files (bytes flipped, the
 * file cut short, a JSON value replaced, nudged or deleted, the safetensors header length replaced, the file
 * removed) and loads and runs the result. Every case must end in a typed EngineError whose message names the file,
 * or in a model that loads and generates a few tokens: never a hang, an exception of another kind, an unhandled
 * rejection, a read outside a file or a GPU error.
 *
 * A case is its seed: `FUZZ_SEED=123 npx vitest run engine/loader/fuzzModelFiles.test.ts` replays case 123 alone,
 * `FUZZ_SEED=1-5000` runs seeds 1 to 5000 (the default is 1-300), `FUZZ_TRACE=1` prints each seed before it runs (a
 * synchronous hang blocks the timers that would report it).
 */

/** FUZZ_SEED: one seed (`123`) or a range (`1-5000`). */
function seeds(): number[] {
  const [first, last] = (process.env.FUZZ_SEED ?? '1-300').split('-').map(Number);
  return Array.from({ length: (last ?? first) - first + 1 }, (_, i) => first + i);
}
const SEEDS = seeds();
const CASE_TIMEOUT_MS = 10_000;
const MAX_TOKENS = 2;

// Four query heads per KV head: the prefill attention runs the decode kernel (one query per work head), so the
// one-time pipeline compilation on SwiftShader stays as short as it gets.
const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 1, numHeads: 4, numKvHeads: 1, headDim: 16, vocabSize: 512, dtype: 'F32' as const };
const LOAD: LoadOptions = { kvDtype: 'f32', maxContext: 64, pageSize: 16, prefillChunk: 64, maxSequences: 1, kvBudgetBytes: 1 << 20, profiling: 'off', grid: 4 };

interface Variant {
  name: string;
  files: Map<string, Uint8Array>;
  request: GenerateRequest;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2));
const parsed = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

/** One file of weights, untied, the classic top-level rope_theta; a raw prompt. */
function singleFileModel(): Variant {
  return { name: 'single', files: makeTinyModelBytes(SPEC), request: { prompt: 'hello world', maxTokens: MAX_TOKENS } };
}

/**
 * Two shards and their index, tied embeddings, llama3 RoPE scaling in the `rope_parameters` form, the chat
 * template inside tokenizer_config.json; a chat prompt.
 */
function shardedModel(): Variant {
  const files = shardModel(makeTinyModelBytes({ ...SPEC, tie: true, seed: 7 }), 2);
  const config = parsed(files.get('config.json')!);
  delete config.rope_theta;
  config.rope_parameters = { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  config.bos_token_id = 1;
  files.set('config.json', json(config));
  const tokenizerConfig = parsed(files.get('tokenizer_config.json')!);
  tokenizerConfig.chat_template = readFileSync(join(SHARED_MODELS, 'tiny-llama', 'chat_template.jinja'), 'utf8');
  files.set('tokenizer_config.json', json(tokenizerConfig));
  return { name: 'sharded', files, request: { messages: [{ role: 'user', content: 'hi' }], maxTokens: MAX_TOKENS } };
}

const VARIANTS = [singleFileModel(), shardedModel()];

// Damage to tokenizer_config.json (a few keys, most of them unused) or to tensor data mostly loads and runs,
// which costs a hundred times what an error does: the cases favour the files where damage is an error to find.
const FILE_WEIGHTS: Record<string, number> = {
  'model.safetensors': 4,
  'model-00001-of-00002.safetensors': 2,
  'model-00002-of-00002.safetensors': 2,
  'model.safetensors.index.json': 3,
  'config.json': 3,
  'tokenizer.json': 3,
  'tokenizer_config.json': 1,
};

interface FuzzCase {
  seed: number;
  variant: Variant;
  file: string;
  description: string;
  files: Map<string, Uint8Array>;
}

function fuzzCase(seed: number): FuzzCase {
  const random = random32(seed);
  const variant = VARIANTS[seed % VARIANTS.length];
  const file = weighted(random, [...variant.files.keys()].map((path): [number, string] => [FILE_WEIGHTS[path] ?? 2, path]));
  const original = variant.files.get(file)!;
  const mutation = mutateFile(file, original, random);
  const files = new Map(variant.files);
  if (mutation.bytes) files.set(file, mutation.bytes);
  else files.delete(file);
  return { seed, variant, file, description: `${variant.name} model, ${file}: ${mutation.description}`, files };
}

const PLAIN_FILE_NAME = /^[\w.-]+$/;

/** The folder, recording every read outside a file's bytes and every path that leaves the folder. */
function guardedFiles(files: Map<string, Uint8Array>, violations: string[]): ModelFiles {
  const blobs = new Map([...files].map(([path, bytes]) => [path, new Blob([bytes as Uint8Array<ArrayBuffer>])]));
  const inner = blobModelFiles('the fuzzed model', blobs);
  const checkPath = (path: string) => {
    if (typeof path !== 'string' || !PLAIN_FILE_NAME.test(path) || path === '.' || path === '..') {
      violations.push(`asked for ${JSON.stringify(path)}, which is not a file of the folder`);
    }
  };
  return {
    description: inner.description,
    exists: async (path) => (checkPath(path), inner.exists(path)),
    text: async (path) => (checkPath(path), inner.text(path)),
    async bytes(path): Promise<ByteSource> {
      checkPath(path);
      const source = await inner.bytes(path);
      return {
        name: source.name,
        size: source.size,
        read(offset, length) {
          const inside = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= source.size;
          if (!inside) violations.push(`read ${length} bytes at ${offset} of ${path}, which has ${source.size}`);
          return source.read(offset, length);
        },
      };
    },
  };
}

type Outcome =
  | { kind: 'ran'; ids: number[]; text: string; vocabSize: number }
  | { kind: 'threw'; error: unknown }
  | { kind: 'hung' };

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function loadAndGenerate(engine: Engine, files: ModelFiles, request: GenerateRequest): Promise<Outcome> {
  try {
    const info = await engine.load(files, LOAD);
    for await (const event of engine.generate(request)) {
      if (event.kind === 'done') return { kind: 'ran', ids: event.generatedIds, text: event.text, vocabSize: info.config.vocabSize };
    }
    throw new Error('generation ended without a done event');
  } catch (error) {
    return { kind: 'threw', error };
  }
}

function namesTheFile(message: string, fuzzed: FuzzCase): boolean {
  return message.includes(fuzzed.file);
}

// A NaN the message computed (a quoted "NaN" comes from the file) or an object turned into text.
const GARBLED = /(?<!")\bNaN\b(?!")|\[object Object\]/;

const GPU_ERRORS = new Set(['gpu-validation', 'gpu-out-of-memory', 'gpu-device-lost', 'gpu-unavailable']);

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 4).join('\n')}`;
  return String(error);
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const tally = new Map<string, number>();
const count = (outcome: string) => tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
let context: GpuContext;
let engine: Engine;
let fuzzMs = 0;

async function runCase(fuzzed: FuzzCase): Promise<string[]> {
  const problems: string[] = [];
  const violations: string[] = [];
  const files = guardedFiles(fuzzed.files, violations);
  const { device } = context;
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('internal');
  const result = await withTimeout(loadAndGenerate(engine, files, fuzzed.variant.request), CASE_TIMEOUT_MS);
  const outcome: Outcome = result === 'timeout' ? { kind: 'hung' } : result;
  engine.unload();
  const gpuErrors = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()];
  // Rejections nobody handled are reported on a later turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 0));

  if (outcome.kind === 'hung') {
    problems.push(`no result after ${CASE_TIMEOUT_MS} ms: a hang`);
    count('hung');
  } else if (outcome.kind === 'threw') {
    const { error } = outcome;
    if (!(error instanceof EngineError)) problems.push(`threw ${describeError(error)}\n(not a typed EngineError)`);
    else if (GPU_ERRORS.has(error.code)) problems.push(`a GPU error: ${error.code}: ${error.message}`);
    else if (!namesTheFile(error.message, fuzzed)) problems.push(`the ${error.code} error does not name ${fuzzed.file}: "${error.message}"`);
    else if (GARBLED.test(error.message)) problems.push(`the ${error.code} error quotes a value it computed from garbage: "${error.message}"`);
    count(error instanceof EngineError ? error.code : 'other');
    if (error instanceof EngineError && !error.message.includes(fuzzed.file)) count('weights.ts checks not naming the damaged file');
  } else {
    const { ids, vocabSize } = outcome;
    if (ids.length < 1 || ids.length > MAX_TOKENS) problems.push(`generated ${ids.length} tokens (asked for ${MAX_TOKENS})`);
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) problems.push(`generated token id ${bad}, outside the vocabulary of ${vocabSize}`);
    if (typeof outcome.text !== 'string') problems.push('the generated text is not a string');
    count('ran');
  }
  problems.push(...violations);
  for (const error of gpuErrors) if (error) problems.push(`GPU ${error.constructor.name}: ${error.message}`);
  for (const reason of unhandled.splice(0)) problems.push(`an unhandled rejection: ${describeError(reason)}`);
  return problems;
}

async function expectUnchangedModelsRun(): Promise<void> {
  for (const variant of VARIANTS) {
    const outcome = await loadAndGenerate(engine, guardedFiles(variant.files, []), variant.request);
    if (outcome.kind !== 'ran') throw new Error(`the unchanged ${variant.name} model must load and run: ${outcome.kind === 'threw' ? describeError(outcome.error) : 'hung'}`);
    engine.unload();
  }
}

describe('fuzzed model files', () => {
  beforeAll(async () => {
    context = await testGpu();
    engine = new Engine(context);
    process.on('unhandledRejection', onUnhandled);
    // The first load compiles every pipeline (seconds on SwiftShader); the cases reuse them.
    await expectUnchangedModelsRun();
  });

  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    const outcomes = [...tally].map(([key, count]) => `${key} ${count}`).join(', ');
    console.log(`fuzzed model files: ${SEEDS.length} cases in ${(fuzzMs / 1000).toFixed(1)} s (${outcomes})`);
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: ${fuzzCase(seed).description}`, async () => {
      if (process.env.FUZZ_TRACE) console.log(`seed ${seed}, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
      const start = performance.now();
      const problems = await runCase(fuzzCase(seed));
      fuzzMs += performance.now() - start;
      expect(problems, `replay: FUZZ_SEED=${seed} npx vitest run engine/loader/fuzzModelFiles.test.ts`).toEqual([]);
    });
  }

  it('the unchanged models still load and run after every case', async () => {
    await expectUnchangedModelsRun();
  });
});
