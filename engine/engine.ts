import { parseModelConfig, type ModelConfig } from '../models/config.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { calibrateGrid, type CalibrationStore, type GridCalibration } from '../kernels/attention/calibrate.ts';
import { GREEDY, type SamplingSettings } from '../kernels/model/sampler.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { EngineError, type PartialGeneration } from '../errors/engineError.ts';
import { GrammarCompiler, type CompiledGrammar, type GrammarSpec, type TokenMatcher } from './grammar/grammar.ts';
import { readJson, readOptionalJson, readTensorIndex, type ModelFiles } from './loader/modelFiles.ts';
import { ModelRunner, type DecodedToken, type DecodeEnd, type RunnerOptions, type StepTiming } from './model.ts';
import type { TimingLevel } from './stepRecorder.ts';
import { stressModel, type StressEvent } from './stress.ts';
import { StreamingDecoder, TextCodec, type TemplateMessage, type TemplateTool } from './tokenizer.ts';
import { uploadWeights, type UploadProgress } from './weights.ts';

export type LoadProgress =
  | { phase: 'reading'; message: string }
  | ({ phase: 'uploading' } & UploadProgress)
  | { phase: 'compiling' }
  | { phase: 'ready' };

export interface LoadOptions extends RunnerOptions {
  onProgress?: (progress: LoadProgress) => void;
}

export interface ModelInfo {
  description: string;
  config: ModelConfig;
  weightBytes: number;
  maxContext: number;
  kvPagesTotal: number;
  /** The KV budget the pool was sized from (see kvBudgetFromLimits). */
  kvBudgetBytes: number;
  pageSize: number;
  kvDtype: string;
  attention: AttentionKernel;
  attentionVariant: string;
  grid: number;
  hasChatTemplate: boolean;
  profiling: string;
}

export interface GenerateRequest {
  /** Raw prompt text (no template), or `messages` (and `tools`) for the chat template, or ids as they are. */
  prompt?: string;
  messages?: TemplateMessage[];
  tools?: readonly TemplateTool[];
  promptIds?: number[];
  maxTokens: number;
  sampling?: SamplingSettings;
  stop?: string[];
  /** The attention kernel of this generation (default: the one the model was loaded with). */
  attention?: AttentionKernel;
  /** The conversation whose cached KV may be reused (see newConversation). */
  conversation?: number;
  /** Keep generating past EOS tokens (reference comparisons). */
  ignoreEos?: boolean;
  /**
   * Constrained generation: every token is drawn only from those this grammar (from `compileGrammar`) allows, and
   * the generation ends when it is complete (with an EOS token, the only one it then allows).
   */
  grammar?: CompiledGrammar;
  /** Read back the logits after the last prompt token. */
  captureLogits?: boolean;
  /** How each decode step is timed (default `none`: `sections` costs a pass and timestamps per layer). */
  timing?: TimingLevel;
  signal?: AbortSignal;
}

export type StopReason = 'eos' | 'stop-string' | 'length' | 'context-full' | 'kv-full' | 'aborted';

export interface StepStats {
  step: number;
  contextLength: number;
  /** Decode rate over this generation so far (wall clock). */
  tokensPerSecond: number;
  timing?: StepTiming;
  kvPagesUsed: number;
  kvPagesTotal: number;
}

export type GenerationEvent =
  | { kind: 'prompt'; promptIds: number[]; reusedTokens: number; prefillMs: number; lastPromptLogits?: Float32Array }
  | { kind: 'token'; id: number; text: string; stats: StepStats }
  /** `limit`: for 'context-full' and 'kv-full', which limit stopped the answer and its size, in words. */
  | { kind: 'done'; reason: StopReason; generatedIds: number[]; text: string; tail: string; limit?: string };

interface Conversation {
  sequence: number;
  /** Tokens whose KV is in the cache, in order. */
  tokens: number[];
  /** When it last generated (a count of generations): the least recent gives up its KV first when the pool is full. */
  lastUsed: number;
}

/** Why a generation ended when its decode loop ended by itself (a grammar ends with the stop token it allowed). */
const DECODE_END_REASON: Record<DecodeEnd, StopReason> = { steps: 'length', 'context-full': 'context-full', 'kv-full': 'kv-full', 'grammar-end': 'eos' };

/** The tokens that end a generation: config.json's EOS ids and the tokenizer's eos token. */
export function stopTokenIds(config: ModelConfig, codec: TextCodec): number[] {
  return [...new Set([...config.eosTokenIds, ...codec.eosTokenIds])];
}

/** Reads a model folder and puts it on the GPU: config, tokenizer, weights, then the runner with its kernels. */
export async function loadModel(context: GpuContext, files: ModelFiles, options: LoadOptions = {}): Promise<{ runner: ModelRunner; codec: TextCodec }> {
  options.onProgress?.({ phase: 'reading', message: `reading config.json from ${files.description}` });
  const config = parseModelConfig(await readJson(files, 'config.json'), await readOptionalJson(files, 'generation_config.json'));
  const codec = await TextCodec.load(files);
  return { runner: await uploadModel(context, files, config, options), codec };
}

/** The weights of a model folder whose config is read, on the GPU, and the runner with its kernels. */
export async function uploadModel(context: GpuContext, files: ModelFiles, config: ModelConfig, options: LoadOptions = {}): Promise<ModelRunner> {
  const progress = options.onProgress ?? (() => {});
  progress({ phase: 'reading', message: 'reading safetensors headers' });
  const tensors = await readTensorIndex(files);
  const weights = await uploadWeights(context.device, config, tensors, (p) => progress({ phase: 'uploading', ...p }));
  progress({ phase: 'compiling' });
  let runner: ModelRunner;
  try {
    runner = new ModelRunner(context, config, weights, options);
  } catch (error) {
    for (const buffer of weights.buffers) buffer.destroy();
    throw error;
  }
  const uncaptured = context.takeUncapturedError();
  if (uncaptured) {
    runner.destroy();
    throw uncaptured;
  }
  return runner;
}

/** Why a generation stopped at a limit, naming the limit and its size (undefined for the other reasons). */
function limitReached(reason: StopReason, runner: ModelRunner): string | undefined {
  if (reason === 'context-full') return `the context of ${runner.maxContext} tokens is full: start a new conversation`;
  if (reason !== 'kv-full') return undefined;
  const { pagesTotal } = runner.kv;
  const { pageSize } = runner.layout;
  return (
    `the KV cache is full: its ${pagesTotal} pages of ${pageSize} tokens (${pagesTotal * pageSize} tokens, shared by every conversation) ` +
    'are in use; end other conversations or load the model with a larger KV budget'
  );
}

/**
 * The engine: one model on one GPU device, its conversations (each a KV cache sequence whose prefix is reused
 * across turns) and generation as an async stream of events. The same object runs in the browser worker and in
 * Node (CLI, tests, benchmarks).
 *
 * A lost device ends the generation it cuts short with 'gpu-device-lost' and what it had generated (the error's
 * `partial`). Given `reopenGpu`, the engine then reloads itself on the next request that needs the GPU (see reload):
 * conversations, the tokenizer and compiled grammars stay valid. Without it, every later call fails.
 */
export class Engine {
  private gpu: GpuContext;
  private runner: ModelRunner | undefined;
  private codec: TextCodec | undefined;
  private info: ModelInfo | undefined;
  /** What the loaded model came from, to upload it again on a new device. */
  private source: { files: ModelFiles; options: Omit<LoadOptions, 'onProgress'> } | undefined;
  private readonly conversations = new Map<number, Conversation>();
  private nextConversation = 1;
  private generations = 0;
  private busy = false;
  private lostError: EngineError | undefined;
  private reviving: Promise<void> | undefined;
  /** The loaded model's grammar compiler, made by the first compileGrammar. */
  private grammarCompiler: Promise<GrammarCompiler> | undefined;

  /** `reopenGpu` opens a device in place of a lost one (createNodeGpuContext, createBrowserGpuContext). */
  constructor(
    context: GpuContext,
    private readonly reopenGpu?: () => Promise<GpuContext>,
  ) {
    this.gpu = context;
    this.watch(context);
  }

  /** The GPU device the engine runs on now (a new one after a reload). */
  get context(): GpuContext {
    return this.gpu;
  }

  get model(): ModelInfo | undefined {
    return this.info;
  }

  private watch(context: GpuContext): void {
    context.lost.then((error) => {
      if (context !== this.gpu) return;
      const remedy = this.reopenGpu
        ? 'The next request reloads the model on a new device and continues the conversations.'
        : 'Make a new Engine on a new device and load the model again.';
      this.lostError = new EngineError('gpu-device-lost', `${error.message} ${remedy}`);
    });
  }

  /** Whether the model must be uploaded again before the GPU runs it: its device is lost, or it is a lost device's. */
  private get stale(): boolean {
    return this.lostError !== undefined || (this.runner !== undefined && this.runner.context !== this.gpu);
  }

  private checkDevice(): void {
    if (this.lostError && !this.reopenGpu) throw this.lostError;
  }

  async load(files: ModelFiles, options: LoadOptions = {}): Promise<ModelInfo> {
    this.checkDevice();
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: stop it before loading a model');
    this.unload();
    if (this.lostError) await this.reopenDevice();
    const { runner, codec } = await loadModel(this.gpu, files, options);
    const { onProgress: _, ...kept } = options;
    this.source = { files, options: kept };
    this.runner = runner;
    this.codec = codec;
    this.info = {
      description: files.description,
      config: runner.config,
      weightBytes: runner.weights.bytes,
      maxContext: runner.maxContext,
      kvPagesTotal: runner.kv.pagesTotal,
      kvBudgetBytes: runner.kvBudgetBytes,
      pageSize: runner.layout.pageSize,
      kvDtype: runner.layout.dtype,
      attention: runner.defaultAttention,
      attentionVariant: runner.variantKey,
      grid: runner.grid,
      hasChatTemplate: codec.hasChatTemplate,
      profiling: runner.profiling,
    };
    options.onProgress?.({ phase: 'ready' });
    return this.info;
  }

  unload(): void {
    this.grammarCompiler?.then(
      (compiler) => compiler.dispose(),
      () => {},
    );
    this.grammarCompiler = undefined;
    this.runner?.destroy();
    this.runner = undefined;
    this.codec = undefined;
    this.info = undefined;
    this.source = undefined;
    this.conversations.clear();
  }

  /** The loaded model; after a device loss (with reopenGpu) it may still be the lost device's, for bookkeeping. */
  private loaded(): { runner: ModelRunner; codec: TextCodec } {
    this.checkDevice();
    if (!this.runner || !this.codec) throw new EngineError('invalid-argument', 'no model is loaded: load a model first');
    return { runner: this.runner, codec: this.codec };
  }

  /** The loaded model on a live device: reloaded first after a device loss. */
  private async ready(): Promise<{ runner: ModelRunner; codec: TextCodec }> {
    if (this.stale) {
      this.reviving ??= this.revive().finally(() => (this.reviving = undefined));
      await this.reviving;
    }
    return this.loaded();
  }

  /**
   * After a device loss: opens a new device (reopenGpu), uploads the model's weights to it again and prefills every
   * conversation's cached tokens again, so each goes on with its prefix reused. `generate`, `calibrate` and `stress`
   * do this by themselves; call it to pay for it before the next request. Does nothing while the device is alive.
   */
  async reload(): Promise<void> {
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: wait for it before reloading');
    await this.ready();
  }

  /** A new device in place of the lost one (the model is not on it yet). */
  private async reopenDevice(): Promise<void> {
    if (!this.reopenGpu) throw this.lostError!;
    const context = await this.reopenGpu();
    this.gpu = context;
    this.lostError = undefined;
    this.watch(context);
  }

  private async revive(): Promise<void> {
    if (this.lostError) await this.reopenDevice();
    const old = this.runner;
    if (!old || !this.source || old.context === this.gpu) return;
    const runner = await uploadModel(this.gpu, this.source.files, old.config, this.source.options);
    const sequences = new Map<Conversation, number>();
    try {
      for (const conversation of this.conversations.values()) sequences.set(conversation, await prefillAgain(runner, conversation.tokens));
    } catch (error) {
      runner.destroy();
      throw error;
    }
    for (const [conversation, sequence] of sequences) conversation.sequence = sequence;
    old.destroy();
    this.runner = runner;
  }

  get tokenizer(): TextCodec {
    return this.loaded().codec;
  }

  /**
   * A grammar for `GenerateRequest.grammar`, compiled for the loaded model's tokenizer: JSON that validates against a
   * schema, any JSON object, an EBNF grammar or an XGrammar structural tag (see GrammarSpec). One that cannot be
   * compiled fails with an EngineError 'invalid-grammar' that says why. The first call builds the tokenizer's
   * compiler (the whole vocabulary decoded once); the last 32 grammars are kept, so a repeated one is not compiled
   * again. A compiler that failed to start, or whose thread stopped, is replaced by the next call.
   */
  async compileGrammar(spec: GrammarSpec): Promise<CompiledGrammar> {
    const { runner, codec } = this.loaded();
    const starting = (this.grammarCompiler ??= GrammarCompiler.create(codec.grammarTokenizerInfo(runner.config.vocabSize, stopTokenIds(runner.config, codec))));
    const compiler = await starting.catch((error: unknown) => {
      if (this.grammarCompiler === starting) this.grammarCompiler = undefined;
      throw error;
    });
    if (compiler.threadStopped) {
      if (this.grammarCompiler === starting) this.grammarCompiler = undefined;
      return this.compileGrammar(spec);
    }
    return compiler.compile(spec);
  }

  /** A new conversation: its KV stays cached between turns, so a follow-up only prefills what is new. */
  newConversation(): number {
    const { runner } = this.loaded();
    const id = this.nextConversation++;
    this.conversations.set(id, { sequence: runner.kv.createSequence(), tokens: [], lastUsed: 0 });
    return id;
  }

  endConversation(id: number): void {
    const conversation = this.conversations.get(id);
    if (!conversation || !this.runner) return;
    this.runner.kv.release(conversation.sequence);
    this.conversations.delete(id);
  }

  /**
   * Times LeanAttention at a few grid sizes on this adapter for the loaded model's shape, keeps the fastest (from
   * `store` when it already knows this adapter and shape) and runs with it from now on.
   */
  async calibrate(store?: CalibrationStore, contextLength = 8192): Promise<GridCalibration> {
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: stop it before calibrating');
    const { runner } = await this.ready();
    const calibration = await calibrateGrid(this.gpu, {
      layout: runner.layout,
      group: runner.config.numHeads / runner.config.numKvHeads,
      contextLength,
      store,
    });
    runner.setGrid(calibration.grid);
    this.info = { ...this.info!, grid: calibration.grid };
    this.source = { ...this.source!, options: { ...this.source!.options, grid: calibration.grid } };
    return calibration;
  }

  /** The long-context sweep on the loaded model (see stressModel). */
  async stress(contexts: number[], kernels: AttentionKernel[], onEvent: (event: StressEvent) => void): Promise<void> {
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: stop it before the sweep');
    const { runner } = await this.ready();
    this.busy = true;
    try {
      await stressModel(runner, contexts, kernels, onEvent);
    } finally {
      this.busy = false;
    }
  }

  /** Checks the KV cache's page accounting (tests and debugging). */
  verifyKvCache(): void {
    this.loaded().runner.kv.verify();
  }

  /** Tokens of conversation `id` whose KV is cached. */
  cachedTokens(id: number): number {
    return this.conversations.get(id)?.tokens.length ?? 0;
  }

  /** KV cache pages held by conversations (cached turns and the running generation), of the pool's. */
  kvPages(): { used: number; total: number } {
    const { kv } = this.loaded().runner;
    return { used: kv.pagesUsed, total: kv.pagesTotal };
  }

  async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
    const { runner, codec } = this.loaded();
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is already running: wait for it or stop it');
    if (!(request.maxTokens >= 1)) throw new EngineError('invalid-argument', `maxTokens must be at least 1 (got ${request.maxTokens})`);
    const promptIds =
      request.promptIds ?? codec.encode(request.prompt ?? codec.applyChatTemplate(request.messages ?? [], request.tools));
    if (promptIds.length === 0) throw new EngineError('invalid-argument', 'the prompt is empty: type something first');
    if (promptIds.length >= runner.maxContext) {
      const limit = runner.maxContext === runner.config.maxPositionEmbeddings ? " (config.json's max_position_embeddings)" : '';
      throw new EngineError(
        'context-overflow',
        `the prompt is ${promptIds.length} tokens and the context holds ${runner.maxContext}${limit}: shorten it or start a new conversation`,
      );
    }
    // Other conversations' KV gives way to a prompt (see evictOtherThan), but the whole pool is all there is.
    const poolTokens = runner.kv.pagesTotal * runner.layout.pageSize;
    if (promptIds.length > poolTokens) {
      throw new EngineError(
        'context-overflow',
        `the prompt is ${promptIds.length} tokens and the KV cache holds ${poolTokens} tokens in all (${runner.kv.pagesTotal} pages of ` +
          `${runner.layout.pageSize}): shorten the prompt or start a new conversation, or load the model with a larger KV budget`,
      );
    }
    const vocab = runner.config.vocabSize;
    const badId = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (badId !== undefined && request.promptIds) throw new EngineError('invalid-argument', `token id ${badId} is outside the vocabulary of ${vocab}`);
    if (badId !== undefined) {
      throw new EngineError(
        'invalid-tokenizer',
        `tokenizer.json encodes the prompt with token id ${badId}, outside the model's vocabulary of ${vocab} (config.json's vocab_size): ` +
          'the tokenizer does not belong to these weights; download the model again',
      );
    }

    if (request.grammar?.compiler.threadStopped) {
      throw new EngineError('invalid-argument', 'the grammar thread this grammar was compiled on stopped: compile it again with compileGrammar');
    }
    if (request.grammar && request.grammar.compiler !== (await this.grammarCompiler)) {
      throw new EngineError('invalid-argument', 'the grammar was compiled for another model: compile it again with compileGrammar');
    }

    let temporary: number | undefined;
    let conversation: Conversation;
    if (request.conversation !== undefined) {
      const found = this.conversations.get(request.conversation);
      if (!found) throw new EngineError('invalid-argument', `there is no conversation ${request.conversation}`);
      conversation = found;
    } else {
      temporary = this.newConversation();
      conversation = this.conversations.get(temporary)!;
    }

    this.busy = true;
    let constraint: TokenMatcher | undefined;
    const output: PartialGeneration = { generatedIds: [], text: '' };
    try {
      const live = await this.ready();
      constraint = await request.grammar?.createMatcher();
      yield* this.run(live.runner, codec, conversation, promptIds, request, constraint, output);
    } catch (error) {
      throw await this.generationFailure(error, output);
    } finally {
      constraint?.dispose();
      this.busy = false;
      if (temporary !== undefined) this.endConversation(temporary);
      // Pages that steps run ahead of the last token reserved go back to the pool.
      else if (this.conversations.get(request.conversation!) === conversation) this.runner?.kv.truncate(conversation.sequence, conversation.tokens.length);
    }
  }

  /**
   * Frees the cached KV of the least recently used conversation other than `conversation` (its next turn prefills
   * what it needs again); false when no other holds any.
   */
  private evictOtherThan(conversation: Conversation, runner: ModelRunner): boolean {
    let oldest: Conversation | undefined;
    for (const other of this.conversations.values()) {
      if (other !== conversation && other.tokens.length > 0 && (!oldest || other.lastUsed < oldest.lastUsed)) oldest = other;
    }
    if (!oldest) return false;
    runner.kv.truncate(oldest.sequence, 0);
    oldest.tokens = [];
    return true;
  }

  /** A generation's failure as the caller sees it: a lost device's error with what had been generated, else as it was. */
  private async generationFailure(error: unknown, output: PartialGeneration): Promise<unknown> {
    // The engine's own verdicts (a full pool, no new device to be had) stand; a lost device fails GPU work otherwise.
    if (error instanceof EngineError && error.code !== 'gpu-validation' && error.code !== 'internal') return error;
    // A device's loss settles before the work it cuts short fails (Dawn, Chrome), so at the latest once that work is done.
    const gpu = this.gpu;
    const lost = this.lostError ?? (await Promise.race([gpu.lost, gpu.device.queue.onSubmittedWorkDone().then(() => undefined, () => undefined)]));
    if (!lost) return error;
    // The watcher's error, which says what to do, is set by now: it heard of the loss first.
    const message = (this.lostError ?? lost).message;
    return new EngineError('gpu-device-lost', `${message} The answer had ${output.generatedIds.length} tokens when it stopped.`, {
      generatedIds: output.generatedIds.slice(),
      text: output.text,
    });
  }

  private async *run(
    runner: ModelRunner,
    codec: TextCodec,
    conversation: Conversation,
    promptIds: number[],
    request: GenerateRequest,
    constraint: TokenMatcher | undefined,
    output: PartialGeneration,
  ): AsyncGenerator<GenerationEvent> {
    const { kv } = runner;
    const sequence = conversation.sequence;
    const promptLength = promptIds.length;
    // Reuse the cached prefix; the last prompt token always runs again, for its logits.
    let reused = 0;
    const cached = conversation.tokens;
    while (reused < cached.length && reused < promptLength - 1 && cached[reused] === promptIds[reused]) reused++;
    kv.truncate(sequence, reused);
    conversation.tokens = cached.slice(0, reused);
    conversation.lastUsed = ++this.generations;
    // Other conversations' cached KV gives way, least recently used first (the prompt fits the pool: see generate).
    const makeRoom = () => this.evictOtherThan(conversation, runner);
    while (!kv.tryReserve(sequence, promptLength)) {
      if (!makeRoom()) kv.reserve(sequence, promptLength);
    }

    const prefillStart = performance.now();
    runner.writeTokens(reused, promptIds.slice(reused));
    runner.beginSampling(request.sampling ?? GREEDY, promptIds);
    const first = await runner.prefill(sequence, reused, promptLength, { attention: request.attention, constraint });
    kv.setLength(sequence, promptLength);
    conversation.tokens = promptIds.slice();
    const lastPromptLogits = request.captureLogits ? await runner.readLogits() : undefined;
    yield { kind: 'prompt', promptIds, reusedTokens: reused, prefillMs: performance.now() - prefillStart, lastPromptLogits };

    const eos = new Set(stopTokenIds(runner.config, codec));
    const decoder = new StreamingDecoder(codec);
    const generated = output.generatedIds;
    let firstTokenAt = performance.now();
    // Token 0 comes from the prefill, every later one from the decode loop. The loop counts the KV before a token
    // when it yields it, so the conversation's tokens follow the same rule; its steps run ahead of the one we stop
    // at, and those leave nothing behind that counts.
    const steps = runner.decode(sequence, promptLength, { attention: request.attention, timing: request.timing ?? 'none', steps: request.maxTokens - 1, constraint, makeRoom });
    let current: DecodedToken = { token: first, position: promptLength };
    for (let n = 0; ; n++) {
      const { token, position, timing } = current;
      generated.push(token);
      const piece = decoder.push(token);
      output.text += piece;
      // Decode rate from the first generated token on (the first one's time is the prefill's).
      if (n === 0) firstTokenAt = performance.now();
      const elapsed = (performance.now() - firstTokenAt) / 1000;
      yield {
        kind: 'token',
        id: token,
        text: piece,
        stats: {
          step: n,
          contextLength: position,
          tokensPerSecond: n > 0 && elapsed > 0 ? n / elapsed : 0,
          timing,
          kvPagesUsed: kv.pagesUsed,
          kvPagesTotal: kv.pagesTotal,
        },
      };
      let reason: StopReason | undefined;
      if (eos.has(token) && !request.ignoreEos) reason = 'eos';
      else if (request.stop?.some((s) => s && output.text.includes(s))) reason = 'stop-string';
      else if (request.signal?.aborted) reason = 'aborted';
      else if (n + 1 >= request.maxTokens) reason = 'length';
      else {
        const next = await steps.next();
        if (next.done) reason = DECODE_END_REASON[next.value];
        else {
          conversation.tokens.push(token);
          current = next.value;
        }
      }
      if (reason) {
        // Text held back for an incomplete character at the very end (it decodes as U+FFFD).
        const tail = decoder.flush();
        output.text += tail;
        yield { kind: 'done', reason, generatedIds: generated, text: output.text, tail, limit: limitReached(reason, runner) };
        return;
      }
    }
  }
}

/** A new sequence in `runner`'s KV cache holding `tokens`' KV, prefilled (the token it samples after them unused). */
async function prefillAgain(runner: ModelRunner, tokens: number[]): Promise<number> {
  const sequence = runner.kv.createSequence();
  if (tokens.length === 0) return sequence;
  runner.kv.reserve(sequence, tokens.length);
  runner.writeTokens(0, tokens);
  runner.beginSampling(GREEDY, tokens);
  await runner.prefill(sequence, 0, tokens.length);
  runner.kv.setLength(sequence, tokens.length);
  return sequence;
}
