import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { GREEDY } from '../kernels/model/sampler.ts';
import { loadModel } from './engine.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const };
const PROMPT = [5, 17, 300, 2, 44];
const BUDGET = 10;
const TAKEN = 4;

/** The tiny model loaded with `options`, with PROMPT prefilled into a new sequence. */
async function prefilledRunner(options: { maxContext: number; decodeDepth?: number; separateRopeKv?: boolean }) {
  const context = await testGpu();
  const { runner } = await loadModel(context, blobModelFiles('tiny', makeTinyModel(SPEC)), { kvDtype: 'f32', pageSize: 4, ...options });
  const { kv } = runner;
  const sequence = kv.createSequence();
  kv.reserve(sequence, PROMPT.length);
  runner.writeTokens(0, PROMPT);
  runner.beginSampling(GREEDY, PROMPT);
  await runner.prefill(sequence, 0, PROMPT.length);
  kv.setLength(sequence, PROMPT.length);
  return { context, runner, kv, sequence };
}

it.each([1, 2, 3])('decode depth %i: that many steps are submitted while the host waits, and only yielded tokens count', async (depth) => {
  const { context, runner, kv, sequence } = await prefilledRunner({ maxContext: 64, decodeDepth: depth });
  const { queue } = context.device;

  let submits = 0;
  const submit = queue.submit;
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    submits++;
    submit.call(queue, buffers);
  };
  const submittedAtToken: number[] = [];
  try {
    for await (const { position } of runner.decode(sequence, PROMPT.length, { steps: BUDGET })) {
      submittedAtToken.push(submits);
      expect(kv.length(sequence), 'the KV before a yielded token counts').toBe(position);
      if (submittedAtToken.length === TAKEN) break;
    }
  } finally {
    queue.submit = submit;
  }
  // Token k (from 1) is yielded while steps k + 1 ... k + depth − 1 run: one untimed submission per step.
  expect(submittedAtToken).toEqual(Array.from({ length: TAKEN }, (_, i) => Math.min(i + depth, BUDGET)));
  await queue.onSubmittedWorkDone();
  expect(kv.length(sequence), 'the steps past the last yielded token count for nothing').toBe(PROMPT.length + TAKEN);
  kv.verify();
  kv.release(sequence);
  runner.destroy();
});

it('the decode loop stops by itself at its step budget and at the end of the context', async () => {
  const { runner, kv, sequence } = await prefilledRunner({ maxContext: 16 });
  const drain = async (steps?: number) => {
    const loop = runner.decode(sequence, PROMPT.length, { steps });
    const positions: number[] = [];
    for (let next = await loop.next(); ; next = await loop.next()) {
      if (next.done) return { end: next.value, positions };
      positions.push(next.value.position);
    }
  };
  expect(await drain(3)).toEqual({ end: 'steps', positions: [6, 7, 8] });
  // The last token sits at position 15 of a 16-token context: no step may sample past it.
  expect(await drain()).toEqual({ end: 'context-full', positions: Array.from({ length: 10 }, (_, i) => 6 + i) });
  expect(kv.length(sequence)).toBe(15);
  kv.verify();
  kv.release(sequence);
  runner.destroy();
});

it("decode rotates q/k and writes the KV in the q/k/v GEMV's epilogue where the adapter allows: a dispatch a layer fewer, the same tokens", async () => {
  const decoded = async (separateRopeKv: boolean) => {
    const { runner, kv, sequence } = await prefilledRunner({ maxContext: 64, separateRopeKv });
    const tokens: number[] = [];
    for await (const { token } of runner.decode(sequence, PROMPT.length, { steps: BUDGET })) tokens.push(token);
    const result = { tokens, fused: runner.decodeFusesRopeKv, dispatches: runner.lastDispatchCount };
    kv.release(sequence);
    runner.destroy();
    return result;
  };
  const fused = await decoded(false);
  const separate = await decoded(true);
  expect(separate.fused).toBe(false);
  expect(fused.fused).toBe((await testGpu()).limits.maxStorageBuffersPerShaderStage >= 9);
  expect(separate.dispatches - fused.dispatches).toBe(fused.fused ? SPEC.numLayers : 0);
  expect(fused.tokens).toEqual(separate.tokens);
});
