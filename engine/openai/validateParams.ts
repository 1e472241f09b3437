import { ATTENTION_KERNELS } from '../../kernels/attention/plan.ts';
import { invalidRequest } from './openaiError.ts';
import type { ChatCompletionCreateParams } from './types.ts';

/*
 * A Chat Completions request checked field by field before anything runs, as OpenAI checks it: a field of the wrong
 * type or out of range is a 400 naming it (`param`), an unknown field is refused rather than ignored (a typo'd
 * option would otherwise change nothing, silently), and what the engine cannot do (n > 1) says so.
 */

/** Fields OpenAI defines that the engine cannot honour. */
const UNSUPPORTED = ['functions', 'function_call', 'top_logprobs', 'logit_bias', 'audio', 'modalities', 'prediction'];
/** Fields OpenAI defines that the engine honours only at the value that changes nothing. */
const NEUTRAL: Record<string, unknown> = { frequency_penalty: 0, presence_penalty: 0, logprobs: false };
const KNOWN = ['model', 'messages', 'stream', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop', 'n', 'stream_options', 'user', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'lean_decode'];
const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema'];
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];
/** The fields of a message, by role. */
const MESSAGE_KEYS: Record<string, string[]> = {
  system: ['role', 'content', 'name'],
  developer: ['role', 'content', 'name'],
  user: ['role', 'content', 'name'],
  assistant: ['role', 'content', 'name', 'tool_calls', 'refusal'],
  tool: ['role', 'content', 'tool_call_id'],
};
/** OpenAI's rule for the names of functions and of response formats' schemas. */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
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
    if (typeof message.role !== 'string' || !ROLES.includes(message.role)) {
      const legacy = message.role === 'function' ? ': use role "tool" with a tool_call_id' : '';
      throw invalidRequest(`${at}.role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(message.role)})${legacy}`, `${at}.role`, 'invalid_value');
    }
    refuseUnknownKeys(message, MESSAGE_KEYS[message.role], `${at}.`);
    const calls = message.role === 'assistant' ? checkToolCalls(message.tool_calls, `${at}.tool_calls`) : 0;
    const content = message.content;
    const textParts = Array.isArray(content) && content.every((part: unknown) => isObject(part) && part.type === 'text' && typeof part.text === 'string');
    // An assistant turn that called tools may have no text.
    const empty = calls > 0 && (content === null || content === undefined);
    if (typeof content !== 'string' && !textParts && !empty) {
      const orNull = message.role === 'assistant' ? ' (or null when the message has tool_calls)' : '';
      wrongType(`${at}.content`, `a string or an array of {type: "text", text} parts${orNull} (text models take no other kind)`, content);
    }
    if (message.name !== undefined && typeof message.name !== 'string') wrongType(`${at}.name`, 'a string', message.name);
    if (message.role === 'tool' && (typeof message.tool_call_id !== 'string' || message.tool_call_id === '')) {
      wrongType(`${at}.tool_call_id`, 'the id of the tool call this message answers', message.tool_call_id);
    }
  });
}

/** An assistant message's tool_calls (absent, null or a list of function calls); how many there are. */
function checkToolCalls(toolCalls: unknown, at: string): number {
  if (toolCalls === undefined || toolCalls === null) return 0;
  if (!Array.isArray(toolCalls)) wrongType(at, 'an array of tool calls', toolCalls);
  toolCalls.forEach((call: unknown, j) => {
    const where = `${at}[${j}]`;
    if (!isObject(call)) wrongType(where, 'an object {id, type: "function", function: {name, arguments}}', call);
    refuseUnknownKeys(call, ['id', 'type', 'function'], `${where}.`);
    if (typeof call.id !== 'string' || call.id === '') wrongType(`${where}.id`, 'a non-empty string', call.id);
    if (call.type !== 'function') wrongType(`${where}.type`, '"function"', call.type);
    if (!isObject(call.function)) wrongType(`${where}.function`, 'an object {name, arguments}', call.function);
    refuseUnknownKeys(call.function, ['name', 'arguments'], `${where}.function.`);
    if (typeof call.function.name !== 'string' || call.function.name === '') wrongType(`${where}.function.name`, 'a function name', call.function.name);
    const args = call.function.arguments;
    if (typeof args !== 'string' || !parsesAsObject(args)) wrongType(`${where}.function.arguments`, 'the JSON text of an object (the chat template prints it as one)', args);
  });
  return toolCalls.length;
}

function parsesAsObject(text: string): boolean {
  if (text === '') return true;
  try {
    return isObject(JSON.parse(text));
  } catch {
    return false;
  }
}

/** `tools`, `tool_choice` and `parallel_tool_calls`: function definitions, and a choice among them. */
function checkTools(value: Json): void {
  const { tools, tool_choice: choice, parallel_tool_calls: parallel } = value;
  const given = tools !== undefined && tools !== null;
  if (given) {
    if (!Array.isArray(tools) || tools.length === 0) wrongType('tools', 'a non-empty array of {type: "function", function: {name, description, parameters}}', tools);
    const names = new Set<string>();
    tools.forEach((tool: unknown, i) => {
      const at = `tools[${i}]`;
      if (!isObject(tool)) wrongType(at, 'an object {type: "function", function: {...}}', tool);
      refuseUnknownKeys(tool, ['type', 'function'], `${at}.`);
      if (tool.type !== 'function') wrongType(`${at}.type`, '"function" (the only kind of tool a chat template takes)', tool.type);
      const fn = tool.function;
      if (!isObject(fn)) wrongType(`${at}.function`, 'an object {name, description, parameters}', fn);
      refuseUnknownKeys(fn, ['name', 'description', 'parameters', 'strict'], `${at}.function.`);
      if (typeof fn.name !== 'string' || !FUNCTION_NAME.test(fn.name)) wrongType(`${at}.function.name`, 'a name of 1 to 64 letters, digits, underscores and dashes', fn.name);
      if (names.has(fn.name)) throw invalidRequest(`${at}.function.name: the function ${fn.name} is declared twice`, `${at}.function.name`, 'invalid_value');
      names.add(fn.name);
      if (fn.description !== undefined && typeof fn.description !== 'string') wrongType(`${at}.function.description`, 'a string', fn.description);
      const parameters = fn.parameters;
      if (parameters !== undefined && (!isObject(parameters) || (parameters.type !== undefined && parameters.type !== 'object'))) {
        wrongType(`${at}.function.parameters`, 'a JSON Schema object of the arguments ({"type": "object", "properties": {...}})', parameters);
      }
      checkBoolean(`${at}.function.strict`, fn.strict);
    });
  }
  if (choice !== undefined && choice !== null) {
    if (!given) throw invalidRequest('tool_choice is only allowed when tools are given', 'tool_choice', 'invalid_value');
    const named = isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string';
    if (!named && !(typeof choice === 'string' && ['none', 'auto', 'required'].includes(choice))) {
      wrongType('tool_choice', '"none", "auto", "required" or {type: "function", function: {name}}', choice);
    }
    if (named) {
      const name = (choice.function as Json).name as string;
      const declared = (tools as { function: { name: string } }[]).map((tool) => tool.function.name);
      if (!declared.includes(name)) throw invalidRequest(`tool_choice names the function ${name}, which tools does not declare (it declares ${declared.join(', ')})`, 'tool_choice', 'invalid_value');
    }
  }
  if (parallel !== undefined && parallel !== null) {
    if (!given) throw invalidRequest('parallel_tool_calls is only allowed when tools are given', 'parallel_tool_calls', 'invalid_value');
    checkBoolean('parallel_tool_calls', parallel);
  }
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
  if (typeof spec.name !== 'string' || !FUNCTION_NAME.test(spec.name)) {
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
  checkTools(value);
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
