import type { AttentionKernel } from '../../kernels/attention/plan.ts';

/*
 * The OpenAI Chat Completions shapes (https://platform.openai.com/docs/api-reference/chat), the subset lean-decode
 * serves, field names as OpenAI spells them. What the engine adds travels in one field of its own, `lean_decode`.
 */

/** What lean-decode adds to a request: the only field here that is not OpenAI's. */
export interface LeanDecodeOptions {
  /** The decode attention kernel for this request; default: the one the model was loaded with. */
  attention?: AttentionKernel;
  /**
   * A conversation from `Engine.newConversation()`: the KV of the longest prompt prefix it already holds is reused
   * (only the rest is prefilled), and this turn's KV stays cached for the next.
   */
  conversation?: number;
  /** Add the response's `lean_decode` timings: prefill, decode rate, per-step and per-layer attention time, KV pages. */
  timings?: boolean;
  /** Send the last message's text as the whole prompt, without the chat template (base models, reference checks). */
  raw?: boolean;
}

/** What lean-decode adds to a response when `lean_decode.timings` asked for it, or when a limit cut the answer short. */
export interface LeanDecodeTimings {
  attention: AttentionKernel;
  prompt_tokens_reused: number;
  prefill_ms: number;
  /** Decode rate from the first generated token on (wall clock). */
  tokens_per_second: number;
  /**
   * Per generated token after the first: the step's GPU time and each layer's attention time, where profiled. By GPU
   * timestamps every other step is, with `whole_step_ms`, the step before it timed whole: the difference is what
   * the per-layer timestamps cost the step (engine/timestampCost.ts).
   */
  steps: { context_length: number; step_ms?: number; attention_ms?: number[]; whole_step_ms?: number }[];
  /** KV pages in use when the last token was generated (this request's and cached conversations'), of the pool's. */
  kv_pages_used: number;
  kv_pages_total: number;
  /**
   * Why an answer with finish_reason `length` stopped before max_tokens: the context or the KV cache was full, with
   * its size in tokens. Such an answer's completion (or last chunk) carries it, with the figures above, even when
   * `lean_decode.timings` did not ask for them.
   */
  finish_detail?: string;
}

/** A text part of a message whose content is a list of parts (the only kind of part a text model takes). */
export interface ChatCompletionContentPartText {
  type: 'text';
  text: string;
}

/** A JSON Schema, as a tool's `parameters` or a response format carries it. */
export type JsonSchema = Record<string, unknown>;

/** A function the model may call: `parameters` is the JSON Schema of its arguments (an object). */
export interface FunctionDefinition {
  name: string;
  description?: string;
  parameters?: JsonSchema;
  strict?: boolean | null;
}

export interface ChatCompletionTool {
  type: 'function';
  function: FunctionDefinition;
}

/** `none`: answer in text; `auto` (the default with tools): text or calls; `required` or a named function: a call. */
export type ChatCompletionToolChoiceOption = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/** A call the model made: `arguments` is the JSON text of an object (parse it; it may not validate). */
export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface SystemOrUserMessage {
  /** `developer` is OpenAI's newer name for `system`. */
  role: 'system' | 'developer' | 'user';
  content: string | ChatCompletionContentPartText[];
  name?: string;
}

/** An earlier answer: text, tool calls, or both (`content` null when it only called). */
export interface ChatCompletionAssistantMessageParam {
  role: 'assistant';
  content?: string | ChatCompletionContentPartText[] | null;
  name?: string;
  tool_calls?: ChatCompletionMessageToolCall[];
}

/** A tool's result, answering the call `tool_call_id`. */
export interface ChatCompletionToolMessageParam {
  role: 'tool';
  content: string | ChatCompletionContentPartText[];
  tool_call_id: string;
}

/** A JSON Schema the answer must validate against (`response_format: {type: 'json_schema', json_schema}`). */
export interface ResponseFormatJSONSchema {
  /** The schema's name: letters, digits, `_` and `-`, up to 64 characters. */
  name: string;
  description?: string;
  /** A JSON Schema object; default `{}`, any JSON. */
  schema?: JsonSchema;
  /** No properties or items the schema leaves unnamed (as `additionalProperties: false` everywhere); default false. */
  strict?: boolean | null;
}

/**
 * The answer's form: free text (the default), any JSON object, or JSON that validates against a schema. JSON answers
 * are generated under a grammar (every token drawn from those it allows), on one line with `json.dumps`'s
 * separators; an answer cut short by max_tokens ends with finish_reason `length` and may not parse.
 */
export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; json_schema: ResponseFormatJSONSchema };

export type ChatCompletionMessageParam = SystemOrUserMessage | ChatCompletionAssistantMessageParam | ChatCompletionToolMessageParam;

interface ChatCompletionCreateParamsBase {
  model: string;
  messages: ChatCompletionMessageParam[];
  /** Older name of max_completion_tokens; default: as many as the context holds. */
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  /** 0 is greedy; default 1, as OpenAI's. */
  temperature?: number | null;
  top_p?: number | null;
  /** Sampling seed: the same seed and request give the same answer; default: a random one. */
  seed?: number | null;
  /** Generation stops before any of these (up to 4), which the answer does not include. */
  stop?: string | string[] | null;
  /** Only 1: the engine answers once per request. */
  n?: number | null;
  stream_options?: { include_usage?: boolean } | null;
  /** Functions the model may call; the chat template shows them to the model (see engine/openai/toolCalls.ts). */
  tools?: ChatCompletionTool[] | null;
  tool_choice?: ChatCompletionToolChoiceOption | null;
  /** Several calls in one answer (the default, as OpenAI's); false asks for one at most. */
  parallel_tool_calls?: boolean | null;
  response_format?: ResponseFormat | null;
  lean_decode?: LeanDecodeOptions;
}

export interface ChatCompletionCreateParamsNonStreaming extends ChatCompletionCreateParamsBase {
  stream?: false | null;
}

export interface ChatCompletionCreateParamsStreaming extends ChatCompletionCreateParamsBase {
  stream: true;
}

export type ChatCompletionCreateParams = ChatCompletionCreateParamsNonStreaming | ChatCompletionCreateParamsStreaming;

/**
 * `stop`: an end-of-sequence token or a stop string; `length`: max_tokens, or the context or KV pool is full (a call
 * it cut off stays text); `tool_calls`: the answer ends with calls.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  /** Unix time, seconds. */
  created: number;
  model: string;
  choices: {
    index: number;
    /** `content` is null when the answer is only tool calls; `tool_calls` is there only when it made some. */
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: ChatCompletionMessageToolCall[] };
    finish_reason: FinishReason;
    logprobs: null;
  }[];
  usage: CompletionUsage;
  lean_decode?: LeanDecodeTimings;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** One choice; none in the usage chunk that ends a stream with `stream_options.include_usage`. */
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; tool_calls?: ChatCompletionChunkToolCall[] };
    finish_reason: FinishReason | null;
    logprobs: null;
  }[];
  /** null in every chunk but the last when `stream_options.include_usage` asked for it. */
  usage?: CompletionUsage | null;
  /**
   * When `lean_decode.timings` asked for it: on every content chunk and on the one that carries the finish_reason,
   * the figures so far, its `steps` those since the previous chunk's (so a client can show them as they come).
   */
  lean_decode?: LeanDecodeTimings;
}

/**
 * A piece of a streamed tool call, as OpenAI streams them: the first piece of call `index` has its id, type and name
 * (and `arguments: ''`); the following ones only `arguments` text, to be appended.
 */
export interface ChatCompletionChunkToolCall {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface Model {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: 'list';
  data: Model[];
}
