import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { Engine, type StepStats } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 3, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const };

it.each(['timestamps', 'cpu'] as const)('%s profiling reports the step and every layer\'s attention time', async (profiling) => {
  const context = await testGpu();
  expect(context.features.timestampQuery, 'the test adapter offers timestamp-query').toBe(true);
  const engine = new Engine(context);
  await engine.load(blobModelFiles('tiny', makeTinyModel(SPEC)), { kvDtype: 'f16', maxContext: 64, profiling });
  const stats: StepStats[] = [];
  for await (const event of engine.generate({ promptIds: [1, 2, 3, 4], maxTokens: 7, ignoreEos: true, timing: 'sections' })) if (event.kind === 'token') stats.push(event.stats);
  // The first token comes from the prefill; every later one from a decode step. By timestamps, the steps alternate:
  // one timed whole (its token carries no timing), then one timed per layer, which carries the whole one's time.
  expect(stats[0].timing).toBeUndefined();
  const timed = stats.slice(1).filter((_, step) => profiling === 'cpu' || step % 2 === 1);
  expect(timed).toHaveLength(profiling === 'cpu' ? 6 : 3);
  if (profiling === 'timestamps') for (const { timing } of stats.slice(1).filter((_, step) => step % 2 === 0)) expect(timing).toBeUndefined();
  for (const { timing } of timed) {
    expect(timing!.method).toBe(profiling === 'cpu' ? 'cpu' : 'timestamp-query');
    expect(timing!.attentionMs).toHaveLength(SPEC.numLayers);
    // By the CPU clock each section is submitted alone, with no stamps to cost anything.
    if (profiling === 'cpu') expect(timing!.wholeStepMs).toBeUndefined();
    else expect(timing!.wholeStepMs).toBeGreaterThan(0);
    for (const ms of timing!.attentionMs) expect(ms).toBeGreaterThan(0);
    expect(timing!.stepMs).toBeGreaterThan(timing!.attentionMs.reduce((a, b) => a + b, 0));
  }
  // Unasked, no step is timed (timing costs a pass and timestamps per layer).
  for await (const event of engine.generate({ promptIds: [1, 2, 3, 4], maxTokens: 3, ignoreEos: true })) if (event.kind === 'token') expect(event.stats.timing).toBeUndefined();
  engine.unload();
});
