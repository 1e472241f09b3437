import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { countLiveBuffers } from '../test/liveBuffers.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { Engine } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

it('a 2,000-step decode keeps the number of live GPU buffers constant', async () => {
  const context = await testGpu();
  const live = countLiveBuffers(context.device);
  const files = blobModelFiles('tiny', makeTinyModel({ hiddenSize: 64, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' }));
  const engine = new Engine(context);
  await engine.load(files, { kvDtype: 'f16', maxContext: 2100, pageSize: 16 });
  const conversation = engine.newConversation();
  let liveAtStep10 = -1;
  let steps = 0;
  for await (const event of engine.generate({ promptIds: [1, 2, 3], maxTokens: 2000, ignoreEos: true, conversation })) {
    if (event.kind !== 'token') continue;
    steps++;
    if (steps === 10) liveAtStep10 = live();
  }
  expect(steps).toBe(2000);
  expect(live()).toBe(liveAtStep10);
  engine.verifyKvCache();
  engine.endConversation(conversation);
  engine.unload();
});
