import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/gpu.ts';
import { createStorageBuffer, readBuffer } from '../gpu/buffers.ts';
import { seededRandom } from '../gpu/seededRandom.ts';
import { dispatch } from './boundKernel.ts';
import { GREEDY, maskWords, Sampler, samplerBatch, samplerWorkgroup, type SamplingSettings } from './sampler.ts';
import { StepUniform } from './stepUniform.ts';

const VOCAB = 300;
/** What the outputs hold before each draw: a token the kernel did not write cannot pass for one it did. */
const POISON = 0xffffffff;

async function makeSampler(logits: Float32Array, { workgroup, batch, chunked }: { workgroup: number; batch: number; chunked: boolean }) {
  const context = await testGpu();
  const { device } = context;
  const step = new StepUniform(device);
  const tokens = createStorageBuffer(device, 'tokens', 4 * 64);
  const sampled = createStorageBuffer(device, 'sampled', 4);
  const sampler = new Sampler(device, { vocabSize: VOCAB, step: step.buffer, logits: createStorageBuffer(device, 'logits', logits), tokens, sampled, workgroup, batch, chunked });
  /** Samples once at `position` (the hash input), with the token mask `mask` if given, returns the token. */
  const draw = async (settings: SamplingSettings, position: number, seen: number[] = [], mask?: Uint32Array) => {
    sampler.begin(settings, seen);
    if (mask) sampler.setTokenMask(mask);
    device.queue.writeBuffer(sampled, 0, new Uint32Array([POISON]));
    device.queue.writeBuffer(tokens, 4 * (position + 1), new Uint32Array([POISON]));
    step.write({ tokenCount: 1, position, pageTableOffset: 0, lastRow: 0 });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const kernel of sampler.kernels) dispatch(pass, kernel, { tokenCount: 1 });
    pass.end();
    device.queue.submit([encoder.finish()]);
    const token = new Uint32Array(await readBuffer(device, sampled, 4))[0];
    const written = new Uint32Array(await readBuffer(device, tokens, 4 * 64))[position + 1];
    expect(written, 'the token is also written where the next step reads it').toBe(token);
    return token;
  };
  return { draw, sampler };
}

/** The softmax at `temperature` in float64, over the tokens `allowed` keeps (all by default). */
function softmax(logits: Float32Array, temperature: number, allowed: (token: number) => boolean = () => true): Float64Array {
  const max = Math.max(...logits.filter((_, i) => allowed(i)));
  const p = Float64Array.from(logits, (l, i) => (allowed(i) ? Math.exp((l - max) / temperature) : 0));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / sum);
}

/** A token mask as the sampler takes it (bit set = allowed) of the tokens in `allowed`. */
function tokenMask(allowed: Iterable<number>): Uint32Array {
  const words = new Uint32Array(maskWords(VOCAB));
  for (const token of allowed) words[token >>> 5] |= 1 << (token & 31);
  return words;
}

function isAllowed(mask: Uint32Array, token: number): boolean {
  return ((mask[token >>> 5] >>> (token & 31)) & 1) === 1;
}

/** Logits uniform in [-4, 4), none of them 0 (so a zeroed buffer cannot stand in for them). */
function randomLogits(seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: VOCAB }, () => (random() < 0.5 ? -4 : 0.001) + 3.999 * random());
}

// A GPU's workgroup and batch and a CPU adapter's, both checked on whichever adapter runs the tests, each in one
// dispatch and with greedy picks scaling the logits in chunks first (a large vocabulary's path; the CPU shape's
// chunks of 64 tokens cut this vocabulary in five, the last one short).
const SHAPES = [false, true].flatMap((cpu) => [false, true].map((chunked) => ({ workgroup: samplerWorkgroup(cpu), batch: samplerBatch(cpu), chunked })));
describe.each(SHAPES)('GPU sampler, workgroup of $workgroup, batches of $batch, chunked: $chunked', (shape) => {
  // A peaked distribution over a few tokens plus a long tail.
  const logits = Float32Array.from({ length: VOCAB }, (_, i) => (i === 7 ? 4 : i === 123 ? 3.5 : i === 250 ? 3 : i === 5 ? 2 : Math.sin(i) - 2));
  const sampling = (patch: Partial<SamplingSettings>): SamplingSettings => ({ temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 42, ...patch });

  it('greedy takes the largest logit, and the first index among equals', async () => {
    const { draw } = await makeSampler(logits, shape);
    expect(await draw(GREEDY, 0)).toBe(7);
    const tied = logits.slice();
    tied[200] = 4;
    expect(await (await makeSampler(tied, shape)).draw(GREEDY, 0)).toBe(7);
  });

  it('repetition penalty turns greedy away from a seen token', async () => {
    const { draw } = await makeSampler(logits, shape);
    expect(await draw({ ...GREEDY, repetitionPenalty: 1.5 }, 0, [7])).toBe(123);
  });

  it('is reproducible for a seed and position, and follows the softmax over many draws', async () => {
    const { draw } = await makeSampler(logits, shape);
    expect(await draw(sampling({ seed: 9 }), 3)).toBe(await draw(sampling({ seed: 9 }), 3));
    const counts = new Map<number, number>();
    const draws = 400;
    for (let i = 0; i < draws; i++) {
      const token = await draw(sampling({ seed: 1000 + i }), i % 60);
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    const p = softmax(logits, 1);
    for (const token of [7, 123, 250]) {
      const expected = p[token] * draws;
      const sd = Math.sqrt(draws * p[token] * (1 - p[token]));
      expect(Math.abs((counts.get(token) ?? 0) - expected), `token ${token}`).toBeLessThan(4.5 * sd);
    }
  });

  it('top-k keeps only the k most likely tokens', async () => {
    const { draw } = await makeSampler(logits, shape);
    const seen = new Set<number>();
    for (let i = 0; i < 60; i++) seen.add(await draw(sampling({ topK: 2, temperature: 3, seed: i }), i % 60));
    expect([...seen].sort((a, b) => a - b)).toEqual([7, 123]);
  });

  it('top-p keeps the smallest set of tokens that reaches p', async () => {
    const { draw } = await makeSampler(logits, shape);
    const p = softmax(logits, 1);
    const nucleus = p[7] + p[123];
    const seen = new Set<number>();
    // Just above the two most likely tokens' mass: the third is needed, the tail is not.
    for (let i = 0; i < 80; i++) seen.add(await draw(sampling({ topP: nucleus + 0.01, seed: 77 + i }), i % 60));
    expect([...seen].sort((a, b) => a - b)).toEqual([7, 123, 250]);
  });

  describe('with a token mask', () => {
    it('greedy takes the largest allowed logit, after the repetition penalty (float64 reference)', async () => {
      for (const seed of [1, 2, 3]) {
        const random = seededRandom(100 + seed);
        const values = randomLogits(seed);
        const allowed = Array.from({ length: VOCAB }, (_, i) => i).filter(() => random() < 0.2);
        const seen = allowed.filter(() => random() < 0.3);
        const mask = tokenMask(allowed);
        const { draw } = await makeSampler(values, shape);
        for (const penalty of [1, 1.3]) {
          // The kernel's f32 arithmetic, rounded as it rounds.
          const penalized = (i: number) => {
            const l = values[i];
            if (penalty === 1 || !seen.includes(i)) return l;
            return l > 0 ? Math.fround(l / Math.fround(penalty)) : Math.fround(l * Math.fround(penalty));
          };
          const expected = allowed.reduce((best, i) => (penalized(i) > penalized(best) ? i : best), allowed[0]);
          expect(await draw({ ...GREEDY, repetitionPenalty: penalty }, seed, seen, mask), `seed ${seed}, penalty ${penalty}`).toBe(expected);
        }
      }
    });

    it('draws only allowed tokens, as often as the softmax over them says', async () => {
      const values = randomLogits(7);
      // The four allowed tokens are among the least likely of the whole vocabulary.
      const order = Array.from({ length: VOCAB }, (_, i) => i).sort((a, b) => values[a] - values[b]);
      const allowed = [order[0], order[3], order[10], order[40]];
      const mask = tokenMask(allowed);
      const { draw } = await makeSampler(values, shape);
      const counts = new Map<number, number>();
      const draws = 300;
      for (let i = 0; i < draws; i++) {
        const token = await draw(sampling({ seed: 5000 + i }), i % 60, [], mask);
        counts.set(token, (counts.get(token) ?? 0) + 1);
      }
      expect([...counts.keys()].filter((token) => !isAllowed(mask, token))).toEqual([]);
      const p = softmax(values, 1, (token) => isAllowed(mask, token));
      for (const token of allowed) {
        const expected = p[token] * draws;
        const sd = Math.sqrt(draws * p[token] * (1 - p[token]));
        expect(Math.abs((counts.get(token) ?? 0) - expected), `token ${token}`).toBeLessThan(4.5 * sd + 1);
      }
    });

    it('top-k and top-p count only the allowed tokens', async () => {
      const { draw } = await makeSampler(logits, shape);
      // 7, 123 and 250 are the three most likely tokens; without 123, the two most likely allowed are 7 and 250.
      const mask = tokenMask([7, 250, 5, 60, 61, 62]);
      const topK = new Set<number>();
      for (let i = 0; i < 60; i++) topK.add(await draw(sampling({ topK: 2, temperature: 3, seed: i }), i % 60, [], mask));
      expect([...topK].sort((a, b) => a - b)).toEqual([7, 250]);
      const p = softmax(logits, 1, (token) => isAllowed(mask, token));
      const topP = new Set<number>();
      for (let i = 0; i < 80; i++) topP.add(await draw(sampling({ topP: p[7] + p[250] + 0.01, seed: 300 + i }), i % 60, [], mask));
      expect([...topP].sort((a, b) => a - b)).toEqual([5, 7, 250]);
    });

    const modes: [string, SamplingSettings][] = [
      ['greedy', GREEDY],
      ['greedy with the token penalized', { ...GREEDY, repetitionPenalty: 2 }],
      ['temperature 0.7', sampling({ temperature: 0.7 })],
      ['temperature 2, penalized', sampling({ temperature: 2, repetitionPenalty: 1.5 })],
      ['top-k 1', sampling({ topK: 1 })],
      ['top-k 5', sampling({ topK: 5, temperature: 1.5 })],
      ['top-p 0.1', sampling({ topP: 0.1 })],
      ['top-k 3 and top-p 0.9', sampling({ topK: 3, topP: 0.9, temperature: 0.5 })],
    ];
    it.each(modes)('a mask that allows one token gives that token: %s', async (_, settings) => {
      const values = randomLogits(11);
      const { draw } = await makeSampler(values, shape);
      const lowest = values.indexOf(Math.min(...values));
      // The least likely token, the first and the last (in the mask's partial last word).
      for (const only of [lowest, 0, VOCAB - 1]) {
        for (const position of [0, 17, 40]) expect(await draw(settings, position, [only], tokenMask([only])), `token ${only} at ${position}`).toBe(only);
      }
    });

    it('begin() allows every token again', async () => {
      const { draw } = await makeSampler(logits, shape);
      expect(await draw(GREEDY, 0, [], tokenMask([250]))).toBe(250);
      expect(await draw(GREEDY, 0)).toBe(7);
    });
  });
});

describe('GPU sampler over a vocabulary scaled in chunks', () => {
  it('takes two dispatches for greedy picks and one for draws, whose bisections reread the scaled logits', async () => {
    const { draw, sampler } = await makeSampler(randomLogits(3), { workgroup: samplerWorkgroup(true), batch: samplerBatch(true), chunked: true });
    await draw(GREEDY, 0);
    expect(sampler.kernels.map((k) => k.label)).toEqual(['sample chunks', 'sample from chunks']);
    await draw({ temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 1 }, 0);
    expect(sampler.kernels.map((k) => k.label)).toEqual(['sample']);
  });
});
