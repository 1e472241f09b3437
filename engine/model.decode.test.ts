import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { GREEDY } from '../kernels/model/sampler.ts';
import { loadModel } from './engine.ts';
import type { TokenMatcher } from './grammar/grammar.ts';
import { blobModelFiles } from './loader/blobFiles.ts';

const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const };
const PROMPT = [5, 17, 300, 2, 44];
const BUDGET = 10;
const TAKEN = 4;

/**
 * A grammar that allows, at its step n, the tokens t with (t · 7 + n · 13) mod 9 = 0, until it has accepted
 * `length` tokens; then only the stop token, and nothing once it has accepted that. It records what it accepts.
 */
class StepGrammar implements TokenMatcher {
  readonly accepted: number[] = [];
  terminated = false;

  constructor(
    private readonly length: number,
    private readonly stop: number,
  ) {}

  allows(token: number): boolean {
    const n = this.accepted.length;
    return n >= this.length ? token === this.stop : token !== this.stop && (token * 7 + n * 13) % 9 === 0;
  }

  async nextTokenMask(): Promise<Uint32Array> {
    if (this.terminated) throw new Error('the mask of a finished grammar was asked for');
    const mask = new Uint32Array(SPEC.vocabSize / 32);
    for (let token = 0; token < SPEC.vocabSize; token++) if (this.allows(token)) mask[token >>> 5] |= 1 << (token & 31);
    return mask;
  }

  accept(token: number): boolean {
    if (this.terminated || !this.allows(token)) return false;
    this.accepted.push(token);
    this.terminated = token === this.stop;
    return true;
  }

  dispose(): void {}
}

/** The tiny model loaded with `options`, with PROMPT prefilled into a new sequence. */
async function prefilledRunner(options: { maxContext: number; decodeDepth?: number; separateRopeKv?: boolean }, constraint?: TokenMatcher) {
  const context = await testGpu();
  const { runner } = await loadModel(context, blobModelFiles('tiny', makeTinyModel(SPEC)), { kvDtype: 'f32', pageSize: 4, ...options });
  const { kv } = runner;
  const sequence = kv.createSequence();
  kv.reserve(sequence, PROMPT.length);
  runner.writeTokens(0, PROMPT);
  runner.beginSampling(GREEDY, PROMPT);
  await runner.prefill(sequence, 0, PROMPT.length, { constraint });
  kv.setLength(sequence, PROMPT.length);
  return { context, runner, kv, sequence };
}

/** Counts the queue's submissions until `restore()`. */
function countSubmits(queue: GPUQueue): { readonly count: number; restore(): void } {
  let count = 0;
  const submit = queue.submit;
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    count++;
    submit.call(queue, buffers);
  };
  return {
    get count() {
      return count;
    },
    restore: () => {
      queue.submit = submit;
    },
  };
}

it.each([1, 2, 3])('decode depth %i: that many steps are submitted while the host waits, and only yielded tokens count', async (depth) => {
  const { context, runner, kv, sequence } = await prefilledRunner({ maxContext: 64, decodeDepth: depth });
  const { queue } = context.device;
  const submits = countSubmits(queue);
  const submittedAtToken: number[] = [];
  try {
    for await (const { position } of runner.decode(sequence, PROMPT.length, { steps: BUDGET })) {
      submittedAtToken.push(submits.count);
      expect(kv.length(sequence), 'the KV before a yielded token counts').toBe(position);
      if (submittedAtToken.length === TAKEN) break;
    }
  } finally {
    submits.restore();
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

it('under a grammar, each token is one it allows, the next steps run while the host reads a token, and the loop ends with the grammar', async () => {
  const STOP = 2;
  const grammar = new StepGrammar(6, STOP);
  const { context, runner, kv, sequence } = await prefilledRunner({ maxContext: 64, decodeDepth: 3 }, grammar);
  expect(grammar.accepted, 'the prefill samples the first token under the mask').toHaveLength(1);
  const { queue } = context.device;
  const submits = countSubmits(queue);
  const tokens: number[] = [];
  const submittedAtToken: number[] = [];
  const loop = runner.decode(sequence, PROMPT.length, { steps: BUDGET, constraint: grammar });
  let next = await loop.next();
  try {
    for (; !next.done; next = await loop.next()) {
      tokens.push(next.value.token);
      submittedAtToken.push(submits.count);
      expect(kv.length(sequence)).toBe(next.value.position);
    }
  } finally {
    submits.restore();
  }
  expect(next.value).toBe('grammar-end');
  // The grammar's five more tokens, then the stop token; each one it allowed (accept() refuses any other).
  expect(tokens).toEqual(grammar.accepted.slice(1));
  expect(tokens).toHaveLength(6);
  expect(tokens.at(-1)).toBe(STOP);
  // Token k (from 1) is yielded with step k + 1's sample and step k + 2's forward pass submitted (two submissions a
  // step); the stop token is read with the step after it submitted, but no sample follows it.
  expect(submittedAtToken).toEqual([5, 7, 9, 11, 13, 13]);
  await queue.onSubmittedWorkDone();
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
