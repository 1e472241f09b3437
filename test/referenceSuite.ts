import { describe, expect, it } from 'vitest';
import { testGpu } from './gpu.ts';
import { relativeError } from './pagedKvFixture.ts';
import { referenceModel, type ReferenceCase } from './sharedModels.ts';
import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';
import type { KvDtype } from '../kernels/attention/pagedKv.ts';
import { Engine, type GenerationEvent } from '../engine/engine.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';

async function collect(events: AsyncIterable<GenerationEvent>) {
  let lastPromptLogits: Float32Array | undefined;
  let promptIds: number[] = [];
  let generatedIds: number[] = [];
  for await (const event of events) {
    if (event.kind === 'prompt') {
      lastPromptLogits = event.lastPromptLogits;
      promptIds = event.promptIds;
    } else if (event.kind === 'done') {
      generatedIds = event.generatedIds;
    }
  }
  return { lastPromptLogits: lastPromptLogits!, promptIds, generatedIds };
}

/**
 * Greedy ids against the reference. With f16 KV a step may pick another token only where the reference's top-1
 * margin is under 0.02 (a tie, not a bug); generation then continues from the reference token.
 */
async function checkGreedy(engine: Engine, testCase: ReferenceCase, exact: boolean): Promise<void> {
  const reference = testCase.greedy_ids;
  let matched = 0;
  const conversation = engine.newConversation();
  try {
    while (matched < reference.length) {
      const { generatedIds } = await collect(
        engine.generate({
          promptIds: [...testCase.prompt_ids, ...reference.slice(0, matched)],
          maxTokens: reference.length - matched,
          ignoreEos: true,
          conversation,
        }),
      );
      let i = 0;
      while (i < generatedIds.length && generatedIds[i] === reference[matched + i]) i++;
      matched += i;
      if (matched === reference.length) break;
      const margin = testCase.greedy_top1_margins[matched];
      if (exact || margin >= 0.02) {
        expect.fail(`greedy step ${matched}: got ${generatedIds[i]}, reference ${reference[matched]} (top-1 margin ${margin.toFixed(4)})`);
      }
      matched += 1;
    }
  } finally {
    engine.endConversation(conversation);
  }
}

/**
 * The engine against a Hugging Face reference model of ../shared/models: prompt ids, last prompt logits and greedy ids,
 * for every attention kernel, with f32 and f16 KV.
 */
export function describeReferenceModel(name: string): void {
  describe(`${name} against Hugging Face float64`, () => {
    const model = referenceModel(name);

    it('tokenizes every prompt (chat cases through the chat template) to the reference ids', async () => {
      const engine = new Engine(await testGpu());
      await engine.load(nodeModelFiles(model.directory), { kvDtype: 'f32', maxContext: 256 });
      for (const testCase of model.cases) {
        const text = testCase.messages ? engine.tokenizer.applyChatTemplate(testCase.messages) : testCase.prompt;
        expect(text).toBe(testCase.prompt);
        expect(engine.tokenizer.encode(text)).toEqual(testCase.prompt_ids);
        expect(engine.tokenizer.decode(testCase.greedy_ids)).toBe(testCase.greedy_text);
      }
      engine.unload();
    });

    describe.each([
      { kvDtype: 'f32' as KvDtype, logitsTolerance: 1e-4, exact: true },
      { kvDtype: 'f16' as KvDtype, logitsTolerance: 5e-3, exact: false },
    ])('$kvDtype KV', ({ kvDtype, logitsTolerance, exact }) => {
      it.each(ATTENTION_KERNELS)('%s attention: last prompt logits and greedy ids match', async (kernel) => {
        const engine = new Engine(await testGpu());
        // A prefill chunk of 8 splits the longer prompts into several chunks.
        await engine.load(nodeModelFiles(model.directory), { kvDtype, attention: kernel, maxContext: 256, prefillChunk: 8, grid: 5 });
        for (const testCase of model.cases) {
          const messages = testCase.messages;
          const { lastPromptLogits, promptIds } = await collect(
            engine.generate({ ...(messages ? { messages } : { prompt: testCase.prompt }), maxTokens: 1, captureLogits: true }),
          );
          expect(promptIds).toEqual(testCase.prompt_ids);
          const error = relativeError(lastPromptLogits, testCase.last_logits);
          expect(error, `logits relative error ${error}`).toBeLessThan(logitsTolerance);
          await checkGreedy(engine, testCase, exact);
        }
        engine.unload();
      });
    });
  });
}
