import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatServer } from '../../cli/chatServer.ts';
import { testGpu } from '../../test/gpu.ts';
import { makeTinyModelBytes } from '../../test/tinyModel.ts';
import { Engine, type GenerateRequest, type GenerationEvent, type StopReason } from '../engine.ts';
import { blobModelFiles } from '../loader/blobFiles.ts';
import { OpenAIEngine } from './openaiEngine.ts';
import { templateMessages, templateTools } from './templateInput.ts';
import type { ChatCompletionChunk, ChatCompletionCreateParams, ChatCompletionMessageParam, ChatCompletionTool } from './types.ts';

/*
 * Tool calls through chat.completions.create, in-process and behind `lean-decode serve` with the openai client, on a
 * tiny random-weight model whose chat template is Qwen2.5's. The prompt is the real one (rendered, prefilled); a
 * random model's answer is noise, so each test scripts the answer's text: the engine prefills the real prompt, then
 * the script's pieces come as its tokens.
 */

const QWEN_TEMPLATE = readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'templates', 'Qwen-Qwen2.5-7B-Instruct.jinja'), 'utf8');
const MODEL = 'tiny-qwen-tools';

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather at a place.',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};
const timeTool: ChatCompletionTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };
const tools = [weatherTool, timeTool];
const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];

const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>';
const TIME_CALL = '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>';

let engine: Engine;
let api: OpenAIEngine;
let server: Server;
let client: OpenAI;
let generate: Engine['generate'];

beforeAll(async () => {
  const files = makeTinyModelBytes({ hiddenSize: 64, intermediateSize: 128, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 32, vocabSize: 512, dtype: 'F32' });
  const config = JSON.parse(new TextDecoder().decode(files.get('tokenizer_config.json')));
  files.set('tokenizer_config.json', new TextEncoder().encode(JSON.stringify({ ...config, chat_template: QWEN_TEMPLATE })));
  engine = new Engine(await testGpu());
  await engine.load(blobModelFiles(MODEL, new Map([...files].map(([path, bytes]) => [path, new Blob([bytes as Uint8Array<ArrayBuffer>])]))), { maxContext: 2048 });
  generate = engine.generate.bind(engine);
  api = new OpenAIEngine(engine, MODEL);
  server = createChatServer(api);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(() => {
  server?.closeAllConnections();
  server?.close();
  engine?.unload();
});

/** Prompts the engine rendered, in order. */
const prompts: number[][] = [];

/**
 * The next generation's answer is `pieces` (as its tokens' text), ending for `reason`: the real prompt is rendered
 * and prefilled first, the model's own token left unused.
 */
function scriptAnswer(pieces: string[], reason: StopReason = 'eos'): void {
  engine.generate = async function* (request: GenerateRequest): AsyncGenerator<GenerationEvent> {
    engine.generate = generate;
    for await (const event of generate({ ...request, maxTokens: 1 })) {
      if (event.kind === 'prompt') {
        prompts.push(event.promptIds);
        yield event;
      }
    }
    const stats = { contextLength: 0, tokensPerSecond: 0, kvPagesUsed: 0, kvPagesTotal: 0 };
    for (const [step, text] of pieces.entries()) yield { kind: 'token', id: 5, text, stats: { ...stats, step } };
    yield { kind: 'done', reason, generatedIds: pieces.map(() => 5), text: pieces.join(''), tail: '' };
  };
}

function request(extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams & { stream?: false } {
  return { model: MODEL, messages, tools, temperature: 0, max_tokens: 64, ...extra } as ChatCompletionCreateParams & { stream?: false };
}

/** The prompt as Hugging Face's template renders it for this request. */
function expectedPrompt(params: ChatCompletionCreateParams): number[] {
  return engine.tokenizer.encode(engine.tokenizer.applyChatTemplate(templateMessages(params.messages), templateTools(params)));
}

/** A stream merged as a client merges one: content appended, each call's pieces by index. */
function merge(chunks: ChatCompletionChunk[]) {
  let content = '';
  const calls: { id?: string; type?: string; name?: string; arguments: string }[] = [];
  for (const chunk of chunks) {
    const delta = chunk.choices[0]?.delta;
    content += delta?.content ?? '';
    for (const piece of delta?.tool_calls ?? []) {
      const call = (calls[piece.index] ??= { arguments: '' });
      if (piece.id) Object.assign(call, { id: piece.id, type: piece.type, name: piece.function.name });
      call.arguments += piece.function.arguments;
    }
  }
  return { content, calls, finishReason: chunks.findLast((chunk) => chunk.choices[0]?.finish_reason)?.choices[0].finish_reason };
}

describe('tool calls through chat.completions.create', () => {
  it('renders the tools into the prompt and answers a call as tool_calls, finish_reason tool_calls', async () => {
    scriptAnswer(['Let me ', 'check.\n', CALL]);
    const completion = await api.chat.completions.create(request());
    expect(prompts.at(-1)).toEqual(expectedPrompt(request()));
    expect(engine.tokenizer.decode(prompts.at(-1)!)).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { role: 'assistant', content: 'Let me check.', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"location": "Paris"}' } }] },
    });
    expect(completion.choices[0].message.tool_calls![0].id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(completion.usage.completion_tokens).toBe(3);
  });

  it('streams a call as OpenAI does: its index, id, type and name, then its arguments; the same answer as unstreamed', async () => {
    const script = [...`Checking.\n${CALL}\n${TIME_CALL}`];
    scriptAnswer(script);
    const unstreamed = await api.chat.completions.create(request());
    scriptAnswer(script);
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of await api.chat.completions.create({ ...request(), stream: true })) chunks.push(chunk);
    const callChunks = chunks.filter((chunk) => chunk.choices[0]?.delta.tool_calls);
    expect(callChunks.map((chunk) => chunk.choices[0].delta.tool_calls)).toEqual([
      [{ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '' } }],
      [{ index: 0, function: { arguments: '{"location": "Paris"}' } }],
      [{ index: 1, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_time', arguments: '' } }],
      [{ index: 1, function: { arguments: '{}' } }],
    ]);
    const merged = merge(chunks);
    const message = unstreamed.choices[0].message;
    expect(merged.content).toBe(message.content);
    expect(merged.calls.map(({ name, arguments: args }) => ({ name, arguments: args }))).toEqual(message.tool_calls!.map((call) => call.function));
    expect(merged.finishReason).toBe('tool_calls');
  });

  it('a call cut off by max_tokens: finish_reason length and the text as content, no tool_calls, streamed or not', async () => {
    const cut = ['Sure.\n', '<tool_call>\n{"name": "get_weather", ', '"arguments": {"loc'];
    scriptAnswer(cut, 'length');
    const completion = await api.chat.completions.create(request());
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: cut.join('') } });
    expect(completion.choices[0].message.tool_calls).toBeUndefined();
    scriptAnswer(cut, 'length');
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of await api.chat.completions.create({ ...request(), stream: true })) chunks.push(chunk);
    expect(merge(chunks)).toEqual({ content: cut.join(''), calls: [], finishReason: 'length' });
  });

  it('parallel_tool_calls false: the answer ends at its first call', async () => {
    scriptAnswer([CALL, '\n', TIME_CALL, '\nmore']);
    const completion = await api.chat.completions.create(request({ parallel_tool_calls: false }));
    expect(completion.choices[0].finish_reason).toBe('tool_calls');
    expect(completion.choices[0].message.tool_calls!.map((call) => call.function.name)).toEqual(['get_weather']);
    expect(completion.usage.completion_tokens).toBe(1);
  });

  it("tool_choice 'none': no tools in the prompt and no calls read (the text is the answer)", async () => {
    scriptAnswer([CALL]);
    const completion = await api.chat.completions.create(request({ tool_choice: 'none' }));
    expect(prompts.at(-1)).toEqual(expectedPrompt({ model: MODEL, messages }));
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: CALL } });
  });

  it('an answer without a call is text, finish_reason stop; an earlier call and its result go through the template', async () => {
    const history: ChatCompletionMessageParam[] = [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'Sunny, 24 °C' },
    ];
    scriptAnswer(['It is ', 'sunny.']);
    const completion = await api.chat.completions.create(request({ messages: history }));
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'It is sunny.' } });
    expect(completion.choices[0].message.tool_calls).toBeUndefined();
    const prompt = engine.tokenizer.decode(prompts.at(-1)!);
    expect(prompt).toContain('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call><|im_end|>\n');
    expect(prompt).toContain('<|im_start|>user\n<tool_response>\nSunny, 24 °C\n</tool_response><|im_end|>\n<|im_start|>assistant\n');
  });

  it("a forced call (tool_choice 'required' or a function): the model, random as it is, writes only a call, whose arguments validate", async () => {
    // Parameters that bound the call, so that noise completes it within a few tens of tokens.
    const unitTool: ChatCompletionTool = {
      type: 'function',
      function: { name: 'set_unit', parameters: { type: 'object', properties: { unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['unit'] } },
    };
    const choices = [
      ['required', { temperature: 1, seed: 1 }],
      ['required', { temperature: 1, seed: 2 }],
      [{ type: 'function', function: { name: 'set_unit' } }, { temperature: 0 }],
    ] as const;
    for (const [tool_choice, sampling] of choices) {
      const completion = await api.chat.completions.create(request({ tools: [timeTool, unitTool], tool_choice, parallel_tool_calls: false, max_tokens: 96, ...sampling }));
      expect(completion.choices[0].finish_reason, JSON.stringify(completion.choices[0].message)).toBe('tool_calls');
      const [call, ...more] = completion.choices[0].message.tool_calls!;
      expect(more).toEqual([]);
      if (typeof tool_choice === 'object') expect(call.function.name).toBe('set_unit');
      const args = JSON.parse(call.function.arguments);
      if (call.function.name === 'set_unit') expect(['celsius', 'fahrenheit']).toContain(args.unit);
      else expect(args).toEqual({});
    }
    engine.verifyKvCache();
    await expect(api.chat.completions.create(request({ tool_choice: 'required', response_format: { type: 'json_object' } }))).rejects.toMatchObject({ status: 400, param: 'response_format' });
  });

  it('a real generation with tools: the model runs on the rendered prompt and its noise stays text', async () => {
    const completion = await api.chat.completions.create(request({ max_tokens: 6 }));
    expect(completion.usage.prompt_tokens).toBe(expectedPrompt(request()).length);
    expect(completion.choices[0].finish_reason).toMatch(/^(length|stop)$/);
    expect(typeof completion.choices[0].message.content).toBe('string');
    engine.verifyKvCache();
  });
});

describe('tool calls through lean-decode serve and the openai client', () => {
  it("the openai SDK's stream helper assembles the streamed calls into the final completion", async () => {
    scriptAnswer([...`${CALL}\n${TIME_CALL}`]);
    const stream = client.chat.completions.stream({ model: MODEL, messages: messages as OpenAI.ChatCompletionMessageParam[], tools: tools as OpenAI.ChatCompletionTool[] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls!.map((call) => call.type === 'function' && call.function)).toEqual([
      { name: 'get_weather', arguments: '{"location": "Paris"}' },
      { name: 'get_time', arguments: '{}' },
    ]);
  });

  it('a whole exchange: the call, its result sent back as a tool message, the answer', async () => {
    scriptAnswer([CALL]);
    const first = await client.chat.completions.create({ model: MODEL, messages: messages as OpenAI.ChatCompletionMessageParam[], tools: tools as OpenAI.ChatCompletionTool[] });
    const call = first.choices[0].message.tool_calls![0];
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Paris' });
    scriptAnswer(['Sunny.']);
    const second = await client.chat.completions.create({
      model: MODEL,
      messages: [...(messages as OpenAI.ChatCompletionMessageParam[]), first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'Sunny' }],
      tools: tools as OpenAI.ChatCompletionTool[],
    });
    expect(second.choices[0].message.content).toBe('Sunny.');
    expect(engine.tokenizer.decode(prompts.at(-1)!)).toContain('<tool_response>\nSunny\n</tool_response>');
  });

  it('refuses bad tool requests with OpenAI error bodies', async () => {
    const refused: [string, Record<string, unknown>, Partial<{ param: string; code: string }>][] = [
      ['a tool without a name', { tools: [{ type: 'function', function: {} }] }, { param: 'tools[0].function.name', code: 'invalid_type' }],
      ['a tool of another type', { tools: [{ type: 'retrieval' }] }, { param: 'tools[0].type' }],
      ['parameters that are not an object schema', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }, { param: 'tools[0].function.parameters' }],
      ['tool_choice naming an undeclared function', { tools, tool_choice: { type: 'function', function: { name: 'rm' } } }, { param: 'tool_choice', code: 'invalid_value' }],
      ['tool_choice without tools', { tool_choice: 'auto' }, { param: 'tool_choice' }],
      ['call arguments that are not JSON', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }, { param: 'messages[0].tool_calls[0].function.arguments' }],
      ['a tool message without tool_call_id', { messages: [{ role: 'tool', content: 'x' }] }, { param: 'messages[0].tool_call_id' }],
    ];
    for (const [what, body, error] of refused) {
      const response = await fetch(`${client.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages, max_tokens: 2, ...body }),
      });
      expect(response.status, what).toBe(400);
      expect(((await response.json()) as { error: unknown }).error, what).toMatchObject({ type: 'invalid_request_error', ...error });
    }
  });
});
