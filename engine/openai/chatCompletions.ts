import { EngineError } from '../../errors/engineError.ts';
import { GREEDY, type SamplingSettings } from '../../kernels/model/sampler.ts';
import { stopTokenIds, type Engine, type GenerateRequest, type GenerationEvent, type StopReason } from '../engine.ts';
import type { CompiledGrammar, GrammarSpec } from '../grammar/grammar.ts';
import { forcedToolCallGrammar } from './forcedToolCall.ts';
import { invalidRequest, toOpenAIError } from './openaiError.ts';
import { StopSequenceFilter } from './stopSequences.ts';
import { templateMessages, templateTools } from './templateInput.ts';
import { ToolCallParser, toolCallSyntaxOf, templateReadsTools, type ParsedToolCall, type ToolCallEvent, type ToolCallParserOptions } from './toolCalls.ts';
import { TurnQueue } from './turnQueue.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageToolCall,
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

/**
 * The answer, engine-neutral: text as it becomes final and tool calls once complete, then why it ended. `timings`
 * (when asked for) covers the decode steps since the previous part's.
 */
type AnswerPart =
  | { kind: 'content'; text: string; timings?: LeanDecodeTimings }
  | { kind: 'call'; call: ParsedToolCall; timings?: LeanDecodeTimings }
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
      const toolCalls = this.toolCallOptions(params);
      const grammar = await this.answerGrammar(params, toolCalls?.forced);
      const turn = await this.begin(params, grammar, options.signal);
      const id = `chatcmpl-${crypto.randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      return params.stream ? this.chunks(turn, params, toolCalls, id, created) : await this.completion(turn, params, toolCalls, id, created);
    } catch (error) {
      throw toOpenAIError(error);
    }
  }

  /**
   * How the answer's tool calls are read, and the grammar of a forced call: undefined when the request gives no tools
   * (or `tool_choice: 'none'`). Tools need a chat template that shows them to the model in a call syntax lean-decode
   * reads.
   */
  private toolCallOptions(params: ChatCompletionCreateParams): (ToolCallParserOptions & { forced?: GrammarSpec }) | undefined {
    const tools = templateTools(params);
    if (!tools) return undefined;
    if (params.lean_decode?.raw) throw invalidRequest('tools need the chat template, and lean_decode.raw leaves it out', 'tools', 'unsupported_parameter');
    const source = this.engine.tokenizer.chatTemplateSource(true);
    const syntax = source === undefined ? undefined : toolCallSyntaxOf(source);
    if (!syntax) {
      const why =
        source === undefined
          ? 'it has no chat template'
          : !templateReadsTools(source)
            ? 'its chat template does not take tools'
            : "its chat template writes tool calls in a syntax lean-decode does not read (it reads Qwen2.5/Hermes' <tool_call> and Llama 3's JSON)";
      throw invalidRequest(`The model \`${this.model}\` cannot take tools: ${why}`, 'tools', 'unsupported_parameter');
    }
    const call = forcedToolCallGrammar(tools, params.tool_choice ?? 'auto', syntax, params.parallel_tool_calls ?? true);
    // A forced call's arguments validate against their parameters schema, and nothing else is written: strict.
    const forced: GrammarSpec | undefined = call && (call.kind === 'ebnf' ? { kind: 'ebnf', grammar: call.ebnf } : { kind: 'json_schema', schema: call.schema, strict: true });
    const maxCalls = params.parallel_tool_calls === false ? 1 : undefined;
    return { syntax, functionNames: tools.map((tool) => tool.function.name), maxCalls, forced };
  }

  /**
   * The grammar the answer is generated under, compiled before the request waits for the engine: a forced tool call's,
   * or `response_format`'s (none for text). A schema that cannot be compiled is a 400 naming the problem.
   */
  private async answerGrammar(params: ChatCompletionCreateParams, forced: GrammarSpec | undefined): Promise<CompiledGrammar | undefined> {
    const format = params.response_format;
    const formatted = format && format.type !== 'text';
    if (forced && formatted) throw invalidRequest('response_format and a forced tool_choice cannot both constrain one answer: give one of them', 'response_format', 'unsupported_value');
    if (forced) return this.compile(forced, 'tools', "the tools' parameters");
    if (!formatted) return undefined;
    if (format.type === 'json_object') return this.engine.compileGrammar({ kind: 'json_object' });
    const { name, schema = {}, strict } = format.json_schema;
    return this.compile({ kind: 'json_schema', schema, strict: strict ?? false }, 'response_format', `schema for response_format '${name}'`);
  }

  /** `spec` compiled; one that cannot be is a 400 (code invalid_json_schema) on `param`, naming `what`. */
  private async compile(spec: GrammarSpec, param: string, what: string): Promise<CompiledGrammar> {
    try {
      return await this.engine.compileGrammar(spec);
    } catch (error) {
      if (!(error instanceof EngineError && error.code === 'invalid-grammar')) throw error;
      throw invalidRequest(`Invalid ${what}: ${error.message}`, param, 'invalid_json_schema');
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
    const messages = templateMessages(params.messages);
    return {
      ...(params.lean_decode?.raw ? { prompt: messages.at(-1)?.content ?? '' } : { messages, tools: templateTools(params) }),
      maxTokens: params.max_completion_tokens ?? params.max_tokens ?? this.engine.model!.maxContext,
      sampling,
      stop: stopSequences(params),
      conversation: params.lean_decode?.conversation,
      attention: params.lean_decode?.attention,
      timing: params.lean_decode?.timings ? 'sections' : 'none',
      signal,
    };
  }

  /**
   * The turn's tokens as final text (end-of-sequence tokens and stop sequences left out) and, with tools, calls, then
   * how it ended. An answer that has made as many calls as `parallel_tool_calls` allows ends there.
   */
  private async *answer(turn: Turn, params: ChatCompletionCreateParams, toolCalls: ToolCallParserOptions | undefined): AsyncGenerator<AnswerPart> {
    // The ids Engine.generate stops at: their text (`<|im_end|>`) is not part of the answer.
    const eos = new Set(stopTokenIds(this.engine.model!.config, this.engine.tokenizer));
    const filter = new StopSequenceFilter(stopSequences(params));
    const parser = toolCalls && new ToolCallParser(toolCalls);
    const parts = (events: ToolCallEvent[]): AnswerPart[] =>
      events.map((event) => (event.kind === 'call' ? { kind: 'call', call: event.call, timings: timings() } : { kind: 'content', text: event.text, timings: timings() }));
    const read = (text: string): AnswerPart[] => (!text ? [] : parser ? parts(parser.push(text)) : [{ kind: 'content', text, timings: timings() }]);
    let generated = 0;
    let steps: LeanDecodeTimings['steps'] = [];
    let last: Extract<GenerationEvent, { kind: 'token' }>['stats'] | undefined;
    // The figures so far, with the steps not yet reported (so a stream's timings arrive as the tokens do).
    const figures = (): LeanDecodeTimings => {
      const reported = steps;
      steps = [];
      return {
        attention: params.lean_decode?.attention ?? this.engine.model!.attention,
        prompt_tokens_reused: turn.prompt.reusedTokens,
        prefill_ms: turn.prompt.prefillMs,
        tokens_per_second: last?.tokensPerSecond ?? 0,
        steps: reported,
        kv_pages_used: last?.kvPagesUsed ?? 0,
        kv_pages_total: last?.kvPagesTotal ?? 0,
      };
    };
    const timings = (): LeanDecodeTimings | undefined => (params.lean_decode?.timings ? figures() : undefined);
    const promptTokens = turn.prompt.promptIds.length;
    const usage = (completionTokens: number) => ({ prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens });
    for await (const event of turn.events) {
      if (event.kind === 'token') {
        last = event.stats;
        generated++;
        if (event.stats.step > 0) {
          const timing = event.stats.timing;
          steps.push({ context_length: event.stats.contextLength, step_ms: timing?.stepMs, attention_ms: timing?.attentionMs, whole_step_ms: timing?.wholeStepMs });
        }
        yield* read(eos.has(event.id) ? '' : filter.push(event.text));
        if (parser?.finished) {
          // The last call allowed is made: the rest of the answer is not wanted (the generation stops with the turn).
          yield { kind: 'end', finishReason: 'tool_calls', usage: usage(generated), timings: timings() };
          return;
        }
      } else if (event.kind === 'done') {
        if (event.reason === 'aborted') throw new EngineError('aborted', 'the request was aborted while it generated');
        yield* read(filter.push(event.tail) + filter.flush());
        const finishReason = FINISH_REASON[event.reason];
        if (parser) yield* parts(parser.end(finishReason === 'length' ? 'length' : 'stop'));
        // A call cut off by length is text, and the answer says it was cut: 'length' wins over 'tool_calls'.
        const calls = parser !== undefined && parser.callCount > 0 && finishReason !== 'length';
        // A limit that cut the answer short is named, the figures with it (its KV pages say how full the pool was).
        const endTimings = event.limit ? { ...figures(), finish_detail: event.limit } : timings();
        yield { kind: 'end', finishReason: calls ? 'tool_calls' : finishReason, usage: usage(event.generatedIds.length), timings: endTimings };
      }
    }
  }

  private async completion(turn: Turn, params: ChatCompletionCreateParams, toolCalls: ToolCallParserOptions | undefined, id: string, created: number): Promise<ChatCompletion> {
    let content = '';
    const calls: ChatCompletionMessageToolCall[] = [];
    const steps: LeanDecodeTimings['steps'] = [];
    try {
      for await (const part of this.answer(turn, params, toolCalls)) {
        if (part.timings) steps.push(...part.timings.steps);
        if (part.kind === 'content') {
          content += part.text;
          continue;
        }
        if (part.kind === 'call') {
          calls.push({ id: part.call.id, type: 'function', function: { name: part.call.name, arguments: part.call.arguments } });
          continue;
        }
        const message = calls.length > 0 ? { role: 'assistant' as const, content: content || null, refusal: null, tool_calls: calls } : { role: 'assistant' as const, content, refusal: null };
        return {
          id,
          object: 'chat.completion',
          created,
          model: this.model,
          choices: [{ index: 0, message, finish_reason: part.finishReason, logprobs: null }],
          usage: part.usage,
          ...(part.timings && { lean_decode: { ...part.timings, steps } }),
        };
      }
    } finally {
      await turn.end();
    }
    throw new EngineError('internal', 'the generation ended without a done event');
  }

  /**
   * OpenAI's chunk sequence: the role, the content pieces and tool calls, the finish_reason, then the usage when
   * asked for. A call comes as OpenAI streams one: a chunk with its index, id, type and name, then its arguments.
   */
  private async *chunks(turn: Turn, params: ChatCompletionCreateParams, toolCalls: ToolCallParserOptions | undefined, id: string, created: number): AsyncGenerator<ChatCompletionChunk> {
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
      for await (const part of this.answer(turn, params, toolCalls)) {
        if (part.kind === 'content') {
          yield { ...chunk({ content: part.text }, null), ...(part.timings && { lean_decode: part.timings }) };
          continue;
        }
        if (part.kind === 'call') {
          const { index, id: callId, name, arguments: args } = part.call;
          yield { ...chunk({ tool_calls: [{ index, id: callId, type: 'function', function: { name, arguments: '' } }] }, null), ...(part.timings && { lean_decode: part.timings }) };
          yield chunk({ tool_calls: [{ index, function: { arguments: args } }] }, null);
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

function stopSequences(params: ChatCompletionCreateParams): string[] {
  return typeof params.stop === 'string' ? [params.stop] : (params.stop ?? []);
}
