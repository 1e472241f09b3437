import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { SHARED_MODELS } from '../test/sharedModels.ts';
import { makeTinyModel, makeTinyModelBytes, withHeader } from '../test/tinyModel.ts';
import { Engine, type GenerationEvent } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';
import { OpenAIEngine } from './openai/openaiEngine.ts';

const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const };

async function generatedIds(events: AsyncIterable<GenerationEvent>): Promise<number[]> {
  for await (const event of events) if (event.kind === 'done') return event.generatedIds;
  throw new Error('generation ended without a done event');
}

function tinyFiles(change?: (files: Map<string, Blob>) => void) {
  const files = makeTinyModel(SPEC);
  change?.(files);
  return blobModelFiles('tiny model', files);
}

/** The tiny model's config.json with `change` applied. */
function tinyConfig(change: Record<string, unknown>): Blob {
  const config = JSON.parse(new TextDecoder().decode(makeTinyModelBytes(SPEC).get('config.json')));
  return new Blob([JSON.stringify({ ...config, ...change })]);
}

async function expectEngineError(work: Promise<unknown>, code: string, message: RegExp) {
  const error = await work.then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );
  expect(error, 'the call should fail').toBeDefined();
  expect(error!.code).toBe(code);
  expect(error!.message).toMatch(message);
}

describe('bad input gives a specific error and leaves the engine usable', () => {
  const cases: [string, () => ReturnType<typeof tinyFiles>, string, RegExp][] = [
    ['a truncated model.safetensors', () => tinyFiles((f) => f.set('model.safetensors', f.get('model.safetensors')!.slice(0, 5000))), 'invalid-safetensors', /truncated/],
    ['a header that points past the end', () => tinyFiles((f) => f.set('model.safetensors', new Blob([withHeader({}, []).slice(0, 8).map((_, i) => (i === 0 ? 0xff : 0))]))), 'invalid-safetensors', /runs past the end/],
    ['overlapping tensors', () => tinyFiles((f) => f.set('model.safetensors', new Blob([withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, [new Uint8Array(12)]) as Uint8Array<ArrayBuffer>]))), 'invalid-safetensors', /overlap/],
    ['a wrong dtype size', () => tinyFiles((f) => f.set('model.safetensors', new Blob([withHeader({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, [new Uint8Array(8)]) as Uint8Array<ArrayBuffer>]))), 'invalid-safetensors', /which is 6 bytes, but its data_offsets span 8/],
    ['a missing tensor', () => tinyFiles((f) => f.set('model.safetensors', new Blob([withHeader({ 'model.embed_tokens.weight': { dtype: 'F32', shape: [512, 64], data_offsets: [0, 131072] } }, [new Uint8Array(131072)]) as Uint8Array<ArrayBuffer>]))), 'missing-tensor', /config\.json says "tie_word_embeddings" is false, but model\.safetensors hold no "lm_head\.weight" tensor/],
    ['an unknown model type', () => tinyFiles((f) => f.set('config.json', new Blob([JSON.stringify({ model_type: 'gpt2', hidden_size: 64 })]))), 'unsupported-model', /model type "gpt2" is not supported/],
    ['a missing tokenizer', () => tinyFiles((f) => f.delete('tokenizer.json')), 'invalid-tokenizer', /no tokenizer\.json/],
    ['a config claiming more layers than the weights hold', () => tinyFiles((f) => f.set('config.json', tinyConfig({ num_hidden_layers: 1e6 }))), 'missing-tensor', /^tensor "model\.layers\.1\.input_layernorm\.weight" is missing from model\.safetensors: the weights do not match config\.json/],
  ];

  it.each(cases)('%s', async (_, files, code, message) => {
    const engine = new Engine(await testGpu());
    await expectEngineError(engine.load(files()), code, message);
    await engine.load(tinyFiles(), { kvDtype: 'f32', maxContext: 64 });
    expect(await generatedIds(engine.generate({ promptIds: [1, 2, 3], maxTokens: 3 }))).toHaveLength(3);
    engine.unload();
  });

  it('a tokenizer that encodes the prompt past the vocabulary', async () => {
    const engine = new Engine(await testGpu());
    const files = tinyFiles((f) => {
      const tokenizer = JSON.parse(readFileSync(join(SHARED_MODELS, 'tiny-llama', 'tokenizer.json'), 'utf8'));
      tokenizer.added_tokens.find((token: { content: string }) => token.content === '<|im_end|>').id = 100_000;
      f.set('tokenizer.json', new Blob([JSON.stringify(tokenizer)]));
    });
    await engine.load(files, { kvDtype: 'f32', maxContext: 64 });
    await expectEngineError(generatedIds(engine.generate({ prompt: 'hi<|im_end|>', maxTokens: 2 })), 'invalid-tokenizer', /^tokenizer\.json encodes the prompt with token id 100000, outside the model's vocabulary of 512/);
    expect(await generatedIds(engine.generate({ promptIds: [1, 2, 3], maxTokens: 2 }))).toHaveLength(2);
    engine.unload();
  });

  it('a prompt longer than the context', async () => {
    const engine = new Engine(await testGpu());
    await engine.load(tinyFiles(), { kvDtype: 'f32', maxContext: 32 });
    await expectEngineError(generatedIds(engine.generate({ promptIds: Array.from({ length: 40 }, (_, i) => i), maxTokens: 4 })), 'context-overflow', /the prompt is 40 tokens and the context holds 32/);
    expect(await generatedIds(engine.generate({ promptIds: [5, 6], maxTokens: 2 }))).toHaveLength(2);
    engine.unload();
  });

  it('a context that config.json makes too short says so', async () => {
    const engine = new Engine(await testGpu());
    await engine.load(tinyFiles((f) => f.set('config.json', tinyConfig({ max_position_embeddings: 2 }))), { kvDtype: 'f32', maxContext: 64 });
    await expectEngineError(generatedIds(engine.generate({ promptIds: [1, 2, 3], maxTokens: 2 })), 'context-overflow', /the context holds 2 \(config\.json's max_position_embeddings\)/);
    engine.unload();
  });

  it('a full KV pool stops the answer with the limit named, gives its pages to the next request, and refuses a prompt larger than the pool', async () => {
    const engine = new Engine(await testGpu());
    // Two pages of 4 tokens: 8 tokens of KV in all.
    await engine.load(tinyFiles(), { kvDtype: 'f32', maxContext: 64, pageSize: 4, kvBudgetBytes: 2 * 2 * 64 * 4 * 4 });
    const openai = new OpenAIEngine(engine);
    const full = engine.newConversation();
    const answer = await openai.chat.completions.create({ model: 'tiny model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, temperature: 0, lean_decode: { raw: true, conversation: full } });
    expect(answer.choices[0].finish_reason).toBe('length');
    expect(answer.usage.total_tokens).toBe(9);
    expect(answer.lean_decode?.finish_detail).toBe(
      'the KV cache is full: its 2 pages of 4 tokens (8 tokens, shared by every conversation) are in use; end other conversations or load the model with a larger KV budget',
    );
    // The conversation keeps the KV of its 8 tokens for its next turn: the whole pool.
    expect(engine.kvPages()).toEqual({ used: 2, total: 2 });
    engine.verifyKvCache();

    // Another conversation takes the pages back from the full one's cache, which its own next turn prefills again.
    const other = engine.newConversation();
    expect(await generatedIds(engine.generate({ promptIds: [7, 8, 9], maxTokens: 3, ignoreEos: true, conversation: other }))).toHaveLength(3);
    expect(engine.cachedTokens(full)).toBe(0);
    const next = await openai.chat.completions.create({ model: 'tiny model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0, lean_decode: { raw: true, conversation: full } });
    expect(next.choices[0].finish_reason).toBe('length');
    expect(next.lean_decode).toBeUndefined();
    engine.verifyKvCache();

    // A prompt the whole pool cannot hold is refused before it takes anything: the other conversation keeps its KV.
    const cached = engine.cachedTokens(full);
    await expectEngineError(
      generatedIds(engine.generate({ promptIds: Array.from({ length: 12 }, (_, i) => i), maxTokens: 2, conversation: other })),
      'context-overflow',
      /^the prompt is 12 tokens and the KV cache holds 8 tokens in all \(2 pages of 4\): shorten the prompt or start a new conversation, or load the model with a larger KV budget$/,
    );
    expect(engine.cachedTokens(full)).toBe(cached);
    expect(await generatedIds(engine.generate({ promptIds: [7], maxTokens: 2 }))).toHaveLength(2);
    engine.verifyKvCache();
    engine.unload();
  });
});
