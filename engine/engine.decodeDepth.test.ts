import { describe, expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { withReferenceEngine } from '../test/referenceChecks.ts';
import { referenceModel, type ReferenceCase } from '../test/sharedModels.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import type { SamplingSettings } from '../kernels/model/sampler.ts';
import { Engine, type GenerateRequest, type GenerationEvent, type StopReason } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

// Decode steps run ahead of the host (RunnerOptions.decodeDepth): the tokens must not depend on how far, and the
// steps past the token a generation stops at must leave nothing that counts.

const model = referenceModel('pydoc-chat-6m');
const raw = model.cases.find((c) => !c.messages)!;
const hello = model.cases.find((c) => c.messages?.at(-1)?.content === 'Hello')!;
const SEEDED: SamplingSettings = { temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.2, seed: 42 };

async function outcome(events: AsyncIterable<GenerationEvent>, onToken?: (count: number) => void) {
  let reusedTokens = 0;
  let promptIds: number[] = [];
  let tokens = 0;
  for await (const event of events) {
    if (event.kind === 'prompt') ({ reusedTokens, promptIds } = event);
    else if (event.kind === 'token') onToken?.(++tokens);
    else return { reusedTokens, promptIds, reason: event.reason, generatedIds: event.generatedIds, text: event.text };
  }
  throw new Error('generation ended without a done event');
}

it('greedy ids equal the reference and seeded samples agree at decode depths 1, 2 and 3', async () => {
  const sampled: number[][] = [];
  for (const decodeDepth of [1, 2, 3]) {
    await withReferenceEngine(await testGpu(), model, { kvDtype: 'f32', maxContext: 128, decodeDepth }, async (engine) => {
      const greedy = await outcome(engine.generate({ promptIds: raw.prompt_ids, maxTokens: 16, ignoreEos: true }));
      expect(greedy.generatedIds, `depth ${decodeDepth}`).toEqual(raw.greedy_ids.slice(0, 16));
      sampled.push((await outcome(engine.generate({ promptIds: raw.prompt_ids, maxTokens: 16, ignoreEos: true, sampling: SEEDED }))).generatedIds);
    });
  }
  expect(sampled[0]).not.toEqual(raw.greedy_ids.slice(0, 16));
  expect(sampled[1]).toEqual(sampled[0]);
  expect(sampled[2]).toEqual(sampled[0]);
});

describe('a generation that stops with steps in flight (depth 3)', () => {
  const abort = new AbortController();
  // What stops it, the request, the reference case its ids follow, and how many ids it gives.
  const stops: [StopReason, Omit<GenerateRequest, 'conversation'>, ReferenceCase, number | undefined, ((count: number) => void)?][] = [
    // Token 2, <|im_end|>, is the model's EOS.
    ['eos', { messages: hello.messages, maxTokens: 48 }, hello, hello.greedy_ids.indexOf(2) + 1],
    ['stop-string', { prompt: raw.prompt, maxTokens: 48, stop: ['pattern'] }, raw, undefined],
    ['length', { prompt: raw.prompt, maxTokens: 7 }, raw, 7],
    ['aborted', { prompt: raw.prompt, maxTokens: 48, signal: abort.signal }, raw, 5, (count) => count === 5 && abort.abort()],
  ];

  it.each(stops)('%s: the conversation keeps exactly the accepted tokens, and a follow-up reuses them as a fresh conversation would', async (reason, request, reference, count, onToken) => {
    await withReferenceEngine(await testGpu(), model, { kvDtype: 'f32', maxContext: 256, decodeDepth: 3 }, async (engine) => {
      const conversation = engine.newConversation();
      const first = await outcome(engine.generate({ ...request, conversation }), onToken);
      expect(first.reason).toBe(reason);
      expect(first.generatedIds).toEqual(reference.greedy_ids.slice(0, count ?? first.generatedIds.length));
      if (reason === 'stop-string') expect(first.text).toMatch(/pattern$/);
      // The last token's KV is not written: the next turn runs it.
      const cached = first.promptIds.length + first.generatedIds.length - 1;
      expect(engine.cachedTokens(conversation)).toBe(cached);
      engine.verifyKvCache();

      const followUp = [...first.promptIds, ...first.generatedIds, ...engine.tokenizer.encode('\n<|im_start|>user\nWhat does json.dumps do?<|im_end|>\n<|im_start|>assistant\n')];
      const resumed = await outcome(engine.generate({ promptIds: followUp, maxTokens: 6, ignoreEos: true, conversation }));
      expect(resumed.reusedTokens).toBe(cached);
      const fresh = await outcome(engine.generate({ promptIds: followUp, maxTokens: 6, ignoreEos: true }));
      expect(resumed.generatedIds).toEqual(fresh.generatedIds);
      engine.endConversation(conversation);
      engine.verifyKvCache();
    });
  });
});

it('a KV pool that fills mid-generation stops at the same token at depths 1 and 3, its accounting intact', async () => {
  const files = () => blobModelFiles('tiny', makeTinyModel({ hiddenSize: 64, intermediateSize: 128, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' }));
  const runs: number[][] = [];
  for (const decodeDepth of [1, 3]) {
    const engine = new Engine(await testGpu());
    // Two pages of 4 tokens: the KV of 8 tokens in all.
    await engine.load(files(), { kvDtype: 'f32', maxContext: 64, pageSize: 4, kvBudgetBytes: 2 * 2 * 64 * 4 * 4, decodeDepth });
    const conversation = engine.newConversation();
    const { reason, generatedIds } = await outcome(engine.generate({ promptIds: [1, 2, 3], maxTokens: 20, ignoreEos: true, conversation }));
    expect(reason).toBe('kv-full');
    // The prompt's 3 tokens and 5 generated ones fill the 8 slots; the 6th generated one has no room for its KV.
    expect(generatedIds).toHaveLength(6);
    expect(engine.cachedTokens(conversation)).toBe(8);
    engine.verifyKvCache();
    engine.endConversation(conversation);
    engine.verifyKvCache();
    runs.push(generatedIds);
    engine.unload();
  }
  expect(runs[1]).toEqual(runs[0]);
});
