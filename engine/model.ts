import type { ModelConfig } from '../models/config.ts';
import { ropeInverseFrequencies } from '../models/config.ts';
import { CausalChunkAttention, type CausalChunkBindings } from '../kernels/attention/causalChunkAttention.ts';
import { DecodeAttention, type AttentionBindings, type AttentionIo } from '../kernels/attention/decodeAttention.ts';
import type { KvDtype, PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { createStorageBuffer, readBuffer } from '../kernels/gpu/buffers.ts';
import { PassTimer } from '../kernels/gpu/timing.ts';
import { dispatch, type BoundKernel } from '../kernels/model/boundKernel.ts';
import { bindEmbedding } from '../kernels/model/embedding.ts';
import { bindLinear } from '../kernels/model/linear.ts';
import { bindMatmul } from '../kernels/model/matmul.ts';
import { bindRmsNorm } from '../kernels/model/rmsNorm.ts';
import { bindRopeKv } from '../kernels/model/ropeKv.ts';
import { Sampler, type SamplingSettings } from '../kernels/model/sampler.ts';
import { bindSiluMul } from '../kernels/model/siluMul.ts';
import { StepUniform } from '../kernels/model/stepUniform.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { KvCache, poolPagesFor } from './kvCache.ts';
import { StepRecorder, type ProfilingMode, type TimingLevel } from './stepRecorder.ts';
import type { MatrixWeight, ModelWeights } from './weights.ts';

export interface RunnerOptions {
  kvDtype?: KvDtype;
  attention?: AttentionKernel;
  /** Longest context of a sequence (default: the model's, at most 8192). */
  maxContext?: number;
  /** Tokens per prefill call (default: defaultPrefillChunk). */
  prefillChunk?: number;
  pageSize?: number;
  /** KV cache size over all layers (default 512 MiB). */
  kvBudgetBytes?: number;
  maxSequences?: number;
  /** LeanAttention grid (see calibrateGrid). */
  grid?: number;
  profiling?: ProfilingMode;
}

/** Per-call GPU time: the whole call and each layer's attention, in milliseconds. */
export interface StepTiming {
  stepMs: number;
  attentionMs: number[];
  method: 'timestamp-query' | 'cpu';
}

/** A layer's kernels in dispatch order, around its attention. */
interface LayerKernels {
  beforeAttention: BoundKernel[];
  afterAttention: BoundKernel[];
}

interface ForwardKernels {
  embedding: BoundKernel;
  layers: LayerKernels[];
}

/** Decode attention with one attention schedule, and its per-layer bindings. */
interface DecodeAttentionSet {
  attention: DecodeAttention;
  bindings: AttentionBindings[];
}

/** A prefill chunk's causal attention (the schedule does not apply), and its per-layer bindings. */
interface PrefillAttentionSet {
  attention: CausalChunkAttention;
  bindings: CausalChunkBindings[];
}

const READBACK_RING = 2;

/**
 * The model on the GPU: weights, activations sized for one prefill chunk, the KV cache, and every kernel bound
 * to its buffers once. `prefill` and `decode` record one command buffer per call; only the sampled token id
 * (and, when asked, the logits) comes back.
 */
export class ModelRunner {
  readonly kv: KvCache;
  readonly layout: PagedKvLayout;
  readonly maxContext: number;
  readonly prefillChunk: number;
  readonly profiling: ProfilingMode;
  attentionKernel: AttentionKernel;

  private readonly device: GPUDevice;
  private readonly step: StepUniform;
  private readonly tokens: GPUBuffer;
  private readonly logits: GPUBuffer;
  private readonly sampled: GPUBuffer;
  private readonly sampledReadback: GPUBuffer[] = [];
  private readonly decodeKernels: ForwardKernels;
  private readonly prefillKernels: ForwardKernels;
  private decodeAttention: DecodeAttentionSet;
  private readonly prefillAttention: PrefillAttentionSet;
  private readonly queries: GPUBuffer;
  private readonly attentionOut: GPUBuffer;
  private readonly finalNorm: BoundKernel;
  private readonly lmHead: BoundKernel;
  readonly sampler: Sampler;
  private readonly timers: PassTimer[] = [];
  private readonly ownBuffers: GPUBuffer[] = [];
  private calls = 0;
  private dispatches = 0;
  // Reused by every decode step's plan: no per-token allocation.
  private readonly decodeLength = [0];
  private readonly decodePageTableOffset = [0];

  constructor(
    readonly context: GpuContext,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    options: RunnerOptions = {},
  ) {
    const device = (this.device = context.device);
    const { hiddenSize, numHeads, numKvHeads, headDim, intermediateSize, vocabSize, numLayers, rmsNormEps } = config;
    this.maxContext = Math.min(options.maxContext ?? Math.min(config.maxPositionEmbeddings, 8192), config.maxPositionEmbeddings);
    this.prefillChunk = Math.min(options.prefillChunk ?? defaultPrefillChunk(context), this.maxContext);
    this.attentionKernel = options.attention ?? 'lean';
    this.profiling = options.profiling ?? (context.features.timestampQuery ? 'timestamps' : 'off');
    if (this.profiling === 'timestamps' && !context.features.timestampQuery) {
      throw new Error('timestamp profiling needs the timestamp-query feature; use profiling "cpu"');
    }
    this.layout = { headDim, numKvHeads, pageSize: options.pageSize ?? 16, dtype: options.kvDtype ?? 'f16' };
    const maxSequences = options.maxSequences ?? 4;
    const numPages = poolPagesFor(context, this.layout, numLayers, options.kvBudgetBytes ?? 512 * 1024 * 1024, this.maxContext, maxSequences);
    this.kv = new KvCache(context, { layout: this.layout, numLayers, numPages, maxContext: this.maxContext, maxSequences });

    const T = this.prefillChunk;
    const buffer = (label: string, floats: number) => {
      const b = createStorageBuffer(device, label, floats * 4);
      this.ownBuffers.push(b);
      return b;
    };
    this.step = new StepUniform(device);
    this.tokens = buffer('tokens', this.maxContext + 1);
    const hidden = buffer('hidden', T * hiddenSize);
    const normed = buffer('normed', T * hiddenSize);
    const qkv = buffer('qkv', T * (numHeads + 2 * numKvHeads) * headDim);
    const q = buffer('q', T * numHeads * headDim);
    const attentionOut = buffer('attention out', T * numHeads * headDim);
    const gateUp = buffer('gate up', T * 2 * intermediateSize);
    const activated = buffer('activated', T * intermediateSize);
    this.logits = buffer('logits', vocabSize);
    this.sampled = buffer('sampled', 1);
    for (let i = 0; i < READBACK_RING; i++) {
      this.sampledReadback.push(device.createBuffer({ label: `sampled readback ${i}`, size: 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }));
    }
    const rope = createStorageBuffer(device, 'rope table', ropeTable(config, this.maxContext));
    this.ownBuffers.push(rope, ...this.sampledReadback);

    const stepBuffer = this.step.buffer;
    this.queries = q;
    this.attentionOut = attentionOut;
    // Decode runs every projection as a GEMV, with the RMS norm before q/k/v and the MLP folded into the GEMV that
    // reads it and the SwiGLU in the gate/up GEMV's epilogue; prefill runs them as GEMMs that read each weight tile
    // once per token tile, with the norms and the SwiGLU as kernels of their own.
    const forward = (kind: 'decode' | 'prefill'): ForwardKernels => {
      const layers = weights.layers.map((lw, i): LayerKernels => {
        // What a projection of weight `w` reads and writes; `extra` adds its bias or residual add.
        const io = (label: string, w: MatrixWeight, x: GPUBuffer, y: GPUBuffer, extra: { bias?: GPUBuffer; accumulate?: boolean } = {}) => ({
          label: `L${i} ${label}`,
          inFeatures: w.columns,
          outFeatures: w.rows,
          weightDtype: w.dtype,
          weights: w.buffer,
          x,
          y,
          ...extra,
        });
        const linear = (...args: Parameters<typeof io>) => (kind === 'prefill' ? bindMatmul(device, { ...io(...args), step: stepBuffer }) : bindLinear(context, io(...args)));
        const norm = (label: string, weight: GPUBuffer) => bindRmsNorm(device, { label: `L${i} ${label}`, features: hiddenSize, eps: rmsNormEps, step: stepBuffer, x: hidden, weight, y: normed });
        const ropeKv = bindRopeKv(device, {
          label: `L${i} rope+kv`,
          layout: this.layout,
          queryHeads: numHeads,
          step: stepBuffer,
          qkv,
          q,
          rope,
          pageTable: this.kv.pageTable,
          keyPool: this.kv.keyPools[i],
          valuePool: this.kv.valuePools[i],
        });
        const o = linear('o', lw.o, attentionOut, hidden, { accumulate: true });
        const down = linear('down', lw.down, activated, hidden, { accumulate: true });
        if (kind === 'prefill') {
          return {
            beforeAttention: [norm('input norm', lw.inputNorm), linear('qkv', lw.qkv, normed, qkv, { bias: lw.qkvBias }), ropeKv],
            afterAttention: [
              o,
              norm('post norm', lw.postAttentionNorm),
              linear('gate+up', lw.gateUp, normed, gateUp),
              bindSiluMul(device, { label: `L${i} silu`, features: intermediateSize, step: stepBuffer, gateUp, activated }),
              down,
            ],
          };
        }
        return {
          beforeAttention: [
            bindLinear(context, { ...io('norm+qkv', lw.qkv, hidden, qkv, { bias: lw.qkvBias }), norm: { weight: lw.inputNorm, eps: rmsNormEps } }),
            ropeKv,
          ],
          afterAttention: [
            o,
            bindLinear(context, {
              ...io('norm+gate+up', lw.gateUp, hidden, activated),
              outFeatures: intermediateSize,
              gated: true,
              norm: { weight: lw.postAttentionNorm, eps: rmsNormEps },
            }),
            down,
          ],
        };
      });
      return {
        embedding: bindEmbedding(device, { features: hiddenSize, weightDtype: weights.embedding.dtype, step: stepBuffer, tokens: this.tokens, weights: weights.embedding.buffer, hidden }),
        layers,
      };
    };
    this.decodeKernels = forward('decode');
    this.prefillKernels = forward('prefill');
    this.decodeAttention = this.buildDecodeAttention(options.grid);
    const prefillAttention = new CausalChunkAttention(context, { layout: this.layout, group: numHeads / numKvHeads, maxChunk: T });
    this.prefillAttention = { attention: prefillAttention, bindings: this.layerAttentionIo().map((io) => prefillAttention.createBindings(io)) };
    this.finalNorm = bindRmsNorm(device, { label: 'final norm', features: hiddenSize, eps: rmsNormEps, step: stepBuffer, x: hidden, weight: weights.finalNorm, y: normed, lastRowOnly: true });
    this.lmHead = bindLinear(context, {
      label: 'lm head',
      inFeatures: hiddenSize,
      outFeatures: vocabSize,
      weightDtype: weights.lmHead.dtype,
      weights: weights.lmHead.buffer,
      x: normed,
      y: this.logits,
      lastRowOnly: true,
    });
    this.sampler = new Sampler(device, { vocabSize, step: stepBuffer, logits: this.logits, tokens: this.tokens, sampled: this.sampled });
    if (this.profiling === 'timestamps') {
      for (let i = 0; i < READBACK_RING; i++) this.timers.push(new PassTimer(device, 1 + numLayers));
    }
  }

  /** Each layer's attention buffers: the shared queries and output, the layer's KV pools. */
  private layerAttentionIo(): AttentionIo[] {
    return this.kv.keyPools.map((keys, i) => ({ queries: this.queries, keys, values: this.kv.valuePools[i], pageTable: this.kv.pageTable, out: this.attentionOut }));
  }

  private buildDecodeAttention(grid: number | undefined): DecodeAttentionSet {
    const attention = new DecodeAttention(this.context, {
      maxSequences: 1,
      layout: this.layout,
      group: this.config.numHeads / this.config.numKvHeads,
      kernel: this.attentionKernel,
      grid,
    });
    return { attention, bindings: this.layerAttentionIo().map((io) => attention.createBindings(io)) };
  }

  /** The grid the LeanAttention schedule runs with. */
  get grid(): number {
    return this.decodeAttention.attention.grid;
  }

  /** Runs LeanAttention with a new grid (a calibration's choice): plan buffers and bindings are made again. */
  setGrid(grid: number): void {
    this.decodeAttention.attention.destroy();
    this.decodeAttention = this.buildDecodeAttention(grid);
  }

  get variantKey(): string {
    return this.decodeAttention.attention.variant.key;
  }

  /** Writes token ids at positions [from, from + ids.length) of the token buffer the embedding reads. */
  writeTokens(from: number, ids: ArrayLike<number>): void {
    if (from + ids.length > this.maxContext) throw new Error(`tokens up to ${from + ids.length} exceed the context ${this.maxContext}`);
    this.device.queue.writeBuffer(this.tokens, 4 * from, Uint32Array.from(ids as ArrayLike<number>));
  }

  beginSampling(settings: SamplingSettings, contextTokens: ArrayLike<number>): void {
    this.sampler.begin(settings, contextTokens);
  }

  /**
   * Runs tokens [position, position + count) of sequence `sequence` (their ids already in the token buffer) and
   * writes their KV. With `sample`, the last token's logits are computed and the next token is sampled into the
   * token buffer at position + count and into readback slot `readbackSlot`. Pages must be reserved. `timing` says
   * what the runner's profiling mode measures of this call (see TimingLevel).
   */
  async forward(sequence: number, position: number, count: number, sample: boolean, readbackSlot = 0, timing: TimingLevel = 'sections'): Promise<number[] | undefined> {
    const isDecode = count === 1;
    const kernels = isDecode ? this.decodeKernels : this.prefillKernels;
    if (count > this.prefillChunk) throw new Error(`forward of ${count} tokens exceeds the prefill chunk ${this.prefillChunk}`);
    const pageTableOffset = this.kv.pageTableOffset(sequence);
    this.step.write({ tokenCount: count, position, pageTableOffset, lastRow: count - 1 });
    let encodeAttention: (pass: GPUComputePassEncoder, layer: number) => number;
    if (isDecode) {
      const { attention, bindings } = this.decodeAttention;
      this.decodeLength[0] = position + 1;
      this.decodePageTableOffset[0] = pageTableOffset;
      attention.planBatch(this.decodeLength, this.decodePageTableOffset, this.attentionKernel);
      encodeAttention = (pass, layer) => attention.encodeInPass(pass, bindings[layer]);
    } else {
      const { attention, bindings } = this.prefillAttention;
      attention.planCausalChunk(position, count, pageTableOffset);
      encodeAttention = (pass, layer) => attention.encodeInPass(pass, bindings[layer]);
    }

    const timer = this.timers[this.calls % READBACK_RING];
    const recorder = new StepRecorder(this.device, this.profiling, timing, timer, isDecode ? 'decode step' : 'prefill');
    const shape = { tokenCount: count };
    let dispatches = 0;
    const run = (pass: GPUComputePassEncoder, kernels: BoundKernel[]) => {
      for (const kernel of kernels) dispatch(pass, kernel, shape);
      dispatches += kernels.length;
    };
    run(recorder.compute(), [kernels.embedding]);
    for (const [i, layer] of kernels.layers.entries()) {
      run(recorder.compute(), layer.beforeAttention);
      await recorder.timed(1 + i, (attentionPass) => (dispatches += encodeAttention(attentionPass, i)));
      run(recorder.compute(), layer.afterAttention);
    }
    if (sample) run(recorder.compute(), [this.finalNorm, this.lmHead, this.sampler.kernel]);
    this.dispatches = dispatches;
    this.calls++;
    return recorder.finish(
      sample ? (encoder) => encoder.copyBufferToBuffer(this.sampled, 0, this.sampledReadback[readbackSlot % READBACK_RING], 0, 4) : undefined,
      1 + this.config.numLayers,
    );
  }

  /**
   * Runs tokens [from, to) of `sequence` (their ids already in the token buffer, pages reserved) in chunks of
   * `prefillChunk`, writing their KV. With `sample`, the last chunk samples the next token into readback slot 0.
   * `onChunk` hears of each chunk once the GPU has finished it (so it waits for the GPU: for progress displays).
   */
  async prefill(sequence: number, from: number, to: number, sample: boolean, onChunk?: (done: number) => void): Promise<void> {
    for (let start = from; start < to; start += this.prefillChunk) {
      const count = Math.min(this.prefillChunk, to - start);
      await this.forward(sequence, start, count, sample && start + count === to, 0);
      if (onChunk) {
        await this.device.queue.onSubmittedWorkDone();
        onChunk(start + count);
      }
    }
  }

  /** The token sampled by the forward call that used `readbackSlot`. */
  async readSampled(readbackSlot: number): Promise<number> {
    const staging = this.sampledReadback[readbackSlot % READBACK_RING];
    await staging.mapAsync(GPUMapMode.READ);
    const token = new Uint32Array(staging.getMappedRange())[0];
    staging.unmap();
    return token;
  }

  /** GPU time of forward call number `callIndex` (timestamps mode), once it has completed. */
  async readTimestamps(callIndex: number): Promise<StepTiming> {
    const timer = this.timers[callIndex % READBACK_RING];
    const slots = await timer.read(1 + this.config.numLayers);
    return { stepMs: slots[0], attentionMs: slots.slice(1), method: 'timestamp-query' };
  }

  get callCount(): number {
    return this.calls;
  }

  /** Kernel dispatches the last forward call recorded. */
  get lastDispatchCount(): number {
    return this.dispatches;
  }

  /** The logits of the last sampled forward call. */
  async readLogits(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.device, this.logits, this.config.vocabSize * 4));
  }

  destroy(): void {
    this.kv.destroy();
    this.decodeAttention.attention.destroy();
    this.prefillAttention.attention.destroy();
    for (const buffer of [...this.ownBuffers, ...this.weights.buffers]) buffer.destroy();
    for (const timer of this.timers) timer.destroy();
  }
}

/**
 * Tokens per prefill call. On a GPU, large: every call reads all the weights and the GEMM's tiles fill the GPU
 * only with hundreds of tokens (on the H200, a 1k prompt fills 2.9x faster in chunks of 512 than of 64:
 * BENCHMARKS.md). On a CPU adapter, small, so that progress arrives often.
 */
function defaultPrefillChunk(context: GpuContext): number {
  return context.adapter.isCpu ? 64 : 512;
}

/** cos and sin of position · invFreq_i for every position and pair, computed in float64. */
function ropeTable(config: ModelConfig, maxContext: number): Float32Array {
  const inv = ropeInverseFrequencies(config);
  const half = config.headDim / 2;
  const table = new Float32Array(maxContext * half * 2);
  for (let position = 0; position < maxContext; position++) {
    for (let i = 0; i < half; i++) {
      const angle = position * inv[i];
      table[2 * (position * half + i)] = Math.cos(angle);
      table[2 * (position * half + i) + 1] = Math.sin(angle);
    }
  }
  return table;
}
