import { ATTENTION_KERNELS } from '../../kernels/attention/plan.ts';
import { invalidRequest } from './openaiError.ts';
import type { ChatCompletionCreateParams } from './types.ts';

/*
 * A Chat Completions request checked field by field before anything runs, as OpenAI checks it: a field of the wrong
 * type or out of range is a 400 naming it (`param`), an unknown field is refused rather than ignored (a typo'd
 * option would otherwise change nothing, silently), and what the engine cannot do (n > 1, tools) says so.
 */

/** Fields OpenAI defines that the engine cannot honour. */
const UNSUPPORTED = ['tools', 'tool_choice', 'functions', 'function_call', 'parallel_tool_calls', 'top_logprobs', 'logit_bias', 'audio', 'modalities', 'prediction'];
/** Fields OpenAI defines that the engine honours only at the value that changes nothing. */
const NEUTRAL: Record<string, unknown> = { frequency_penalty: 0, presence_penalty: 0, logprobs: false };
const KNOWN = ['model', 'messages', 'stream', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop', 'n', 'stream_options', 'response_format', 'user', 'lean_decode'];
const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema'];
/** OpenAI's rule for a response format's name. */
const SCHEMA_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ROLES = ['system', 'developer', 'user', 'assistant'];
const MAX_STOP_SEQUENCES = 4;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function wrongType(param: string, expected: string, value: unknown): never {
  throw invalidRequest(`${param} must be ${expected} (got ${JSON.stringify(value) ?? String(value)})`, param, 'invalid_type');
}

function refuseUnknownKeys(object: Json, known: readonly string[], where: string): void {
  const unknown = Object.keys(object).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw invalidRequest(`Unrecognized request argument supplied: ${where}${unknown} (known: ${known.join(', ')})`, `${where}${unknown}`, 'unknown_parameter');
  }
}

/** `value` absent or null, or a number within [min, max] (`above`: min itself excluded), whole where asked. */
function checkNumber(param: string, value: unknown, { min, max, above = false, integer = false }: { min: number; max?: number; above?: boolean; integer?: boolean }): void {
  if (value === undefined || value === null) return;
  const range = `${above ? 'greater than' : 'at least'} ${min}${max === undefined ? '' : ` and at most ${max}`}`;
  const inRange = typeof value === 'number' && (above ? value > min : value >= min) && (max === undefined || value <= max);
  if (!inRange || (integer && !Number.isInteger(value))) wrongType(param, `${integer ? 'an integer' : 'a number'} ${range}`, value);
}

function checkBoolean(param: string, value: unknown): void {
  if (value !== undefined && value !== null && typeof value !== 'boolean') wrongType(param, 'true or false', value);
}

function checkMessages(messages: unknown): void {
  if (!Array.isArray(messages) || messages.length === 0) wrongType('messages', 'a non-empty array of messages', messages);
  messages.forEach((message: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isObject(message)) wrongType(at, 'an object with role and content', message);
    refuseUnknownKeys(message, ['role', 'content', 'name'], `${at}.`);
    if (typeof message.role !== 'string' || !ROLES.includes(message.role)) {
      const tools = message.role === 'tool' || message.role === 'function' ? ': tool calls are not supported' : '';
      throw invalidRequest(`${at}.role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(message.role)})${tools}`, `${at}.role`, 'invalid_value');
    }
    const content = message.content;
    const textParts = Array.isArray(content) && content.every((part: unknown) => isObject(part) && part.type === 'text' && typeof part.text === 'string');
    if (typeof content !== 'string' && !textParts) wrongType(`${at}.content`, 'a string or an array of {type: "text", text} parts (text models take no other kind)', content);
    if (message.name !== undefined && typeof message.name !== 'string') wrongType(`${at}.name`, 'a string', message.name);
  });
}

function checkStop(stop: unknown): void {
  if (stop === undefined || stop === null || (typeof stop === 'string' && stop !== '')) return;
  const list = Array.isArray(stop) && stop.length <= MAX_STOP_SEQUENCES && stop.every((s) => typeof s === 'string' && s !== '');
  if (!list) wrongType('stop', `a non-empty string or an array of up to ${MAX_STOP_SEQUENCES} non-empty strings`, stop);
}

function checkResponseFormat(format: unknown): void {
  if (format === undefined || format === null) return;
  if (!isObject(format) || typeof format.type !== 'string' || !RESPONSE_FORMATS.includes(format.type)) {
    wrongType('response_format', `an object whose type is one of ${RESPONSE_FORMATS.join(', ')}`, format);
  }
  refuseUnknownKeys(format, format.type === 'json_schema' ? ['type', 'json_schema'] : ['type'], 'response_format.');
  if (format.type !== 'json_schema') return;
  const spec = format.json_schema;
  if (!isObject(spec)) wrongType('response_format.json_schema', 'an object with name and schema', spec);
  refuseUnknownKeys(spec, ['name', 'description', 'schema', 'strict'], 'response_format.json_schema.');
  if (typeof spec.name !== 'string' || !SCHEMA_NAME.test(spec.name)) {
    wrongType('response_format.json_schema.name', 'a name of letters, digits, _ and -, up to 64 characters', spec.name);
  }
  if (spec.description !== undefined && typeof spec.description !== 'string') wrongType('response_format.json_schema.description', 'a string', spec.description);
  if (spec.schema !== undefined && !isObject(spec.schema)) wrongType('response_format.json_schema.schema', 'a JSON Schema object', spec.schema);
  checkBoolean('response_format.json_schema.strict', spec.strict);
}

function checkLeanDecode(options: unknown): void {
  if (options === undefined || options === null) return;
  if (!isObject(options)) wrongType('lean_decode', 'an object', options);
  refuseUnknownKeys(options, ['attention', 'conversation', 'timings', 'raw'], 'lean_decode.');
  if (options.attention !== undefined && !ATTENTION_KERNELS.includes(options.attention as never)) {
    wrongType('lean_decode.attention', `one of ${ATTENTION_KERNELS.join(', ')}`, options.attention);
  }
  checkNumber('lean_decode.conversation', options.conversation, { min: 1, integer: true });
  checkBoolean('lean_decode.timings', options.timings);
  checkBoolean('lean_decode.raw', options.raw);
}

/** `value` as Chat Completions params, or the OpenAIError (400) that names the first field at fault. */
export function validateChatCompletionParams(value: unknown): ChatCompletionCreateParams {
  if (!isObject(value)) wrongType('body', 'a JSON object of Chat Completions parameters', value);
  for (const key of UNSUPPORTED) {
    if (value[key] !== undefined && value[key] !== null) throw invalidRequest(`${key} is not supported: lean-decode generates text only`, key, 'unsupported_parameter');
  }
  for (const [key, neutral] of Object.entries(NEUTRAL)) {
    if (value[key] !== undefined && value[key] !== null && value[key] !== neutral) {
      throw invalidRequest(`${key} is not supported: only ${JSON.stringify(neutral)} (got ${JSON.stringify(value[key])})`, key, 'unsupported_value');
    }
  }
  refuseUnknownKeys(value, [...KNOWN, ...UNSUPPORTED, ...Object.keys(NEUTRAL)], '');
  if (typeof value.model !== 'string' || value.model === '') wrongType('model', 'a model id (GET /v1/models lists them)', value.model);
  checkMessages(value.messages);
  checkBoolean('stream', value.stream);
  checkNumber('max_tokens', value.max_tokens, { min: 1, integer: true });
  checkNumber('max_completion_tokens', value.max_completion_tokens, { min: 1, integer: true });
  checkNumber('temperature', value.temperature, { min: 0, max: 2 });
  checkNumber('top_p', value.top_p, { min: 0, above: true, max: 1 });
  checkNumber('seed', value.seed, { min: 0, max: 2 ** 32 - 1, integer: true });
  checkStop(value.stop);
  checkNumber('n', value.n, { min: 1, integer: true });
  if (typeof value.n === 'number' && value.n !== 1) throw invalidRequest(`n must be 1: lean-decode answers once per request (got ${value.n})`, 'n', 'unsupported_value');
  if (value.user !== undefined && value.user !== null && typeof value.user !== 'string') wrongType('user', 'a string', value.user);
  const streamOptions = value.stream_options;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (value.stream !== true) throw invalidRequest('stream_options is only allowed when stream is true', 'stream_options', 'invalid_value');
    if (!isObject(streamOptions)) wrongType('stream_options', 'an object', streamOptions);
    refuseUnknownKeys(streamOptions, ['include_usage'], 'stream_options.');
    checkBoolean('stream_options.include_usage', streamOptions.include_usage);
  }
  checkResponseFormat(value.response_format);
  checkLeanDecode(value.lean_decode);
  return value as unknown as ChatCompletionCreateParams;
}
