import { expect, it } from 'vitest';
import { EngineError } from '../errors/engineError.ts';
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { Engine, type GenerationEvent, type LoadOptions } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

const FILES = blobModelFiles('tiny', makeTinyModel({ hiddenSize: 64, intermediateSize: 128, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' }));
const OPTIONS: LoadOptions = { kvDtype: 'f32', maxContext: 64, pageSize: 4, prefillChunk: 8 };
const PROMPT = [5, 17, 300, 2, 44];

async function drain(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const all: GenerationEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

/** Generates until the `after`-th token, destroys the engine's device there and returns how the stream failed. */
async function loseDeviceMidAnswer(engine: Engine, conversation: number, after: number) {
  const streamed: { ids: number[]; text: string } = { ids: [], text: '' };
  const device = engine.context.device;
  try {
    for await (const event of engine.generate({ promptIds: PROMPT, maxTokens: 20, ignoreEos: true, conversation })) {
      if (event.kind !== 'token') continue;
      streamed.ids.push(event.id);
      streamed.text += event.text;
      if (streamed.ids.length === after) device.destroy();
    }
  } catch (error) {
    return { error, streamed };
  }
  throw new Error('the stream ended without an error although its device was destroyed');
}

async function generatedIds(engine: Engine, promptIds: number[], maxTokens: number): Promise<number[]> {
  const done = (await drain(engine.generate({ promptIds, maxTokens, ignoreEos: true }))).at(-1);
  if (done?.kind !== 'done') throw new Error('the generation ended without its done event');
  return done.generatedIds;
}

it('a device lost mid-answer ends the stream with gpu-device-lost and the answer so far; the next request reloads the engine and continues the conversation', async () => {
  const first = await createNodeGpuContext();
  const engine = new Engine(first, createNodeGpuContext);
  await engine.load(FILES, OPTIONS);
  // What the engine answers from nothing cached (greedy): the answer's first tokens, then the next turn's.
  const answerStart = await generatedIds(engine, PROMPT, 3);
  const history = [...PROMPT, ...answerStart, 9, 130, 77];
  const nextTurn = await generatedIds(engine, history, 8);

  const conversation = engine.newConversation();
  const { error, streamed } = await loseDeviceMidAnswer(engine, conversation, 3);
  expect(error).toBeInstanceOf(EngineError);
  const lost = error as EngineError;
  expect(lost.code).toBe('gpu-device-lost');
  expect(lost.message).toMatch(/^The GPU device was lost \(destroyed: .*The next request reloads the model on a new device and continues the conversations\. The answer had 3 tokens when it stopped\.$/);
  expect(streamed.ids).toEqual(answerStart);
  expect(lost.partial).toEqual({ generatedIds: streamed.ids, text: streamed.text });
  expect(lost.toJSON().partial).toEqual(lost.partial);

  // The next turn sends the whole history, as a chat client does: the partial answer and a new message.
  const resumed = await drain(engine.generate({ promptIds: history, maxTokens: 8, ignoreEos: true, conversation }));
  expect(engine.context).not.toBe(first);
  const prompt = resumed[0];
  if (prompt.kind !== 'prompt') throw new Error('the first event is the prompt');
  // Prefilled again on the new device: the prompt and the answer's tokens whose KV was written before the loss.
  expect(prompt.reusedTokens).toBe(PROMPT.length + streamed.ids.length - 1);
  expect(resumed.at(-1)).toMatchObject({ kind: 'done', generatedIds: nextTurn });
  engine.verifyKvCache();
  engine.unload();
});

it('an engine made without reopenGpu says what to do once its device is lost', async () => {
  const context = await createNodeGpuContext();
  const engine = new Engine(context);
  context.device.destroy();
  await context.lost;
  await expect(engine.load(FILES, OPTIONS)).rejects.toMatchObject({
    code: 'gpu-device-lost',
    message: expect.stringMatching(/^The GPU device was lost \(destroyed: .*Make a new Engine on a new device and load the model again\.$/),
  });
});
