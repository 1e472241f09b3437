import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { referenceModel } from '../test/sharedModels.ts';
import { Engine } from './engine.ts';
import { nodeModelFiles } from './loader/nodeFiles.ts';

it('stops on a stop string and on an abort, and reuses the cached prefix on the next turn', async () => {
  const model = referenceModel('pydoc-chat-6m');
  const raw = model.cases.find((c) => !c.messages)!;
  const engine = new Engine(await testGpu());
  await engine.load(nodeModelFiles(model.directory), { kvDtype: 'f32', maxContext: 256 });
  const conversation = engine.newConversation();

  let done: { reason: string; text: string } | undefined;
  for await (const event of engine.generate({ prompt: raw.prompt, maxTokens: 48, stop: ['pattern'], conversation })) if (event.kind === 'done') done = event;
  expect(done!.reason).toBe('stop-string');
  expect(raw.greedy_text.startsWith(done!.text)).toBe(true);
  expect(done!.text).toMatch(/pattern$/);

  const abort = new AbortController();
  let tokens = 0;
  let reused = 0;
  for await (const event of engine.generate({ prompt: raw.prompt + done!.text, maxTokens: 40, conversation, signal: abort.signal })) {
    if (event.kind === 'prompt') reused = event.reusedTokens;
    if (event.kind === 'token' && ++tokens === 3) abort.abort();
    if (event.kind === 'done') done = event;
  }
  expect(reused).toBeGreaterThan(5);
  expect(done!.reason).toBe('aborted');
  expect(tokens).toBe(3);
  engine.endConversation(conversation);
  engine.verifyKvCache();
  engine.unload();
});
