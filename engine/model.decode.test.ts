import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { makeTinyModel } from '../test/tinyModel.ts';
import { GREEDY, type SamplingSettings } from '../kernels/model/sampler.ts';
import { loadModel } from './engine.ts';
import type { TokenMatcher } from './grammar/grammar.ts';
import { blobModelFiles } from './loader/blobFiles.ts';
import type { ProfilingMode } from './stepRecorder.ts';

const SPEC = { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 64, vocabSize: 512, dtype: 'F32' as const };
const PROMPT = [5, 17, 300, 2, 44];
const BUDGET = 10;
const TAKEN = 4;

/**
 * A grammar that allows, at its step n, the tokens t with (t · 7 + n · 13) mod 9 = 0, until it has accepted
 * `length` tokens; then only the stop token, and nothing once it has accepted that. It records what it accepts; as
 * `concurrent`, it answers an accept a task later, as a matcher on a thread of its own does.
 */
class StepGrammar implements TokenMatcher {
  readonly accepted: number[] = [];
  terminated = false;

  constructor(
    private readonly length: number,
    private readonly stop: number,
    readonly concurrent = false,
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

  async accept(token: number): Promise<boolean> {
    if (this.concurrent) await new Promise((resolve) => setTimeout(resolve, 0));
    if (this.terminated || !this.allows(token)) return false;
    this.accepted.push(token);
    this.terminated = token === this.stop;
    return true;
  }

  dispose(): void {}
}

/** A grammar that allows every token and never ends. */
class AnyToken implements TokenMatcher {
  readonly terminated = false;

  constructor(readonly concurrent: boolean) {}

  async nextTokenMask(): Promise<Uint32Array> {
    return new Uint32Array(SPEC.vocabSize / 32).fill(0xffffffff);
  }

  async accept(): Promise<boolean> {
    return true;
  }

  dispose(): void {}
}

/** The tiny model loaded with `options`, with PROMPT prefilled into a new sequence (sampled as `sampling` says). */
async function prefilledRunner(
  options: { maxContext: number; decodeDepth?: number; separateRopeKv?: boolean; profiling?: ProfilingMode },
  constraint?: TokenMatcher,
  sampling: SamplingSettings = GREEDY,
) {
  const context = await testGpu();
  const { runner } = await loadModel(context, blobModelFiles('tiny', makeTinyModel(SPEC)), { kvDtype: 'f32', pageSize: 4, ...options });
  const { kv } = runner;
  const sequence = kv.createSequence();
  kv.reserve(sequence, PROMPT.length);
  runner.writeTokens(0, PROMPT);
  runner.beginSampling(sampling, PROMPT);
  await runner.prefill(sequence, 0, PROMPT.length, { constraint });
  kv.setLength(sequence, PROMPT.length);
  return { context, runner, kv, sequence };
}

/**
 * What the host records and submits until `restore()`, in order: each command encoder by its label, and 'submit' for
 * each submission; `submits` counts the latter.
 */
function watchCommands(device: GPUDevice): { readonly log: string[]; readonly submits: number; restore(): void } {
  const log: string[] = [];
  let submits = 0;
  const { queue } = device;
  const submit = queue.submit;
  const createCommandEncoder = device.createCommandEncoder;
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    log.push('submit');
    submits++;
    submit.call(queue, buffers);
  };
  device.createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor) => {
    log.push(descriptor?.label ?? '');
    return createCommandEncoder.call(device, descriptor);
  };
  return {
    log,
    get submits() {
      return submits;
    },
    restore: () => {
      queue.submit = submit;
      device.createCommandEncoder = createCommandEncoder;
    },
  };
}

it.each([1, 2, 3])('decode depth %i: that many steps are submitted while the host waits, and only yielded tokens count', async (depth) => {
  const { context, runner, kv, sequence } = await prefilledRunner({ maxContext: 64, decodeDepth: depth });
  const { queue } = context.device;
  const commands = watchCommands(context.device);
  const submittedAtToken: number[] = [];
  try {
    for await (const { position } of runner.decode(sequence, PROMPT.length, { steps: BUDGET })) {
      submittedAtToken.push(commands.submits);
      expect(kv.length(sequence), 'the KV before a yielded token counts').toBe(position);
      if (submittedAtToken.length === TAKEN) break;
    }
  } finally {
    commands.restore();
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

it.each([true, false])('under a grammar (on a thread of its own: %s), each token is one it allows, the next steps run while the host reads a token, and the loop ends with the grammar', async (concurrent) => {
  const STOP = 2;
  const grammar = new StepGrammar(6, STOP, concurrent);
  const { context, runner, kv, sequence } = await prefilledRunner({ maxContext: 64, decodeDepth: 3 }, grammar);
  expect(grammar.accepted, 'the prefill samples the first token under the mask').toHaveLength(1);
  const { queue } = context.device;
  const commands = watchCommands(context.device);
  const accept = grammar.accept.bind(grammar);
  grammar.accept = (token) => {
    commands.log.push('accept');
    return accept(token);
  };
  const tokens: number[] = [];
  const submittedAtToken: number[] = [];
  const loop = runner.decode(sequence, PROMPT.length, { steps: BUDGET, constraint: grammar });
  let next = await loop.next();
  try {
    for (; !next.done; next = await loop.next()) {
      tokens.push(next.value.token);
      submittedAtToken.push(commands.submits);
      expect(kv.length(sequence)).toBe(next.value.position);
    }
  } finally {
    commands.restore();
  }
  expect(next.value).toBe('grammar-end');
  // The grammar's five more tokens, then the stop token; each one it allowed (accept() refuses any other).
  expect(tokens).toEqual(grammar.accepted.slice(1));
  expect(tokens).toHaveLength(6);
  expect(tokens.at(-1)).toBe(STOP);
  // Token k (from 1) is yielded with step k + 1's sample and step k + 2's forward pass submitted (two submissions a
  // step); the stop token is read with the step after it submitted, but no sample follows it.
  expect(submittedAtToken).toEqual([5, 7, 9, 11, 13, 13]);
  // Each forward pass after the first three is recorded, on a thread-owning matcher, while it accepts the token
  // three steps before it (and computes the next mask); else after the submissions that follow that token. Either
  // way it is submitted right after the sample that the next token's mask allows: no recording between a mask and
  // the GPU's next work. A thread-owning matcher's stop token records a step that never runs.
  const start = ['decode step', 'submit', 'sample', 'submit', 'decode step', 'submit', 'decode step'];
  const perToken = concurrent ? ['accept', 'decode step', 'sample', 'submit', 'submit'] : ['accept', 'sample', 'submit', 'submit', 'decode step'];
  const last = concurrent ? ['accept', 'decode step'] : ['accept'];
  expect(commands.log).toEqual([...start, ...Array.from({ length: 5 }, () => perToken).flat(), ...last]);
  await queue.onSubmittedWorkDone();
  kv.verify();
  kv.release(sequence);
  runner.destroy();
});

it('a grammar that allows every token changes no greedy or sampled token: its samples read the position of their own step', async () => {
  const decoded = async (sampling: SamplingSettings, constraint?: TokenMatcher, profiling?: ProfilingMode) => {
    const { runner, kv, sequence } = await prefilledRunner({ maxContext: 64, profiling }, constraint, sampling);
    const tokens: number[] = [];
    const timing = profiling && 'sections';
    for await (const step of runner.decode(sequence, PROMPT.length, { steps: BUDGET, constraint, timing })) {
      tokens.push(step.token);
      // By timestamps every other step is timed per layer, beside the whole step before it; by the CPU clock, all.
      const timedPerLayer = profiling === 'cpu' || (profiling === 'timestamps' && tokens.length % 2 === 0);
      expect(step.timing?.attentionMs.length).toBe(timedPerLayer ? SPEC.numLayers : undefined);
      expect(step.timing?.wholeStepMs !== undefined).toBe(profiling === 'timestamps' && timedPerLayer);
    }
    kv.release(sequence);
    runner.destroy();
    return tokens;
  };
  const sampled: SamplingSettings = { temperature: 1.5, topK: 0, topP: 1, repetitionPenalty: 1, seed: 7 };
  for (const sampling of [GREEDY, sampled]) {
    const free = await decoded(sampling);
    expect(free).toHaveLength(BUDGET);
    for (const concurrent of [true, false]) {
      expect(await decoded(sampling, new AnyToken(concurrent))).toEqual(free);
      // Timed by the wall clock, a step submits as it records: it is recorded when it is submitted.
      expect(await decoded(sampling, new AnyToken(concurrent), 'cpu')).toEqual(free);
      // Timed by timestamps, steps timed whole and per layer take turns.
      expect(await decoded(sampling, new AnyToken(concurrent), 'timestamps')).toEqual(free);
    }
  }
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
