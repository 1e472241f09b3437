import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { EngineError } from '../errors/engineError.ts';
import { Engine } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';
import type { StressEvent } from './stress.ts';

const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const };

it("the sweep on a loaded model: every kernel's attention at every context, the fill's progress, then the engine as before", async () => {
  const engine = new Engine(await testGpu());
  await engine.load(blobModelFiles('tiny', makeTinyModel(SPEC)), { kvDtype: 'f16', maxContext: 64, profiling: 'timestamps' });
  const events: StressEvent[] = [];
  // 57 tokens and the sweep's 6 decode steps (3 of them timed per layer) fill the 64-token context to its last.
  await engine.stress([57, 20], ['lean', 'fd', 'fa2'], (event) => events.push(event));
  const points = events.flatMap((event) => (event.kind === 'point' ? [event.point] : []));
  expect(points.map((p) => [p.context, p.kernel])).toEqual([
    [20, 'lean'],
    [20, 'fd'],
    [20, 'fa2'],
    [57, 'lean'],
    [57, 'fd'],
    [57, 'fa2'],
  ]);
  for (const point of points) {
    expect(point.attentionMs).toBeGreaterThan(0);
    expect(point.gbPerSecond).toBeGreaterThan(0);
  }
  expect(events.filter((event) => event.kind === 'fill').at(-1)).toEqual({ kind: 'fill', filled: 57, target: 57 });
  const overflow = await engine.stress([58], ['lean'], () => {}).catch((error: unknown) => error);
  expect(overflow).toBeInstanceOf(EngineError);
  expect((overflow as EngineError).code).toBe('context-overflow');
  engine.verifyKvCache();
  const tokens: number[] = [];
  for await (const event of engine.generate({ promptIds: [1, 2, 3], maxTokens: 4, ignoreEos: true })) if (event.kind === 'token') tokens.push(event.id);
  expect(tokens).toHaveLength(4);
  engine.unload();
});
