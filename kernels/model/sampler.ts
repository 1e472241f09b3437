import { createStorageBuffer, createUniformBuffer } from '../gpu/buffers.ts';
import { uniformView } from '../gpu/uniforms.ts';
import { bindGroup, modelPipeline, type BoundKernel } from './boundKernel.ts';
import sampleWgsl from './sample.wgsl?raw';
import sampleChunksWgsl from './sample_chunks.wgsl?raw';
import sampleScaleWgsl from './sample_scale.wgsl?raw';
import pcgWgsl from '../gpu/pcg.wgsl?raw';

export interface SamplingSettings {
  /** 0 (or `greedy`) picks the most likely token. */
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
  greedy?: boolean;
}

export const GREEDY: SamplingSettings = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, greedy: true };

/** Words of a token bitset over `vocabSize` tokens: one bit per token, 32 to a word. */
export function maskWords(vocabSize: number): number {
  return Math.ceil(vocabSize / 32);
}

/**
 * Invocations of the sample kernel's one workgroup. A GPU runs them side by side: 256. A CPU adapter (SwiftShader)
 * runs them in turn, 4 lanes at a time, switching at every barrier, and a draw with top-k and top-p passes ~800 of
 * them (two bisections of 40 reductions): 16 there. On SwiftShader (2 shared cores), a top-k 40, top-p 0.9 draw over
 * a vocabulary of 4,096 took 25 ms with 16 invocations against 143 ms with 256 (32: 32 ms, 8: 28 ms).
 */
export function samplerWorkgroup(cpuAdapter: boolean): number {
  return cpuAdapter ? 16 : 256;
}

/**
 * Tokens per invocation whose loads the sample kernel issues together in each pass over the vocabulary. Its one
 * workgroup reads all of it, so loads one at a time would be a chain of vocabulary / workgroup round trips: 16 on a
 * GPU; 4 on a CPU adapter, where loads in flight buy nothing (and the tests still cover batches the vocabulary ends
 * inside).
 */
export function samplerBatch(cpuAdapter: boolean): number {
  return cpuAdapter ? 4 : 16;
}

/** Parts the sample kernel's top-k and top-p searches cut their interval into per pass over the vocabulary. */
const SEARCH_WAYS = 8;

/**
 * Whether the sampler scales the logits in a dispatch of many workgroups first (sample_chunks.wgsl): where the
 * vocabulary is over 8 of its workgroup's batches (32,768 tokens on a GPU, 512 on a CPU adapter). One workgroup reads
 * a large vocabulary slowly (too few loads in flight for the memory's latency: BENCHMARKS.md has the H200's
 * figures); a small one stays in one dispatch, which spares the host a dispatch a token.
 */
function samplerChunked(vocabSize: number, workgroup: number, batch: number): boolean {
  return vocabSize > 8 * workgroup * batch;
}

/**
 * Sampling on the GPU: the sample kernel, its settings uniform, the bitset of tokens already seen and the token mask
 * (the tokens a grammar allows next; all of them without one).
 */
export class Sampler {
  private readonly oneDispatch: BoundKernel[];
  /** Where the vocabulary is scaled in chunks: sample_chunks.wgsl's dispatch, then sample.wgsl's from the chunks. */
  private readonly chunkedGreedy: BoundKernel[] | undefined;
  private greedy = true;
  private readonly settings: GPUBuffer;
  private readonly seen: GPUBuffer;
  private readonly mask: GPUBuffer;
  private readonly view;
  private readonly seenWords: Uint32Array<ArrayBuffer>;
  private readonly vocabSize: number;
  /** Whether the mask buffer allows every token, so that a generation without a grammar writes nothing. */
  private maskAllowsAll = true;

  constructor(
    private readonly device: GPUDevice,
    b: {
      vocabSize: number;
      step: GPUBuffer;
      logits: GPUBuffer;
      tokens: GPUBuffer;
      sampled: GPUBuffer;
      workgroup: number;
      batch: number;
      /** Greedy picks scale the logits in a dispatch of their own, many workgroups wide (default: samplerChunked). */
      chunked?: boolean;
    },
  ) {
    const { workgroup, batch } = b;
    const chunks = (b.chunked ?? samplerChunked(b.vocabSize, workgroup, batch)) ? Math.ceil(b.vocabSize / (workgroup * batch)) : 0;
    const shape = { SCALE: sampleScaleWgsl, WORKGROUP: workgroup, BATCH: batch };
    const samplePipeline = (chunkCount: number) =>
      modelPipeline(device, `sample/w${workgroup}/b${batch}/c${chunkCount}`, sampleWgsl, { ...shape, PCG: pcgWgsl, CHUNKS: chunkCount, WAYS: SEARCH_WAYS }, { BATCH: batch, WAYS: SEARCH_WAYS });
    const { code, pipeline } = samplePipeline(0);
    this.view = uniformView(code, 'sampling');
    this.settings = createUniformBuffer(device, 'sampling', this.view.arrayBuffer.byteLength);
    this.seenWords = new Uint32Array(maskWords(b.vocabSize));
    this.seen = createStorageBuffer(device, 'seen tokens', this.seenWords.byteLength);
    this.mask = createStorageBuffer(device, 'token mask', new Uint32Array(maskWords(b.vocabSize)).fill(0xffffffff));
    const scaled = createStorageBuffer(device, 'scaled logits', b.vocabSize * 4);
    const chunkBest = createStorageBuffer(device, 'best token per chunk', 8 * Math.max(1, chunks));
    this.vocabSize = b.vocabSize;
    const sample = (label: string, pipeline: GPUComputePipeline): BoundKernel => ({
      label,
      pipeline,
      bindGroup: bindGroup(device, label, pipeline, [this.settings, b.step, b.logits, scaled, this.seen, b.tokens, b.sampled, this.mask, chunkBest]),
      grid: () => [1],
    });
    this.oneDispatch = [sample('sample', pipeline)];
    if (chunks === 0) return;
    const scale = modelPipeline(device, `sample_chunks/w${workgroup}/b${batch}`, sampleChunksWgsl, shape, { BATCH: batch }).pipeline;
    this.chunkedGreedy = [
      { label: 'sample chunks', pipeline: scale, bindGroup: bindGroup(device, 'sample chunks', scale, [this.settings, b.logits, scaled, this.seen, this.mask, chunkBest]), grid: () => [chunks] },
      sample('sample from chunks', samplePipeline(chunks).pipeline),
    ];
  }

  /**
   * Its dispatches under the current settings, in order. Greedy picks over a large vocabulary take two: the chunks
   * (sample_chunks.wgsl), then sample.wgsl from their best tokens. A draw takes one, even there: its threshold
   * searches reread the scaled logits many times, and the one workgroup that scaled them itself read them faster
   * (on the H200, with the 40-step bisections of before: 1.21 against 1.54 ms over 128,256 tokens, top-k 40, top-p
   * 0.9).
   */
  get kernels(): BoundKernel[] {
    return this.greedy && this.chunkedGreedy ? this.chunkedGreedy : this.oneDispatch;
  }

  /** Settings for the next generation, and the tokens it starts from (they count for the repetition penalty). */
  begin(settings: SamplingSettings, contextTokens: ArrayLike<number>): void {
    const greedy = settings.greedy || settings.temperature <= 0;
    this.greedy = greedy;
    this.view.set({
      vocabSize: this.vocabSize,
      greedy: greedy ? 1 : 0,
      temperature: greedy ? 1 : settings.temperature,
      topK: settings.topK,
      topP: settings.topP,
      repetitionPenalty: settings.repetitionPenalty,
      seed: settings.seed >>> 0,
    });
    this.device.queue.writeBuffer(this.settings, 0, this.view.arrayBuffer);
    this.seenWords.fill(0);
    for (let i = 0; i < contextTokens.length; i++) {
      const token = contextTokens[i];
      this.seenWords[token >>> 5] |= 1 << (token & 31);
    }
    this.device.queue.writeBuffer(this.seen, 0, this.seenWords);
    this.allowAllTokens();
  }

  /**
   * The tokens the next sample may pick: `words` holds a bit per token (maskWords(vocabSize) words, bit set =
   * allowed), as XGrammar's token bitmask does. It holds for every sample until the next call or `begin`.
   */
  setTokenMask(words: Uint32Array): void {
    if (words.length !== maskWords(this.vocabSize)) throw new Error(`a token mask over ${this.vocabSize} tokens has ${maskWords(this.vocabSize)} words (got ${words.length})`);
    this.device.queue.writeBuffer(this.mask, 0, words as Uint32Array<ArrayBuffer>);
    this.maskAllowsAll = false;
  }

  /** Lets every token be sampled again (written only when a mask was set). */
  allowAllTokens(): void {
    if (this.maskAllowsAll) return;
    this.device.queue.writeBuffer(this.mask, 0, new Uint32Array(maskWords(this.vocabSize)).fill(0xffffffff));
    this.maskAllowsAll = true;
  }
}
