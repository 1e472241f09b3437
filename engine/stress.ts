import type { GpuContext } from '../kernels/gpu/context.ts';
import { createStorageBuffer } from '../kernels/gpu/buffers.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import { seededRandom } from '../kernels/gpu/seededRandom.ts';
import { measureAmongOthers, measurePasses } from '../kernels/gpu/timing.ts';
import { createCacheEviction, type CacheEviction } from '../kernels/bandwidth/streamRead.ts';
import { DecodeAttention } from '../kernels/attention/decodeAttention.ts';
import type { PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { createSyntheticKv, kvBytesRead, syntheticKvFits } from '../kernels/attention/syntheticKv.ts';
import { GREEDY } from '../kernels/model/sampler.ts';
import { EngineError } from '../errors/engineError.ts';
import type { ModelRunner, StepTiming } from './model.ts';
import { attentionLessTimestampCost } from './timestampCost.ts';

/**
 * How a point's time was taken:
 *   - among-others: synthetic KV on a GPU: a call among others, each after a read that evicts the caches (as after a
 *     model's projections), less those reads (measureAmongOthers): what a layer's attention costs in a model's step;
 *   - single-call: synthetic KV on a CPU adapter: each call in a timed pass of its own (there a call takes milliseconds
 *     and a timestamp's cost is lost in their spread, while evicting the caches would take most of the sweep);
 *   - model-steps: the loaded model's decode steps, each layer's attention timed in a pass of its own, less what
 *     those timestamps cost the step (engine/timestampCost.ts).
 */
export type StressTiming = 'among-others' | 'single-call' | 'model-steps';

/** How the synthetic sweep can time its points. */
export type SyntheticTiming = Exclude<StressTiming, 'model-steps'>;

/** One point of the long-context sweep: a kernel's attention GPU time (all layers) at one context length. */
export interface StressPoint {
  context: number;
  kernel: AttentionKernel;
  attentionMs: number;
  gbPerSecond: number;
  timing: StressTiming;
}

export type StressEvent =
  | { kind: 'fill'; filled: number; target: number }
  | { kind: 'point'; point: StressPoint };

export interface SyntheticShape {
  numKvHeads: number;
  group: number;
  headDim: number;
  pageSize: number;
}

/** Attention on synthetic KV of a chosen shape: no model needed. */
export async function stressSynthetic(
  context: GpuContext,
  shape: SyntheticShape,
  contexts: number[],
  kernels: AttentionKernel[],
  /** LeanAttention's grid (default: the adapter's, defaultGrid). */
  grid: number | undefined,
  onEvent: (event: StressEvent) => void,
  /** How points are timed (default: among others on a GPU, single calls on a CPU adapter); the eviction's bytes. */
  { timing = context.adapter.isCpu ? 'single-call' : 'among-others', evictionBytes }: { timing?: SyntheticTiming; evictionBytes?: number } = {},
): Promise<void> {
  const layout: PagedKvLayout = { headDim: shape.headDim, numKvHeads: shape.numKvHeads, pageSize: shape.pageSize, dtype: 'f16' };
  const longest = Math.max(...contexts);
  if (!syntheticKvFits(context, layout, [longest])) {
    throw new EngineError('invalid-argument', `a context of ${longest} tokens of this shape does not fit one GPU buffer: choose a shorter one`);
  }
  const kv = createSyntheticKv(context, layout, [longest]);
  const queryCount = shape.numKvHeads * shape.group * shape.headDim;
  const queries = createStorageBuffer(context.device, 'stress queries', queryCount * 4);
  fillRandom(context.device, queries, queryCount, 'f32', 5);
  const out = createStorageBuffer(context.device, 'stress out', queryCount * 4);
  let eviction: CacheEviction | undefined;
  try {
    eviction = timing === 'among-others' ? createCacheEviction(context, evictionBytes) : undefined;
    for (const kernel of kernels) {
      const attention = new DecodeAttention(context, { layout, group: shape.group, maxSequences: 1, grid, kernel });
      try {
        const bindings = attention.createBindings({ queries, keys: kv.keys, values: kv.values, pageTable: kv.pageTable, out });
        for (const n of contexts) {
          attention.planBatch([n], kv.pageTableOffsets);
          const encodeCall = (pass: GPUComputePassEncoder) => attention.encodeInPass(pass, bindings);
          const { ms } = eviction
            ? await measureAmongOthers(context, 5, encodeCall, eviction.encode)
            : await measurePasses(context, 5, encodeCall);
          onEvent({ kind: 'point', point: { context: n, kernel, attentionMs: ms, gbPerSecond: kvBytesRead(layout, [n]) / (ms * 1e6), timing } });
        }
      } finally {
        attention.destroy();
      }
    }
  } finally {
    eviction?.destroy();
    kv.destroy();
    queries.destroy();
    out.destroy();
  }
}

/**
 * Attention of the loaded model at growing contexts: the context is filled by chunked prefill (random tokens), and
 * at each length every kernel runs a few decode steps whose per-layer attention GPU time is summed, less what timing
 * it costs (engine/timestampCost.ts: by timestamps, steps timed whole and per layer take turns, so `stepsPerPoint`
 * are timed per layer out of twice as many). The decode tokens are dropped again, so every kernel sees the same
 * context.
 */
export async function stressModel(
  runner: ModelRunner,
  contexts: number[],
  kernels: AttentionKernel[],
  onEvent: (event: StressEvent) => void,
  stepsPerPoint = 3,
): Promise<void> {
  if (runner.profiling === 'off') {
    throw new EngineError('invalid-argument', 'timing attention needs timestamp-query or the CPU profiling mode: reload the model with profiling on');
  }
  const sorted = [...new Set(contexts)].sort((a, b) => a - b);
  const target = sorted.at(-1)!;
  const decodeSteps = 2 * stepsPerPoint;
  if (target + decodeSteps + 1 > runner.maxContext) {
    throw new EngineError('context-overflow', `a ${target}-token sweep needs more than the model's context of ${runner.maxContext}`);
  }
  const { kv } = runner;
  const sequence = kv.createSequence();
  try {
    kv.reserve(sequence, target + decodeSteps + 1);
    const vocab = runner.config.vocabSize;
    const random = seededRandom(12345);
    const fillerTokens = Array.from({ length: target + 1 }, () => Math.floor(random() * vocab));
    runner.writeTokens(0, fillerTokens);
    runner.beginSampling(GREEDY, []);
    let filled = 0;
    for (const length of sorted) {
      await runner.prefill(sequence, filled, length, { onChunk: (done) => onEvent({ kind: 'fill', filled: done, target }) });
      filled = length;
      kv.setLength(sequence, length);
      for (const kernel of kernels) {
        const timings: StepTiming[] = [];
        // Every kernel decodes from the same context: the token the prefill sampled, at `length`.
        for await (const step of runner.decode(sequence, length, { attention: kernel, timing: 'sections', steps: decodeSteps })) {
          if (step.timing) timings.push(step.timing);
        }
        const ms = attentionLessTimestampCost(timings).attentionMs;
        const bytes = 2 * runner.config.numLayers * length * runner.layout.numKvHeads * runner.layout.headDim * (runner.layout.dtype === 'f16' ? 2 : 4);
        onEvent({ kind: 'point', point: { context: length, kernel, attentionMs: ms, gbPerSecond: bytes / (ms * 1e6), timing: 'model-steps' } });
      }
      // The next fill overwrites the decode tokens' KV; the filler ids there are restored.
      runner.writeTokens(length, fillerTokens.slice(length, length + decodeSteps + 1));
    }
  } finally {
    kv.release(sequence);
  }
}
