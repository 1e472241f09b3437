import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/gpu.ts';
import { createStorageBuffer, readBuffer } from '../gpu/buffers.ts';
import { dispatch } from './boundKernel.ts';
import { GREEDY, Sampler, type SamplingSettings } from './sampler.ts';
import { StepUniform } from './stepUniform.ts';

const VOCAB = 300;

async function makeSampler(logits: Float32Array) {
  const context = await testGpu();
  const { device } = context;
  const step = new StepUniform(device);
  const tokens = createStorageBuffer(device, 'tokens', 4 * 64);
  const sampled = createStorageBuffer(device, 'sampled', 4);
  const sampler = new Sampler(device, { vocabSize: VOCAB, step: step.buffer, logits: createStorageBuffer(device, 'logits', logits), tokens, sampled });
  /** Samples once at `position` (the hash input), returns the token. */
  const draw = async (settings: SamplingSettings, position: number, seen: number[] = []) => {
    sampler.begin(settings, seen);
    step.write({ tokenCount: 1, position, pageTableOffset: 0, lastRow: 0 });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(pass, sampler.kernel, { tokenCount: 1 });
    pass.end();
    device.queue.submit([encoder.finish()]);
    const token = new Uint32Array(await readBuffer(device, sampled, 4))[0];
    const written = new Uint32Array(await readBuffer(device, tokens, 4 * 64))[position + 1];
    expect(written, 'the token is also written where the next step reads it').toBe(token);
    return token;
  };
  return { draw };
}

function softmax(logits: Float32Array, temperature: number): Float64Array {
  const max = Math.max(...logits);
  const p = Float64Array.from(logits, (l) => Math.exp((l - max) / temperature));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / sum);
}

describe('GPU sampler', () => {
  // A peaked distribution over a few tokens plus a long tail.
  const logits = Float32Array.from({ length: VOCAB }, (_, i) => (i === 7 ? 4 : i === 123 ? 3.5 : i === 250 ? 3 : i === 5 ? 2 : Math.sin(i) - 2));
  const sampling = (patch: Partial<SamplingSettings>): SamplingSettings => ({ temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 42, ...patch });

  it('greedy takes the largest logit, and the first index among equals', async () => {
    const { draw } = await makeSampler(logits);
    expect(await draw(GREEDY, 0)).toBe(7);
    const tied = logits.slice();
    tied[200] = 4;
    expect(await (await makeSampler(tied)).draw(GREEDY, 0)).toBe(7);
  });

  it('repetition penalty turns greedy away from a seen token', async () => {
    const { draw } = await makeSampler(logits);
    expect(await draw({ ...GREEDY, repetitionPenalty: 1.5 }, 0, [7])).toBe(123);
  });

  it('is reproducible for a seed and position, and follows the softmax over many draws', async () => {
    const { draw } = await makeSampler(logits);
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
    const { draw } = await makeSampler(logits);
    const seen = new Set<number>();
    for (let i = 0; i < 60; i++) seen.add(await draw(sampling({ topK: 2, temperature: 3, seed: i }), i % 60));
    expect([...seen].sort((a, b) => a - b)).toEqual([7, 123]);
  });

  it('top-p keeps the smallest set of tokens that reaches p', async () => {
    const { draw } = await makeSampler(logits);
    const p = softmax(logits, 1);
    const nucleus = p[7] + p[123];
    const seen = new Set<number>();
    // Just above the two most likely tokens' mass: the third is needed, the tail is not.
    for (let i = 0; i < 80; i++) seen.add(await draw(sampling({ topP: nucleus + 0.01, seed: 77 + i }), i % 60));
    expect([...seen].sort((a, b) => a - b)).toEqual([7, 123, 250]);
  });
});
