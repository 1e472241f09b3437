import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import type { SamplingSettings } from '../kernels/model/sampler.ts';
import { Engine, type GenerateRequest, type GenerationEvent } from './engine.ts';
import type { JsonSchema } from './grammar/grammar.ts';
import { blobModelFiles } from './loader/blobFiles.ts';
import { nodeModelFiles } from './loader/nodeFiles.ts';

// Constrained generation end to end: whatever the weights, every answer parses and validates. Random weights emit
// noise unconstrained, so there the grammar alone makes the answer valid. The schemas bound their answers (short
// strings, small integers, enums), so that even noise completes them within a few tens of tokens.

const BUILTIN = new URL('../public/models/pydoc-chat-6m', import.meta.url).pathname;

export const RECORD_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    count: { type: 'integer', minimum: 0, maximum: 99 },
    ok: { type: 'boolean' },
    kind: { enum: ['function', 'class', 'module'] },
  },
  required: ['name', 'count', 'ok', 'kind'],
  additionalProperties: false,
} as const;

const DOC_SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 16 }, summary: { type: 'string', maxLength: 32 } },
  required: ['name', 'summary'],
  additionalProperties: false,
} as const;

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
  const value: unknown = JSON.parse(done.text.replace(/<\|im_end\|>|<\/s>$/, ''));
  const validate = new Ajv().compile(schema as object);
  expect(validate(value), `${done.text}: ${JSON.stringify(validate.errors)}`).toBe(true);
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
});

describe('the built-in model under a JSON schema', async () => {
  const engine = new Engine(await testGpu());
  await engine.load(nodeModelFiles(BUILTIN), { kvDtype: 'f32', maxContext: 256 });
  const messages = [{ role: 'user' as const, content: 'What does str.split do?' }];

  it('greedy and sampled answers parse and validate', async () => {
    await expectValid(engine, DOC_SCHEMA, { messages });
    await expectValid(engine, DOC_SCHEMA, { messages, sampling: SAMPLED(7) });
  });
});
