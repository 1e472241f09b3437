import { afterAll, describe, expect, it } from 'vitest';
import { EngineError } from '../errors/engineError.ts';
import { testGpu } from '../test/gpu.ts';
import { expectValidJson, RECORD_SCHEMA } from '../test/jsonSchemas.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import type { SamplingSettings } from '../kernels/model/sampler.ts';
import { Engine, type GenerateRequest, type GenerationEvent } from './engine.ts';
import type { JsonSchema } from './grammar/grammar.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

// Constrained generation end to end: whatever the weights, every answer parses and validates. Random weights emit
// noise unconstrained, so there the grammar alone makes the answer valid. (The built-in model answers under a schema
// through the openai client in cli/serve.test.ts.)

const SAMPLED = (seed: number): SamplingSettings => ({ temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed });

async function finish(events: AsyncIterable<GenerationEvent>) {
  for await (const event of events) if (event.kind === 'done') return event;
  throw new Error('the generation ended without a done event');
}

/** Generates under a JSON schema; the text must parse and validate, and the generation end with the stop token. */
async function expectValid(engine: Engine, schema: JsonSchema, request: Omit<GenerateRequest, 'grammar' | 'maxTokens'>) {
  const grammar = await engine.compileGrammar({ kind: 'json_schema', schema, strict: true });
  const done = await finish(engine.generate({ ...request, maxTokens: 96, grammar }));
  expect(done.reason, done.text).toBe('eos');
  // The text ends with the stop token's.
  const value = expectValidJson(engine.tokenizer.decode(done.generatedIds.slice(0, -1)), schema);
  return { value, tokens: done.generatedIds.length };
}

describe('a random-weight model under a JSON schema', async () => {
  const engine = new Engine(await testGpu());
  await engine.load(blobModelFiles('tiny', makeTinyModel({ hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' })), {
    kvDtype: 'f32',
    maxContext: 256,
  });

  it('unconstrained, its greedy answer is no JSON', async () => {
    const done = await finish(engine.generate({ promptIds: [5, 17, 300, 2, 44], maxTokens: 24, ignoreEos: true }));
    expect(() => JSON.parse(done.text)).toThrow();
  });

  it('greedy and sampled answers parse and validate', async () => {
    const answers = [await expectValid(engine, RECORD_SCHEMA, { promptIds: [5, 17, 300, 2, 44] })];
    for (const seed of [1, 2, 3]) answers.push(await expectValid(engine, RECORD_SCHEMA, { promptIds: [5, 17, 300, 2, 44], sampling: SAMPLED(seed) }));
    expect(new Set(answers.map((a) => JSON.stringify(a.value))).size, 'sampling changes the answer').toBeGreaterThan(1);
    engine.verifyKvCache();
  });

  it('json_object answers parse; the grammar ends the generation even past EOS; max tokens cut it short', async () => {
    const objects = await engine.compileGrammar({ kind: 'json_object' });
    for (const seed of [1, 2]) {
      const done = await finish(engine.generate({ promptIds: [5, 17, 300], maxTokens: 64, grammar: objects, sampling: SAMPLED(seed) }));
      expect(done.reason).toBe('eos');
      expect(JSON.parse(engine.tokenizer.decode(done.generatedIds.slice(0, -1)))).toBeTypeOf('object');
    }
    const records = await engine.compileGrammar({ kind: 'json_schema', schema: RECORD_SCHEMA, strict: true });
    const pastEos = await finish(engine.generate({ promptIds: [5, 17, 300], maxTokens: 96, grammar: records, ignoreEos: true }));
    expect(pastEos.reason).toBe('eos');
    expectValidJson(engine.tokenizer.decode(pastEos.generatedIds.slice(0, -1)), RECORD_SCHEMA);
    const cut = await finish(engine.generate({ promptIds: [5, 17, 300], maxTokens: 4, grammar: records }));
    expect(cut.reason).toBe('length');
    expect(cut.generatedIds).toHaveLength(4);
    engine.verifyKvCache();
  });
});

describe('a model whose vocabulary puts XGrammar on a thread of its own', async () => {
  // Node's worker_threads Worker, watched, so that a test can stop the grammar thread as a crash would.
  const workerThreads = process.getBuiltinModule('node:worker_threads');
  const { Worker } = workerThreads;
  const threads: InstanceType<typeof Worker>[] = [];
  workerThreads.Worker = class extends Worker {
    constructor(...args: ConstructorParameters<typeof Worker>) {
      super(...args);
      threads.push(this);
    }
  };
  afterAll(() => {
    workerThreads.Worker = Worker;
  });
  const engine = new Engine(await testGpu());
  await engine.load(blobModelFiles('tiny', makeTinyModel({ hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 16_384, dtype: 'F32' })), {
    kvDtype: 'f32',
    maxContext: 256,
  });

  it('greedy and sampled answers parse and validate, its matcher on the thread', async () => {
    await expectValid(engine, RECORD_SCHEMA, { promptIds: [5, 17, 300, 2, 44] });
    await expectValid(engine, RECORD_SCHEMA, { promptIds: [5, 17, 300, 2, 44], sampling: SAMPLED(1) });
    expect(threads, 'one grammar thread, started by the first compileGrammar').toHaveLength(1);
    engine.verifyKvCache();
  });

  it('a grammar thread that stops fails the answer under it and its grammars with errors that say what to do; the next compileGrammar starts another', async () => {
    const grammar = await engine.compileGrammar({ kind: 'json_schema', schema: RECORD_SCHEMA, strict: true });
    const failure = await (async () => {
      for await (const event of engine.generate({ promptIds: [5, 17, 300], maxTokens: 96, grammar })) {
        if (event.kind === 'token') await threads[0].terminate();
      }
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(EngineError);
    expect((failure as EngineError).message).toMatch(/the grammar thread stopped: .*Compile the grammar again/);
    const stale = await finish(engine.generate({ promptIds: [5, 17, 300], maxTokens: 8, grammar })).catch((error: unknown) => error);
    expect((stale as EngineError).code).toBe('invalid-argument');
    expect((stale as EngineError).message).toMatch(/stopped: compile it again/);
    await expectValid(engine, RECORD_SCHEMA, { promptIds: [5, 17, 300, 2, 44] });
    expect(threads).toHaveLength(2);
    engine.verifyKvCache();
  });
});
