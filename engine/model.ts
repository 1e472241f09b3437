import type { ModelConfig } from '../models/config.ts';
import { ropeInverseFrequencies } from '../models/config.ts';
import { bindCausalMatrixUnits, causalMatrixUnitsProblem } from '../kernels/attention/causalMatrixUnits.ts';
import { CausalChunkAttention } from '../kernels/attention/causalChunkAttention.ts';
import { DecodeAttention, type AttentionBindings, type AttentionIo, type AttentionTuning } from '../kernels/attention/decodeAttention.ts';
import type { KvDtype, PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { createStorageBuffer, readBuffer } from '../kernels/gpu/buffers.ts';
import { dispatch, type BoundKernel } from '../kernels/model/boundKernel.ts';
import { bindEmbedding } from '../kernels/model/embedding.ts';
import { bindLinear, decodeFusesRopeKv } from '../kernels/model/linear.ts';
import { bindPrefillMatmul } from '../kernels/model/matrixUnitMatmul.ts';
import { bindRmsNorm } from '../kernels/model/rmsNorm.ts';
import { bindRopeKv } from '../kernels/model/ropeKv.ts';
import { Sampler, samplerBatch, samplerWorkgroup, type SamplingSettings } from '../kernels/model/sampler.ts';
import { bindSiluMul } from '../kernels/model/siluMul.ts';
import { StepUniform } from '../kernels/model/stepUniform.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { EngineError } from '../errors/engineError.ts';
import type { TokenMatcher } from './grammar/grammar.ts';
import { KvCache, kvBudgetFromLimits, poolPagesFor } from './kvCache.ts';
import { ReadbackRing } from './readbackRing.ts';
import { mayRecordAhead, StepRecorder, type ProfilingMode, type TimingLevel } from './stepRecorder.ts';
import { DecodeTimings } from './timestampCost.ts';
import type { MatrixWeight, ModelWeights } from './weights.ts';

export interface RunnerOptions {
  kvDtype?: KvDtype;
  /** The attention kernel of calls that name none. */
  attention?: AttentionKernel;
  /**
   * Longest context of a sequence (default: the model's, at most 8192); `model`: the model's max_position_embeddings
   * as far as the KV budget and the adapter's buffer limits hold one sequence that long.
   */
  maxContext?: number | 'model';
  /** Tokens per prefill call (default: defaultPrefillChunk). */
  prefillChunk?: number;
  pageSize?: number;
  /** KV cache size over all layers (default: kvBudgetFromLimits, from the adapter's limits). */
  kvBudgetBytes?: number;
  maxSequences?: number;
  /** LeanAttention grid (see calibrateGrid). */
  grid?: number;
  /** The decode attention kernel's tuning (benchmarks compare them in the model; default: DecodeAttention's). */
  attentionTuning?: AttentionTuning;
  /**
   * The kernel of a prefill chunk's causal attention where the matrix units do not take it (default `chunk`):
   * `chunk`, causal_chunk_attention.wgsl (a block of the chunk's queries shares each staged K and V tile), or
   * `decode`, the decode attention kernel (LeanAttention, one query a work head). On the H200 prefill on the decode
   * kernel took within 3% as long at d=128 and 7–15% longer at d=64 (BENCHMARKS.md, 2026-12-03 sixth session).
   */
  prefillAttention?: PrefillAttentionKernel;
  profiling?: ProfilingMode;
  /**
   * Decode steps in flight while the host waits for the oldest one's token (default 3). The GPU samples each token
   * into the token buffer itself, so a step can be submitted before the previous token is read back. The host's
   * part of a step (record, submit, map and read) put the built-in model's tokens 0.27–0.53 ms apart on the H200
   * with one step ahead, against a 0.175 ms GPU step (BENCHMARKS.md): three steps in flight cover that.
   */
  decodeDepth?: number;
  /**
   * Runs decode's rotary embedding and KV write as a dispatch of its own after the q/k/v GEMV, as on an adapter
   * whose storage buffers per stage are too few for the GEMV's rotary epilogue (default: only there; see
   * decodeFusesRopeKv). Tests take this path on adapters that have the fused one.
   */
  separateRopeKv?: boolean;
}

export interface DecodeOptions {
  /** The attention kernel of these steps (default: the runner's). */
  attention?: AttentionKernel;
  /** What each step's timing measures (default 'none'); yielded with its token when the profiling mode allows. */
  timing?: TimingLevel;
  /** Runs at most this many steps. */
  steps?: number;
  /**
   * A grammar's matcher, which has accepted every token so far (the one at `from` included): each step then samples
   * only what it allows and the matcher advances with each token, and the loop ends once it accepts a stop token.
   * A step's sample waits for the previous token to reach the host, so `decodeDepth` does not apply; the host's
   * work (reading the token, advancing the matcher, its next mask) overlaps the step's forward pass instead.
   */
  constraint?: TokenMatcher;
  /**
   * Frees KV pages that other sequences hold (cached conversations) when the pool has none for the next step;
   * returns whether it freed any. Without it, or once it frees none, the loop ends with 'kv-full'.
   */
  makeRoom?: () => boolean;
}

/** A token the decode loop sampled: it sits at `position`, and the KV before it is written and counted. */
export interface DecodedToken {
  token: number;
  position: number;
  timing?: StepTiming;
}

/**
 * Why the decode loop stopped by itself: its step budget, the context's end, no free KV page for the next step, or
 * the grammar's end (its matcher accepted a stop token: the last token yielded).
 */
export type DecodeEnd = 'steps' | 'context-full' | 'kv-full' | 'grammar-end';

/** Per-call GPU time: the whole call and each layer's attention, in milliseconds. */
export interface StepTiming {
  stepMs: number;
  attentionMs: number[];
  method: 'timestamp-query' | 'cpu';
  /**
   * Where each layer's attention was timed by timestamps: the step before this one, timed whole. Their difference
   * is what the per-layer timestamps cost the step (estimateTimestampCost).
   */
  wholeStepMs?: number;
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

/** What a forward call leaves for the host: the readback slot its sampled token goes to, and how it is timed. */
interface ForwardReadback {
  slot: number;
  timing: TimingLevel;
  sampleLater?: boolean;
}

/** Decode attention with one attention schedule, and its per-layer bindings. */
interface DecodeAttentionSet {
  attention: DecodeAttention;
  bindings: AttentionBindings[];
}

export const PREFILL_ATTENTION_KERNELS = ['chunk', 'decode'] as const;
export type PrefillAttentionKernel = (typeof PREFILL_ATTENTION_KERNELS)[number];

/** A prefill chunk's causal attention on the portable path: planned per chunk, then encoded per layer. */
interface PrefillAttentionSet {
  kernel: PrefillAttentionKernel;
  attention: CausalChunkAttention | DecodeAttention;
  encodeLayer: (pass: GPUComputePassEncoder, layer: number) => number;
}

/**
 * The model on the GPU: weights, activations sized for one prefill chunk, the KV cache, and every kernel bound
 * to its buffers once. Every forward call records one command buffer; only the sampled token id (and, when
 * asked, the logits) comes back. `decode` is the one decode loop: it keeps steps in flight ahead of the host.
 */
export class ModelRunner {
  readonly kv: KvCache;
  readonly layout: PagedKvLayout;
  readonly maxContext: number;
  /** What the KV cache was allowed over all layers (its pages may take less: no more than the contexts need). */
  readonly kvBudgetBytes: number;
  readonly prefillChunk: number;
  readonly profiling: ProfilingMode;
  readonly defaultAttention: AttentionKernel;
  readonly decodeDepth: number;
  private readonly attentionTuning: AttentionTuning | undefined;
  /** Whether prefill's projections run on the matrix units (tensor cores), with x rounded to f16. */
  readonly prefillOnMatrixUnits: boolean;
  /** Whether decode rotates q and k and writes the KV in the q/k/v GEMV's epilogue (else in a dispatch after it). */
  readonly decodeFusesRopeKv: boolean;

  /** Whether prefill's causal attention runs on the matrix units, with q and the softmax weights rounded to f16. */
  get prefillAttentionOnMatrixUnits(): boolean {
    return 'matrixUnits' in this.prefillAttention;
  }

  private readonly device: GPUDevice;
  private readonly step: StepUniform;
  private readonly tokens: GPUBuffer;
  private readonly logits: GPUBuffer;
  private readonly sampled: GPUBuffer;
  private readonly readbacks: ReadbackRing;
  private readonly decodeKernels: ForwardKernels;
  private readonly prefillKernels: ForwardKernels;
  /**
   * Decode attention, one per readback slot: a step's plan is written when it is recorded, into its slot's own plan
   * buffers, so a step may be recorded while the steps of the other slots are still to be submitted.
   */
  private decodeAttention: DecodeAttentionSet[];
  /** Prefill's causal attention: on the matrix units where the adapter has them and the KV is f16, else the portable kernel. */
  private prefillAttention: PrefillAttentionSet | { matrixUnits: BoundKernel[] };
  private readonly queries: GPUBuffer;
  private readonly attentionOut: GPUBuffer;
  private readonly finalNorm: BoundKernel;
  private readonly lmHead: BoundKernel;
  readonly sampler: Sampler;
  private readonly ownBuffers: GPUBuffer[] = [];
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
    this.layout = { headDim, numKvHeads, pageSize: options.pageSize ?? 16, dtype: options.kvDtype ?? 'f16' };
    const kvBudgetBytes = (this.kvBudgetBytes = options.kvBudgetBytes ?? kvBudgetFromLimits(context.limits));
    const modelContext = config.maxPositionEmbeddings;
    const wanted =
      options.maxContext === 'model'
        ? poolPagesFor(context, this.layout, numLayers, kvBudgetBytes, modelContext, 1) * this.layout.pageSize
        : (options.maxContext ?? Math.min(modelContext, 8192));
    this.maxContext = Math.min(wanted, modelContext);
    this.prefillChunk = Math.min(options.prefillChunk ?? defaultPrefillChunk(context), this.maxContext);
    this.defaultAttention = options.attention ?? 'lean';
    this.decodeDepth = options.decodeDepth ?? 3;
    this.attentionTuning = options.attentionTuning;
    this.decodeFusesRopeKv = !options.separateRopeKv && decodeFusesRopeKv(context);
    if (!(Number.isInteger(this.decodeDepth) && this.decodeDepth >= 1)) throw new Error(`decodeDepth must be a whole number ≥ 1 (got ${this.decodeDepth})`);
    this.profiling = options.profiling ?? (context.features.timestampQuery ? 'timestamps' : 'off');
    if (this.profiling === 'timestamps' && !context.features.timestampQuery) {
      throw new Error('timestamp profiling needs the timestamp-query feature; use profiling "cpu"');
    }
    const maxSequences = options.maxSequences ?? 4;
    const numPages = poolPagesFor(context, this.layout, numLayers, kvBudgetBytes, this.maxContext, maxSequences);
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
    // A grammar's steps use three slots whatever the depth: the token read back, the next one sampled, and the step
    // after it running meanwhile.
    this.readbacks = new ReadbackRing(device, Math.max(this.decodeDepth, 3), this.profiling === 'timestamps' ? 1 + numLayers : 0);
    const rope = createStorageBuffer(device, 'rope table', ropeTable(config, this.maxContext));
    this.ownBuffers.push(rope);

    const stepBuffer = this.step.buffer;
    this.queries = q;
    this.attentionOut = attentionOut;
    // Decode runs every projection as a GEMV, with the RMS norm before q/k/v and the MLP folded into the GEMV that
    // reads it, rotary embedding and the KV write in the q/k/v GEMV's epilogue (where the adapter binds enough
    // storage buffers) and the SwiGLU in the gate/up GEMV's epilogue; prefill runs them as GEMMs that read each
    // weight tile once per token tile, with the norms, rotary embedding and the SwiGLU as kernels of their own.
    let prefillGemmsOnMatrixUnits = 0;
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
        const linear = (...args: Parameters<typeof io>) => {
          if (kind === 'decode') return bindLinear(context, io(...args));
          const gemm = bindPrefillMatmul(context, { ...io(...args), step: stepBuffer }, this.layout.dtype === 'f16');
          if (gemm.onMatrixUnits) prefillGemmsOnMatrixUnits++;
          return gemm;
        };
        const norm = (label: string, weight: GPUBuffer) => bindRmsNorm(device, { label: `L${i} ${label}`, features: hiddenSize, eps: rmsNormEps, step: stepBuffer, x: hidden, weight, y: normed });
        const ropeKvTargets = { layout: this.layout, queryHeads: numHeads, step: stepBuffer, rope, pageTable: this.kv.pageTable, keyPool: this.kv.keyPools[i], valuePool: this.kv.valuePools[i] };
        const ropeKv = () => bindRopeKv(device, { label: `L${i} rope+kv`, ...ropeKvTargets, qkv, q });
        const o = linear('o', lw.o, attentionOut, hidden, { accumulate: true });
        const down = linear('down', lw.down, activated, hidden, { accumulate: true });
        if (kind === 'prefill') {
          return {
            beforeAttention: [norm('input norm', lw.inputNorm), linear('qkv', lw.qkv, normed, qkv, { bias: lw.qkvBias }), ropeKv()],
            afterAttention: [
              o,
              norm('post norm', lw.postAttentionNorm),
              linear('gate+up', lw.gateUp, normed, gateUp),
              bindSiluMul(device, { label: `L${i} silu`, features: intermediateSize, gateUp, activated }),
              down,
            ],
          };
        }
        const inputNorm = { weight: lw.inputNorm, eps: rmsNormEps };
        return {
          beforeAttention: this.decodeFusesRopeKv
            ? [bindLinear(context, { ...io('norm+qkv+rope+kv', lw.qkv, hidden, q, { bias: lw.qkvBias }), norm: inputNorm, ropeKv: ropeKvTargets })]
            : [bindLinear(context, { ...io('norm+qkv', lw.qkv, hidden, qkv, { bias: lw.qkvBias }), norm: inputNorm }), ropeKv()],
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
    this.prefillOnMatrixUnits = prefillGemmsOnMatrixUnits > 0;
    this.decodeAttention = this.buildDecodeAttention(options.grid);
    const group = numHeads / numKvHeads;
    if (!causalMatrixUnitsProblem(context, this.layout, group)) {
      this.prefillAttention = {
        matrixUnits: this.layerAttentionIo().map((io, i) => bindCausalMatrixUnits(context, `L${i} causal attention (matrix units)`, this.layout, group, { ...io, step: stepBuffer })),
      };
    } else {
      this.prefillAttention = this.buildPortablePrefillAttention(options.prefillAttention ?? 'chunk', options.grid);
    }
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
    this.sampler = new Sampler(device, { vocabSize, step: stepBuffer, logits: this.logits, tokens: this.tokens, sampled: this.sampled, workgroup: samplerWorkgroup(context.adapter.isCpu), batch: samplerBatch(context.adapter.isCpu) });
  }

  /** Each layer's attention buffers: the shared queries and output, the layer's KV pools. */
  private layerAttentionIo(): AttentionIo[] {
    return this.kv.keyPools.map((keys, i) => ({ queries: this.queries, keys, values: this.kv.valuePools[i], pageTable: this.kv.pageTable, out: this.attentionOut }));
  }

  private buildDecodeAttention(grid: number | undefined): DecodeAttentionSet[] {
    return Array.from({ length: this.readbacks.slots }, () => {
      const attention = new DecodeAttention(this.context, {
        maxSequences: 1,
        layout: this.layout,
        group: this.config.numHeads / this.config.numKvHeads,
        kernel: this.defaultAttention,
        grid,
        ...this.attentionTuning,
      });
      return { attention, bindings: this.layerAttentionIo().map((io) => attention.createBindings(io)) };
    });
  }

  /** Prefill's causal attention on `kernel`; `grid` is LeanAttention's where that is the decode kernel. */
  private buildPortablePrefillAttention(kernel: PrefillAttentionKernel, grid: number | undefined): PrefillAttentionSet {
    const options = { layout: this.layout, group: this.config.numHeads / this.config.numKvHeads, maxChunk: this.prefillChunk };
    if (kernel === 'chunk') {
      const attention = new CausalChunkAttention(this.context, options);
      return { kernel, attention, encodeLayer: this.layerEncoder(attention) };
    }
    const attention = new DecodeAttention(this.context, { ...options, grid, kernel: 'lean', ...this.attentionTuning });
    return { kernel, attention, encodeLayer: this.layerEncoder(attention) };
  }

  /** Binds `attention` to every layer's KV pools; the result encodes one layer's dispatches. */
  private layerEncoder<B>(attention: { createBindings(io: AttentionIo): B; encodeInPass(pass: GPUComputePassEncoder, bindings: B): number }): PrefillAttentionSet['encodeLayer'] {
    const bindings = this.layerAttentionIo().map((io) => attention.createBindings(io));
    return (pass, layer) => attention.encodeInPass(pass, bindings[layer]);
  }

  /** The grid the LeanAttention schedule runs with. */
  get grid(): number {
    return this.decodeAttention[0].attention.grid;
  }

  /**
   * Runs LeanAttention with a new grid (a calibration's choice), in decode and where prefill runs on the decode
   * kernel: plan buffers and bindings are made again.
   */
  setGrid(grid: number): void {
    for (const { attention } of this.decodeAttention) attention.destroy();
    this.decodeAttention = this.buildDecodeAttention(grid);
    if ('kernel' in this.prefillAttention && this.prefillAttention.kernel === 'decode') {
      this.prefillAttention.attention.destroy();
      this.prefillAttention = this.buildPortablePrefillAttention('decode', grid);
    }
  }

  get variantKey(): string {
    return this.decodeAttention[0].attention.variant.key;
  }

  /** Writes token ids at positions [from, from + ids.length) of the token buffer the embedding reads. */
  writeTokens(from: number, ids: ArrayLike<number>): void {
    if (from + ids.length > this.maxContext) throw new Error(`tokens up to ${from + ids.length} exceed the context ${this.maxContext}`);
    this.device.queue.writeBuffer(this.tokens, 4 * from, Uint32Array.from(ids as ArrayLike<number>));
  }

  /** Sampling settings for the next generation, and the tokens it starts from; every token allowed again. */
  beginSampling(settings: SamplingSettings, contextTokens: ArrayLike<number>): void {
    this.sampler.begin(settings, contextTokens);
  }

  /** Records and submits a forward call (see `record`); resolves to CPU-profiled times. */
  private async forward(
    sequence: number,
    position: number,
    count: number,
    kernel: AttentionKernel,
    readback?: ForwardReadback,
  ): Promise<number[] | undefined> {
    const submit = await this.record(sequence, position, count, kernel, readback);
    return submit();
  }

  /**
   * Records tokens [position, position + count) of sequence `sequence` (their ids in the token buffer by the time
   * it runs, their pages reserved), writing their KV, with attention kernel `kernel`, and returns what submits the
   * call (resolving to CPU-profiled times). The step uniform is written at submission, so a call may be recorded
   * while earlier ones, and samples that read the uniform, are still to be submitted; a decode step's attention plan
   * is written at recording into its readback slot's plan buffers, so the call recorded before it in the same slot
   * must have been submitted by then. With `readback`, the last token's logits are computed and the next token is
   * sampled into the token buffer at position + count and into readback slot `readback.slot`, and the call is timed
   * as `readback.timing` says (see TimingLevel) in that slot's timer. With `readback.sampleLater`, the call stops at
   * the logits: `submitSample` samples them once the token mask is written (a grammar's step), and the timing leaves
   * the sampling out.
   */
  private async record(
    sequence: number,
    position: number,
    count: number,
    kernel: AttentionKernel,
    readback?: ForwardReadback,
  ): Promise<() => Promise<number[] | undefined>> {
    const isDecode = count === 1;
    const kernels = isDecode ? this.decodeKernels : this.prefillKernels;
    if (count > this.prefillChunk) throw new Error(`forward of ${count} tokens exceeds the prefill chunk ${this.prefillChunk}`);
    const pageTableOffset = this.kv.pageTableOffset(sequence);
    const writeStep = () => this.step.write({ tokenCount: count, position, pageTableOffset, lastRow: count - 1 });
    const shape = { tokenCount: count };
    let encodeAttention: (pass: GPUComputePassEncoder, layer: number) => number;
    if (isDecode) {
      const { attention, bindings } = this.decodeAttention[readback?.slot ?? 0];
      this.decodeLength[0] = position + 1;
      this.decodePageTableOffset[0] = pageTableOffset;
      attention.planBatch(this.decodeLength, this.decodePageTableOffset, kernel);
      encodeAttention = (pass, layer) => attention.encodeInPass(pass, bindings[layer]);
    } else if ('matrixUnits' in this.prefillAttention) {
      const { matrixUnits } = this.prefillAttention;
      encodeAttention = (pass, layer) => {
        dispatch(pass, matrixUnits[layer], shape);
        return 1;
      };
    } else {
      this.prefillAttention.attention.planCausalChunk(position, count, pageTableOffset);
      encodeAttention = this.prefillAttention.encodeLayer;
    }

    const timing = readback?.timing ?? 'none';
    const timer = readback && this.readbacks.timer(readback.slot);
    const recorder = new StepRecorder(this.device, this.profiling, timing, timer, isDecode ? 'decode step' : 'prefill', writeStep);
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
    if (readback) run(recorder.compute(), readback.sampleLater ? [this.finalNorm, this.lmHead] : [this.finalNorm, this.lmHead, ...this.sampler.kernels]);
    this.dispatches = dispatches + (readback?.sampleLater ? this.sampler.kernels.length : 0);
    const copySampled = readback && !readback.sampleLater ? (encoder: GPUCommandEncoder) => this.readbacks.copySampled(encoder, this.sampled, readback.slot) : undefined;
    return recorder.finish(copySampled, 1 + this.config.numLayers);
  }

  /** Samples the last forward call's logits (under the token mask as it is now) into the token buffer and slot `slot`. */
  private submitSample(slot: number): void {
    const encoder = this.device.createCommandEncoder({ label: 'sample' });
    const pass = encoder.beginComputePass();
    for (const kernel of this.sampler.kernels) dispatch(pass, kernel, { tokenCount: 1 });
    pass.end();
    this.readbacks.copySampled(encoder, this.sampled, slot);
    this.device.queue.submit([encoder.finish()]);
  }

  /** The token mask of `constraint`'s next token, for the next sample. */
  private async writeTokenMask(constraint: TokenMatcher): Promise<void> {
    this.sampler.setTokenMask(await constraint.nextTokenMask());
  }

  /**
   * Runs tokens [from, to) of `sequence` (their ids already in the token buffer, pages reserved) in chunks of
   * `prefillChunk`, writing their KV, and returns the token the last chunk samples (also written to the token buffer
   * at `to`, where `decode` starts). `onChunk` hears of each chunk once the GPU has finished it (so it waits for
   * the GPU: for progress displays). With `constraint` (a grammar's matcher at its start), the token is sampled
   * under its mask and accepted by it.
   */
  async prefill(
    sequence: number,
    from: number,
    to: number,
    options: { attention?: AttentionKernel; onChunk?: (done: number) => void; constraint?: TokenMatcher } = {},
  ): Promise<number> {
    if (to <= from) throw new Error(`prefill of tokens [${from}, ${to}) runs no token: it has none to sample from`);
    const kernel = options.attention ?? this.defaultAttention;
    if (options.constraint) await this.writeTokenMask(options.constraint);
    for (let start = from; start < to; start += this.prefillChunk) {
      const count = Math.min(this.prefillChunk, to - start);
      await this.forward(sequence, start, count, kernel, start + count === to ? { slot: 0, timing: 'none' } : undefined);
      if (options.onChunk) {
        await this.device.queue.onSubmittedWorkDone();
        options.onChunk(start + count);
      }
    }
    const token = await this.readbacks.readToken(0);
    if (options.constraint) await acceptSampled(options.constraint, token);
    return token;
  }

  /** Why the step at `position` of a loop that started at `from` may not run; else undefined, its page reserved. */
  private stepEnd(sequence: number, from: number, position: number, budget: number, makeRoom?: () => boolean): DecodeEnd | undefined {
    if (position - from >= budget) return 'steps';
    if (position + 1 >= this.maxContext) return 'context-full';
    while (!this.kv.tryReserve(sequence, position + 1)) {
      if (!makeRoom?.()) return 'kv-full';
    }
    return undefined;
  }

  /**
   * The decode loop: runs steps at positions from, from + 1, ... of `sequence` (the token at `from` already in the
   * token buffer, the KV before it written) and yields each sampled token in order, with its step's timing when
   * `options.timing` asks. Up to `decodeDepth` steps are in flight while the host waits for the oldest; each
   * reserves its page before it is submitted. Yielding a token accepts it: the sequence's KV length then counts
   * the tokens before it. Steps submitted past the token the caller stops at (by returning) leave their KV past
   * that length and may keep their pages reserved; the sampler's seen-token bitset also marks their tokens, which
   * is harmless because `beginSampling` resets it before the next generation. Returns why it stopped by itself.
   * With `options.constraint`, see decodeConstrained.
   */
  async *decode(sequence: number, from: number, options: DecodeOptions = {}): AsyncGenerator<DecodedToken, DecodeEnd> {
    const kernel = options.attention ?? this.defaultAttention;
    const timing = this.profiling === 'off' ? 'none' : (options.timing ?? 'none');
    const budget = options.steps ?? Infinity;
    if (options.constraint) {
      try {
        return yield* this.decodeConstrained(sequence, from, options.constraint, kernel, timing, budget, options.makeRoom);
      } finally {
        // Samples after this loop (a free generation's) draw from every token again.
        this.sampler.allowAllTokens();
      }
    }
    const timings = new DecodeTimings(timing, this.profiling);
    const inFlight: { position: number; slot: number; cpuMs: number[] | undefined }[] = [];
    let next = from;
    let end: DecodeEnd | undefined;
    // Whether the step at `next` may be submitted, with its page reserved; once it may not, `end` says why.
    const mayRun = (): boolean => {
      end ??= this.stepEnd(sequence, from, next, budget, options.makeRoom);
      return !end;
    };
    for (;;) {
      // The step that reuses the oldest's slot is only submitted once the oldest has been read.
      while (inFlight.length < this.decodeDepth && mayRun()) {
        const slot = (next - from) % this.decodeDepth;
        const cpuMs = await this.forward(sequence, next, 1, kernel, { slot, timing: timings.level(next - from) });
        inFlight.push({ position: next, slot, cpuMs });
        next++;
      }
      const step = inFlight.shift();
      if (!step) return end!;
      const token = await this.readbacks.readToken(step.slot);
      this.kv.setLength(sequence, step.position + 1);
      yield { token, position: step.position + 1, timing: await this.stepTiming(step, timings, step.position - from) };
    }
  }

  /**
   * The decode loop under a grammar. A step's sample needs the mask that follows the previous token, so a step is two
   * submissions around the host's work. With token t read back, the matcher accepts it and computes the next mask;
   * the host writes the mask, submits the sample of step t + 1, asks for its token, and submits the forward pass of
   * step t + 2 (which reads that token on the GPU), recorded in the round before. So the GPU runs the forward pass of
   * step t + 1 while the host reads token t and the matcher works, and then goes on without a gap. The forward pass
   * of step t + 3 is recorded while the matcher works where it runs on a thread of its own (`concurrent`): the
   * host's part on the path from one token to the next is then the readback and the longer of the two, not their
   * sum. A matcher on the host's thread would only wait for that recording, so there it is recorded after the
   * submissions, while the GPU runs them and before the host waits for token t + 1. A token's readback is requested
   * before the next forward pass is submitted, so it waits for nothing after its own sample. Three readback slots
   * suffice: step t + 3 reuses token t's (its plan buffers and timer), recorded once token t has been read and
   * submitted after its timing has.
   */
  private async *decodeConstrained(
    sequence: number,
    from: number,
    constraint: TokenMatcher,
    kernel: AttentionKernel,
    timing: TimingLevel,
    budget: number,
    makeRoom: (() => boolean) | undefined,
  ): AsyncGenerator<DecodedToken, DecodeEnd> {
    if (constraint.terminated) return 'grammar-end';
    let end: DecodeEnd | undefined;
    const slots = this.readbacks.slots;
    const recordAhead = mayRecordAhead(this.profiling, timing);
    const timings = new DecodeTimings(timing, this.profiling);
    type Step = { position: number; slot: number; cpuMs: number[] | undefined };
    type RecordedStep = { position: number; slot: number; submit: () => Promise<number[] | undefined> };
    // Records the forward pass of the step at `position` where it may run (its page then reserved); else `end` says why.
    const recordStep = async (position: number): Promise<RecordedStep | undefined> => {
      end ??= this.stepEnd(sequence, from, position, budget, makeRoom);
      if (end) return undefined;
      const slot = (position - from) % slots;
      const record = () => this.record(sequence, position, 1, kernel, { slot, timing: timings.level(position - from), sampleLater: true });
      const submit = recordAhead ? await record() : async () => (await record())();
      return { position, slot, submit };
    };
    const submitStep = async (recorded: RecordedStep): Promise<Step> => ({ position: recorded.position, slot: recorded.slot, cpuMs: await recorded.submit() });
    // Samples `step` under the matcher's mask (submitted when this resolves) and asks for its token.
    const sample = async (step: Step): Promise<{ token: Promise<number> }> => {
      await this.writeTokenMask(constraint);
      this.submitSample(step.slot);
      return { token: this.readbacks.readToken(step.slot) };
    };

    const first = await recordStep(from);
    if (!first) return end!;
    let step = await submitStep(first);
    let reading = (await sample(step)).token;
    const second = await recordStep(from + 1);
    let next = second && (await submitStep(second));
    let recorded = next && (await recordStep(from + 2));
    const { concurrent } = constraint;
    for (;;) {
      const token = await reading;
      let ahead: RecordedStep | undefined;
      if (concurrent) [, ahead] = await Promise.all([acceptSampled(constraint, token), recorded && recordStep(recorded.position + 1)]);
      else await acceptSampled(constraint, token);
      this.kv.setLength(sequence, step.position + 1);
      const done = step;
      if (next && !constraint.terminated) {
        step = next;
        reading = (await sample(step)).token;
        next = recorded && (await submitStep(recorded));
        recorded = ahead;
      }
      yield { token, position: done.position + 1, timing: await this.stepTiming(done, timings, done.position - from) };
      if (constraint.terminated) return 'grammar-end';
      if (step === done) return end!;
      if (!concurrent && next) recorded = await recordStep(next.position + 1);
    }
  }

  /** The timing step `index` of a decode loop carries (see DecodeTimings), read from its readback slot. */
  private async stepTiming(step: { slot: number; cpuMs: number[] | undefined }, timings: DecodeTimings, index: number): Promise<StepTiming | undefined> {
    const level = timings.level(index);
    if (level === 'none') return undefined;
    if (step.cpuMs) return timings.take(index, { stepMs: step.cpuMs[0], attentionMs: step.cpuMs.slice(1), method: 'cpu' });
    const times = await this.readbacks.readTimes(step.slot, level === 'sections' ? 1 + this.config.numLayers : 1);
    return timings.take(index, { stepMs: times[0], attentionMs: times.slice(1), method: 'timestamp-query' });
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
    for (const { attention } of this.decodeAttention) attention.destroy();
    if ('attention' in this.prefillAttention) this.prefillAttention.attention.destroy();
    for (const buffer of [...this.ownBuffers, ...this.weights.buffers]) buffer.destroy();
    this.readbacks.destroy();
  }
}

/** Advances `constraint` by a token sampled under its mask (which it therefore allows). */
async function acceptSampled(constraint: TokenMatcher, token: number): Promise<void> {
  if (!(await constraint.accept(token))) throw new EngineError('internal', `the grammar refused token ${token}, which was sampled under its own token mask`);
}

/**
 * Tokens per prefill call. On a GPU, large: every call reads all the weights and the GEMM's tiles fill the GPU
 * only with hundreds of tokens (on the H200, a 4k prompt filled 1.24x faster in chunks of 1,024 than of 512 on the
 * matrix units, and a 1k prompt 2.9x faster in chunks of 512 than of 64 before them: BENCHMARKS.md). On a CPU
 * adapter, small, so that progress arrives often.
 */
function defaultPrefillChunk(context: GpuContext): number {
  return context.adapter.isCpu ? 64 : 1024;
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
