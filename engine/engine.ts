import { parseModelConfig, type ModelConfig } from '../models/config.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { calibrateGrid, type CalibrationStore, type GridCalibration } from '../kernels/attention/calibrate.ts';
import { GREEDY, type SamplingSettings } from '../kernels/model/sampler.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { EngineError } from '../errors/engineError.ts';
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
  | { kind: 'done'; reason: StopReason; generatedIds: number[]; text: string; tail: string };

interface Conversation {
  sequence: number;
  /** Tokens whose KV is in the cache, in order. */
  tokens: number[];
}

/** Why a generation ended when its decode loop ended by itself (a grammar ends with the stop token it allowed). */
const DECODE_END_REASON: Record<DecodeEnd, StopReason> = { steps: 'length', 'context-full': 'context-full', 'kv-full': 'kv-full', 'grammar-end': 'eos' };

/** The tokens that end a generation: config.json's EOS ids and the tokenizer's eos token. */
export function stopTokenIds(config: ModelConfig, codec: TextCodec): number[] {
  return [...new Set([...config.eosTokenIds, ...codec.eosTokenIds])];
}

/** Reads a model folder and puts it on the GPU: config, tokenizer, weights, then the runner with its kernels. */
export async function loadModel(context: GpuContext, files: ModelFiles, options: LoadOptions = {}): Promise<{ runner: ModelRunner; codec: TextCodec }> {
  const progress = options.onProgress ?? (() => {});
  progress({ phase: 'reading', message: `reading config.json from ${files.description}` });
  const config = parseModelConfig(await readJson(files, 'config.json'), await readOptionalJson(files, 'generation_config.json'));
  const codec = await TextCodec.load(files);
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
  return { runner, codec };
}

/**
 * The engine: one model on one GPU device, its conversations (each a KV cache sequence whose prefix is reused
 * across turns) and generation as an async stream of events. The same object runs in the browser worker and in
 * Node (CLI, tests, benchmarks).
 */
export class Engine {
  private runner: ModelRunner | undefined;
  private codec: TextCodec | undefined;
  private info: ModelInfo | undefined;
  private readonly conversations = new Map<number, Conversation>();
  private nextConversation = 1;
  private busy = false;
  private lostError: EngineError | undefined;
  /** The loaded model's grammar compiler, made by the first compileGrammar. */
  private grammarCompiler: Promise<GrammarCompiler> | undefined;

  constructor(readonly context: GpuContext) {
    context.lost.then((error) => {
      this.lostError = error;
    });
  }

  get model(): ModelInfo | undefined {
    return this.info;
  }

  private checkDevice(): void {
    if (this.lostError) throw this.lostError;
  }

  async load(files: ModelFiles, options: LoadOptions = {}): Promise<ModelInfo> {
    this.checkDevice();
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: stop it before loading a model');
    this.unload();
    const { runner, codec } = await loadModel(this.context, files, options);
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
    this.conversations.clear();
  }

  private loaded(): { runner: ModelRunner; codec: TextCodec } {
    this.checkDevice();
    if (!this.runner || !this.codec) throw new EngineError('invalid-argument', 'no model is loaded: load a model first');
    return { runner: this.runner, codec: this.codec };
  }

  get tokenizer(): TextCodec {
    return this.loaded().codec;
  }

  /**
   * A grammar for `GenerateRequest.grammar`, compiled for the loaded model's tokenizer: JSON that validates against a
   * schema, any JSON object, an EBNF grammar or an XGrammar structural tag (see GrammarSpec). One that cannot be
   * compiled fails with an EngineError 'invalid-grammar' that says why. The first call builds the tokenizer's
   * compiler (the whole vocabulary decoded once); the last 32 grammars are kept, so a repeated one is not compiled
   * again.
   */
  async compileGrammar(spec: GrammarSpec): Promise<CompiledGrammar> {
    const { runner, codec } = this.loaded();
    this.grammarCompiler ??= GrammarCompiler.create(codec.grammarTokenizerInfo(runner.config.vocabSize, stopTokenIds(runner.config, codec)));
    return (await this.grammarCompiler).compile(spec);
  }

  /** A new conversation: its KV stays cached between turns, so a follow-up only prefills what is new. */
  newConversation(): number {
    const { runner } = this.loaded();
    const id = this.nextConversation++;
    this.conversations.set(id, { sequence: runner.kv.createSequence(), tokens: [] });
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
    const { runner } = this.loaded();
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: stop it before calibrating');
    const calibration = await calibrateGrid(this.context, {
      layout: runner.layout,
      group: runner.config.numHeads / runner.config.numKvHeads,
      contextLength,
      store,
    });
    runner.setGrid(calibration.grid);
    this.info = { ...this.info!, grid: calibration.grid };
    return calibration;
  }

  /** The long-context sweep on the loaded model (see stressModel). */
  async stress(contexts: number[], kernels: AttentionKernel[], onEvent: (event: StressEvent) => void): Promise<void> {
    const { runner } = this.loaded();
    if (this.busy) throw new EngineError('invalid-argument', 'a generation is running: stop it before the sweep');
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
    try {
      constraint = await request.grammar?.createMatcher();
      yield* this.run(runner, codec, conversation, promptIds, request, constraint);
    } finally {
      constraint?.dispose();
      this.busy = false;
      if (temporary !== undefined) this.endConversation(temporary);
    }
  }

  private async *run(
    runner: ModelRunner,
    codec: TextCodec,
    conversation: Conversation,
    promptIds: number[],
    request: GenerateRequest,
    constraint: TokenMatcher | undefined,
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
    kv.reserve(sequence, promptLength);

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
    const generated: number[] = [];
    let text = '';
    let firstTokenAt = performance.now();
    // Token 0 comes from the prefill, every later one from the decode loop. The loop counts the KV before a token
    // when it yields it, so the conversation's tokens follow the same rule; its steps run ahead of the one we stop
    // at, and those leave nothing behind that counts.
    const steps = runner.decode(sequence, promptLength, { attention: request.attention, timing: request.timing ?? 'none', steps: request.maxTokens - 1, constraint });
    let current: DecodedToken = { token: first, position: promptLength };
    for (let n = 0; ; n++) {
      const { token, position, timing } = current;
      generated.push(token);
      const piece = decoder.push(token);
      text += piece;
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
      else if (request.stop?.some((s) => s && text.includes(s))) reason = 'stop-string';
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
        text += tail;
        yield { kind: 'done', reason, generatedIds: generated, text, tail };
        return;
      }
    }
  }
}
