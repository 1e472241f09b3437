import { describe, expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { relativeError } from '../test/pagedKvFixture.ts';
import { CpuReferenceModel } from '../test/cpuForward.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';
import { Engine, type GenerationEvent } from './engine.ts';
import { PREFILL_ATTENTION_KERNELS } from './model.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

async function drain(events: AsyncIterable<GenerationEvent>) {
  const all: GenerationEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const argmax = (values: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
};

// Random-weight models made here: GQA 1, 4 and 8, head dims 64 and 128, f32 and f16 weights; checked against
// a float64 CPU forward, token for token.
const SPECS = [
  { name: 'gqa 4, head dim 64, f32', hiddenSize: 128, intermediateSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const },
  { name: 'gqa 8, head dim 128, f16, tied', hiddenSize: 128, intermediateSize: 192, numLayers: 2, numHeads: 8, numKvHeads: 1, headDim: 128, vocabSize: 512, dtype: 'F16' as const, tie: true },
  { name: 'gqa 1, head dim 64, mistral', hiddenSize: 128, intermediateSize: 128, numLayers: 1, numHeads: 2, numKvHeads: 2, headDim: 64, vocabSize: 512, dtype: 'F32' as const, modelType: 'mistral' },
];

describe.each(SPECS)('tiny random model: $name', (spec) => {
  it.each(ATTENTION_KERNELS)('%s: greedy generation and logits match a float64 CPU forward', async (kernel) => {
    const files = blobModelFiles('tiny model', makeTinyModel(spec));
    const reference = await CpuReferenceModel.load(files);
    const engine = new Engine(await testGpu());
    await engine.load(files, { kvDtype: 'f32', attention: kernel, maxContext: 128, prefillChunk: 5, pageSize: 4, grid: 3 });
    const prompt = [5, 17, 300, 2, 44, 9, 130, 77, 260, 1, 8];
    const events = await drain(engine.generate({ promptIds: prompt, maxTokens: 12, ignoreEos: true, captureLogits: true }));
    const first = events[0];
    if (first.kind !== 'prompt') throw new Error('the first event is the prompt');
    const expectedLogits = reference.lastLogits(prompt);
    expect(relativeError(first.lastPromptLogits!, expectedLogits)).toBeLessThan(1e-4);

    const done = events.at(-1)!;
    if (done.kind !== 'done') throw new Error('the last event is done');
    const context = [...prompt];
    for (const [step, id] of done.generatedIds.entries()) {
      const logits = reference.lastLogits(context);
      const sorted = [...logits].sort((a, b) => b - a);
      // Only a near-tie may differ (then the next steps compare against another continuation).
      if (id !== argmax(logits)) expect(sorted[0] - sorted[1], `step ${step}`).toBeLessThan(1e-3);
      context.push(id);
    }
    engine.unload();
  });
});

describe.each(SPECS)('tiny random model, a long prompt: $name', (spec) => {
  // 75 tokens in chunks of 48: a chunk spans two of the GEMM's 32-token tiles and several causal query blocks, and
  // the second chunk attends to the first one's KV. Prefill's causal attention on either portable kernel.
  it.each(PREFILL_ATTENTION_KERNELS)('prefill attention on the %s kernel: prompt logits match a float64 CPU forward', async (prefillAttention) => {
    const files = blobModelFiles('tiny model', makeTinyModel(spec));
    const reference = await CpuReferenceModel.load(files);
    const engine = new Engine(await testGpu());
    await engine.load(files, { kvDtype: 'f32', attention: 'lean', maxContext: 128, prefillChunk: 48, pageSize: 16, grid: 5, prefillAttention });
    // A calibration's grid (a stored one, not timed) remakes LeanAttention's plans, prefill's too on the decode kernel.
    await engine.calibrate({ load: (key) => ({ key, grid: 7, timings: [], contextLength: 0, method: 'wall-clock' }), save: () => {} });
    const prompt = Array.from({ length: 75 }, (_, i) => (i * 37 + 5) % spec.vocabSize);
    const events = await drain(engine.generate({ promptIds: prompt, maxTokens: 1, ignoreEos: true, captureLogits: true }));
    const first = events[0];
    if (first.kind !== 'prompt') throw new Error('the first event is the prompt');
    expect(relativeError(first.lastPromptLogits!, reference.lastLogits(prompt))).toBeLessThan(1e-4);
    engine.unload();
  });
});
