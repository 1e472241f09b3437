import { EngineError } from '../../errors/engineError.ts';
import { GREEDY, type SamplingSettings } from '../../kernels/model/sampler.ts';
import { stopTokenIds, type Engine, type GenerateRequest, type GenerationEvent, type StopReason } from '../engine.ts';
import type { CompiledGrammar } from '../grammar/grammar.ts';
import type { ChatMessage } from '../tokenizer.ts';
import { invalidRequest, toOpenAIError } from './openaiError.ts';
import { StopSequenceFilter } from './stopSequences.ts';
import { TurnQueue } from './turnQueue.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  CompletionUsage,
  FinishReason,
  LeanDecodeTimings,
} from './types.ts';
import { validateChatCompletionParams } from './validateParams.ts';

/** As the openai SDK's per-call options: `signal` aborts the request, waiting or generating. */
export interface RequestOptions {
  signal?: AbortSignal;
}

/** Why the engine stopped, as OpenAI says it ('aborted' never reaches a caller: the call fails instead). */
const FINISH_REASON: Record<Exclude<StopReason, 'aborted'>, FinishReason> = {
  eos: 'stop',
  'stop-string': 'stop',
  length: 'length',
  'context-full': 'length',
  'kv-full': 'length',
};

type PromptEvent = Extract<GenerationEvent, { kind: 'prompt' }>;

/** A request that holds the engine: its prompt is prefilled, its tokens are still to come. */
interface Turn {
  prompt: PromptEvent;
  events: AsyncGenerator<GenerationEvent>;
  /** Stops the generation where it is (its KV pages go back) and hands the engine to the next request. */
  end(): Promise<void>;
}

/** The answer, engine-neutral: text as it becomes final, then why it ended. */
/** `timings` (when asked for) covers the decode steps since the previous part's. */
type AnswerPart =
  | { kind: 'content'; text: string; timings?: LeanDecodeTimings }
  | { kind: 'end'; finishReason: FinishReason; usage: CompletionUsage; timings?: LeanDecodeTimings };

/**
 * `chat.completions.create` on an in-process Engine, as the openai SDK's: a ChatCompletion, or with `stream: true`
 * the chunks of one. Requests queue for the engine in arrival order; a streamed request holds it until its stream
 * is read to the end or closed (`break` out of the `for await`), so read or close every stream it returns.
 */
export class ChatCompletions {
  private readonly queue = new TurnQueue();

  constructor(
    private readonly engine: Engine,
    readonly model: string,
  ) {}

  /** Requests generating or waiting. */
  get queued(): number {
    return this.queue.length;
  }

  create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  create(params: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  async create(params: ChatCompletionCreateParams, options: RequestOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    try {
      validateChatCompletionParams(params);
      if (params.model !== this.model) {
        throw invalidRequest(`The model \`${params.model}\` does not exist: this engine serves \`${this.model}\``, 'model', 'model_not_found', 404);
      }
      const grammar = await this.responseGrammar(params);
      const turn = await this.begin(params, grammar, options.signal);
      const id = `chatcmpl-${crypto.randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      return params.stream ? this.chunks(turn, params, id, created) : await this.completion(turn, params, id, created);
    } catch (error) {
      throw toOpenAIError(error);
    }
  }

  /**
   * The grammar of `response_format` (none for text), compiled before the request waits for the engine: a schema
   * that cannot be compiled is a 400 naming the problem.
   */
  private async responseGrammar(params: ChatCompletionCreateParams): Promise<CompiledGrammar | undefined> {
    const format = params.response_format;
    if (!format || format.type === 'text') return undefined;
    if (format.type === 'json_object') return this.engine.compileGrammar({ kind: 'json_object' });
    const { name, schema = {}, strict } = format.json_schema;
    try {
      return await this.engine.compileGrammar({ kind: 'json_schema', schema, strict: strict ?? false });
    } catch (error) {
      if (!(error instanceof EngineError && error.code === 'invalid-grammar')) throw error;
      throw invalidRequest(`Invalid schema for response_format '${name}': ${error.message}`, 'response_format', 'invalid_json_schema');
    }
  }

  /** Waits for the engine, then prefills: a prompt the context cannot hold fails here, before any answer starts. */
  private async begin(params: ChatCompletionCreateParams, grammar: CompiledGrammar | undefined, signal: AbortSignal | undefined): Promise<Turn> {
    const release = await this.queue.acquire(signal);
    let events: AsyncGenerator<GenerationEvent> | undefined;
    const end = async () => {
      try {
        await events?.return(undefined);
      } finally {
        release();
      }
    };
    try {
      events = this.engine.generate({ ...this.generateRequest(params, signal), grammar });
      const first = await events.next();
      if (first.done || first.value.kind !== 'prompt') throw new EngineError('internal', 'the engine began a generation without its prompt event');
      return { prompt: first.value, events, end };
    } catch (error) {
      await end();
      throw error;
    }
  }

  private generateRequest(params: ChatCompletionCreateParams, signal: AbortSignal | undefined): GenerateRequest {
    const temperature = params.temperature ?? 1;
    const sampling: SamplingSettings =
      temperature === 0
        ? GREEDY
        : { temperature, topP: params.top_p ?? 1, topK: 0, repetitionPenalty: 1, seed: params.seed ?? Math.floor(Math.random() * 2 ** 32) };
    const messages = params.messages.map(chatMessage);
    return {
      ...(params.lean_decode?.raw ? { prompt: messages.at(-1)?.content ?? '' } : { messages }),
      maxTokens: params.max_completion_tokens ?? params.max_tokens ?? this.engine.model!.maxContext,
      sampling,
      stop: stopSequences(params),
      conversation: params.lean_decode?.conversation,
      attention: params.lean_decode?.attention,
      signal,
    };
  }

  /** The turn's tokens as final text (end-of-sequence tokens and stop sequences left out), then how it ended. */
  private async *answer(turn: Turn, params: ChatCompletionCreateParams): AsyncGenerator<AnswerPart> {
    // The ids Engine.generate stops at: their text (`<|im_end|>`) is not part of the answer.
    const eos = new Set(stopTokenIds(this.engine.model!.config, this.engine.tokenizer));
    const filter = new StopSequenceFilter(stopSequences(params));
    let steps: LeanDecodeTimings['steps'] = [];
    let last: Extract<GenerationEvent, { kind: 'token' }>['stats'] | undefined;
    // The figures so far, with the steps not yet reported (so a stream's timings arrive as the tokens do).
    const timings = (): LeanDecodeTimings | undefined => {
      if (!params.lean_decode?.timings) return undefined;
      const reported = steps;
      steps = [];
      return {
        attention: params.lean_decode.attention ?? this.engine.model!.attention,
        prompt_tokens_reused: turn.prompt.reusedTokens,
        prefill_ms: turn.prompt.prefillMs,
        tokens_per_second: last?.tokensPerSecond ?? 0,
        steps: reported,
        kv_pages_used: last?.kvPagesUsed ?? 0,
        kv_pages_total: last?.kvPagesTotal ?? 0,
      };
    };
    for await (const event of turn.events) {
      if (event.kind === 'token') {
        last = event.stats;
        if (event.stats.step > 0) steps.push({ context_length: event.stats.contextLength, step_ms: event.stats.timing?.stepMs, attention_ms: event.stats.timing?.attentionMs });
        const text = eos.has(event.id) ? '' : filter.push(event.text);
        if (text) yield { kind: 'content', text, timings: timings() };
      } else if (event.kind === 'done') {
        if (event.reason === 'aborted') throw new EngineError('aborted', 'the request was aborted while it generated');
        const text = filter.push(event.tail) + filter.flush();
        if (text) yield { kind: 'content', text, timings: timings() };
        const promptTokens = turn.prompt.promptIds.length;
        const usage = { prompt_tokens: promptTokens, completion_tokens: event.generatedIds.length, total_tokens: promptTokens + event.generatedIds.length };
        yield { kind: 'end', finishReason: FINISH_REASON[event.reason], usage, timings: timings() };
      }
    }
  }

  private async completion(turn: Turn, params: ChatCompletionCreateParams, id: string, created: number): Promise<ChatCompletion> {
    let content = '';
    const steps: LeanDecodeTimings['steps'] = [];
    try {
      for await (const part of this.answer(turn, params)) {
        if (part.timings) steps.push(...part.timings.steps);
        if (part.kind === 'content') {
          content += part.text;
          continue;
        }
        return {
          id,
          object: 'chat.completion',
          created,
          model: this.model,
          choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: part.finishReason, logprobs: null }],
          usage: part.usage,
          ...(part.timings && { lean_decode: { ...part.timings, steps } }),
        };
      }
    } finally {
      await turn.end();
    }
    throw new EngineError('internal', 'the generation ended without a done event');
  }

  /** OpenAI's chunk sequence: the role, the content pieces, the finish_reason, then the usage when asked for. */
  private async *chunks(turn: Turn, params: ChatCompletionCreateParams, id: string, created: number): AsyncGenerator<ChatCompletionChunk> {
    const includeUsage = params.stream_options?.include_usage === true;
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finishReason: FinishReason | null): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...(includeUsage && { usage: null }),
    });
    try {
      yield chunk({ role: 'assistant', content: '' }, null);
      for await (const part of this.answer(turn, params)) {
        if (part.kind === 'content') {
          yield { ...chunk({ content: part.text }, null), ...(part.timings && { lean_decode: part.timings }) };
          continue;
        }
        yield { ...chunk({}, part.finishReason), ...(part.timings && { lean_decode: part.timings }) };
        if (includeUsage) yield { ...chunk({}, null), choices: [], usage: part.usage };
      }
    } catch (error) {
      throw toOpenAIError(error);
    } finally {
      await turn.end();
    }
  }
}

/** A message as the chat template takes it: `developer` is `system`, text parts joined. */
function chatMessage(message: ChatCompletionMessageParam): ChatMessage {
  const content = typeof message.content === 'string' ? message.content : message.content.map((part) => part.text).join('');
  return { role: message.role === 'developer' ? 'system' : message.role, content };
}

function stopSequences(params: ChatCompletionCreateParams): string[] {
  return typeof params.stop === 'string' ? [params.stop] : (params.stop ?? []);
}
