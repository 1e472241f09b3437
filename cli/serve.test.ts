import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine, type GenerateRequest, type GenerationEvent, type StopReason } from '../engine/engine.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';
import { OpenAIEngine } from '../engine/openai/openaiEngine.ts';
import { GREEDY } from '../kernels/model/sampler.ts';
import { testGpu } from '../test/gpu.ts';
import { DOC_SCHEMA, expectValidJson } from '../test/jsonSchemas.ts';
import { readReferenceModel, SHARED_MODELS } from '../test/sharedModels.ts';
import { BUILTIN_MODEL_DIR } from './builtinModel.ts';
import { createChatServer } from './chatServer.ts';

/*
 * `lean-decode serve` (the server in this process, on a free port, with the built-in model) driven by the official
 * `openai` client and by raw HTTP; greedy answers checked against Engine.generate and the Hugging Face reference.
 */

const MODEL = 'pydoc-chat-6m';
const EOS = '<|im_end|>';
const reference = readReferenceModel(join(SHARED_MODELS, MODEL), BUILTIN_MODEL_DIR);
const chatCase = (content: string) => reference.cases.find((c) => c.messages?.[0].content === content)!;
const jsonDumps = chatCase('What does json.dumps do?');
const hello = chatCase('Hello');
// Small enough that a too-long prompt is cheap to write.
const MAX_CONTEXT = 256;

let engine: Engine;
let api: OpenAIEngine;
let server: Server;
let baseURL: string;
let client: OpenAI;
/** Per generation the engine ran (in order): tokens produced and why it stopped ('closed': its caller stopped reading). */
const generations: { tokens: number; reason?: StopReason | 'closed' }[] = [];

beforeAll(async () => {
  engine = new Engine(await testGpu());
  await engine.load(nodeModelFiles(BUILTIN_MODEL_DIR), { maxContext: MAX_CONTEXT });
  const generate = engine.generate.bind(engine);
  engine.generate = async function* (request: GenerateRequest): AsyncGenerator<GenerationEvent> {
    const record: (typeof generations)[number] = { tokens: 0 };
    generations.push(record);
    try {
      for await (const event of generate(request)) {
        if (event.kind === 'token') record.tokens++;
        if (event.kind === 'done') record.reason = event.reason;
        yield event;
      }
    } finally {
      record.reason ??= 'closed';
    }
  };
  api = new OpenAIEngine(engine);
  server = createChatServer(api);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
});

afterAll(() => {
  server?.closeAllConnections();
  server?.close();
  engine?.unload();
});

/** The reference's greedy text up to its first EOS (left out of an answer), and whether it got there. */
function referenceAnswer(testCase: typeof jsonDumps): { content: string; endsAtEos: boolean } {
  const at = testCase.greedy_text.indexOf(EOS);
  return at < 0 ? { content: testCase.greedy_text, endsAtEos: false } : { content: testCase.greedy_text.slice(0, at), endsAtEos: true };
}

async function engineGreedy(messages: typeof jsonDumps.messages, maxTokens: number) {
  for await (const event of engine.generate({ messages, maxTokens, sampling: GREEDY })) if (event.kind === 'done') return event;
  throw new Error('the generation ended without a done event');
}

function greedy(testCase: typeof jsonDumps, maxTokens: number) {
  return { model: MODEL, messages: testCase.messages!, temperature: 0, max_tokens: maxTokens };
}

async function streamedText(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { chunks, text: chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('') };
}

async function post(body: string, path = '/chat/completions', method = 'POST') {
  const response = await fetch(`${baseURL}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? body : undefined });
  return { status: response.status, body: (await response.json()) as { error: { message: string; type: string; param: string | null; code: string | null } } };
}

describe('lean-decode serve, driven by the openai client', () => {
  let jsonDumpsAnswer: string;

  it('answers greedily as Engine.generate and the reference do (finish_reason length at max_tokens)', async () => {
    const maxTokens = jsonDumps.greedy_ids.length;
    const completion = await client.chat.completions.create(greedy(jsonDumps, maxTokens));
    jsonDumpsAnswer = completion.choices[0].message.content!;
    const direct = await engineGreedy(jsonDumps.messages, maxTokens);
    expect(direct.generatedIds).toEqual(jsonDumps.greedy_ids);
    expect(jsonDumpsAnswer).toBe(direct.text);
    expect(jsonDumpsAnswer).toBe(referenceAnswer(jsonDumps).content);
    expect(completion).toMatchObject({ object: 'chat.completion', model: MODEL, choices: [{ index: 0, finish_reason: 'length', message: { role: 'assistant' } }] });
    expect(completion.usage).toEqual({ prompt_tokens: jsonDumps.prompt_ids.length, completion_tokens: maxTokens, total_tokens: jsonDumps.prompt_ids.length + maxTokens });
  });

  it('stops at the end-of-sequence token with finish_reason stop, leaving its text out', async () => {
    const expected = referenceAnswer(hello);
    expect(expected.endsAtEos).toBe(true);
    const completion = await client.chat.completions.create(greedy(hello, hello.greedy_ids.length));
    expect(completion.choices[0].message.content).toBe(expected.content);
    expect(completion.choices[0].finish_reason).toBe('stop');
    // The EOS token counts as generated, as in OpenAI's usage.
    const eos = engine.model!.config.eosTokenIds;
    expect(completion.usage!.completion_tokens).toBe(hello.greedy_ids.findIndex((id) => eos.includes(id)) + 1);
  });

  it('streams chunks that concatenate to the non-streamed answer, then finish_reason, then usage', async () => {
    const stream = await client.chat.completions.create({ ...greedy(jsonDumps, jsonDumps.greedy_ids.length), stream: true, stream_options: { include_usage: true } });
    const { chunks, text } = await streamedText(stream);
    expect(text).toBe(jsonDumpsAnswer);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(jsonDumps.greedy_ids.length);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
  });

  it('stops before a stop sequence, which the answer leaves out, streamed or not', async () => {
    const full = referenceAnswer(jsonDumps).content;
    const completion = await client.chat.completions.create({ ...greedy(jsonDumps, 48), stop: 'skipkeys' });
    expect(completion.choices[0].message.content).toBe(full.slice(0, full.indexOf('skipkeys')));
    expect(completion.choices[0].finish_reason).toBe('stop');
    // Two stop sequences: the one that comes first wins; ", ensure" is held back while ", " could begin it.
    const stream = await client.chat.completions.create({ ...greedy(jsonDumps, 48), stop: ['never appears', ', ensure'], stream: true });
    const { chunks, text } = await streamedText(stream);
    expect(text).toBe(full.slice(0, full.indexOf(', ensure')));
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('max_tokens and max_completion_tokens end the answer with finish_reason length', async () => {
    for (const limit of [{ max_tokens: 5 }, { max_completion_tokens: 5 }]) {
      const completion = await client.chat.completions.create({ model: MODEL, messages: jsonDumps.messages!, temperature: 0, ...limit });
      expect(completion.choices[0].finish_reason).toBe('length');
      expect(completion.usage!.completion_tokens).toBe(5);
      expect(completion.choices[0].message.content).toBe(engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, 5)));
    }
  });

  describe('response_format', () => {
    const question = [{ role: 'user' as const, content: 'What does str.split do?' }];
    const docFormat = { type: 'json_schema' as const, json_schema: { name: 'doc', schema: DOC_SCHEMA, strict: true } };

    it('json_schema: greedy and sampled answers parse and validate, streamed or not', async () => {
      const completion = await client.chat.completions.create({ model: MODEL, messages: question, temperature: 0, max_tokens: 64, response_format: docFormat });
      expect(completion.choices[0].finish_reason).toBe('stop');
      expectValidJson(completion.choices[0].message.content!, DOC_SCHEMA);
      const stream = await client.chat.completions.create({ model: MODEL, messages: question, temperature: 1, seed: 7, max_tokens: 64, response_format: docFormat, stream: true });
      const { chunks, text } = await streamedText(stream);
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
      expectValidJson(text, DOC_SCHEMA);
    });

    it('json_object answers parse; text is free text; an answer cut by max_tokens has finish_reason length', async () => {
      const object = await client.chat.completions.create({ model: MODEL, messages: question, temperature: 0, max_tokens: 32, response_format: { type: 'json_object' } });
      expect(object.choices[0].finish_reason).toBe('stop');
      expect(JSON.parse(object.choices[0].message.content!)).toBeTypeOf('object');
      const text = await client.chat.completions.create({ ...greedy(jsonDumps, 3), response_format: { type: 'text' } });
      expect(text.choices[0].message.content).toBe(engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, 3)));
      const cut = await client.chat.completions.create({ model: MODEL, messages: question, temperature: 0, max_tokens: 3, response_format: docFormat });
      expect(cut.choices[0].finish_reason).toBe('length');
      expect(cut.choices[0].message.content).toMatch(/^\{/);
      expect(() => JSON.parse(cut.choices[0].message.content!)).toThrow();
    });
  });

  it('answers requests sent together one after the other, each from its own KV', async () => {
    const [a, b] = await Promise.all([client.chat.completions.create(greedy(jsonDumps, 12)), client.chat.completions.create(greedy(hello, 12))]);
    expect(a.choices[0].message.content).toBe(engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, 12)));
    expect(b.choices[0].message.content).toBe(engine.tokenizer.decode(hello.greedy_ids.slice(0, 12)));
  });

  it('a client that disconnects mid-stream aborts its generation; its pages come back and the server serves on', async () => {
    const timed = { ...greedy(jsonDumps, 4), lean_decode: { timings: true } } as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const pagesBefore = ((await client.chat.completions.create(timed)) as unknown as { lean_decode: { kv_pages_used: number } }).lean_decode.kv_pages_used;

    const stream = await client.chat.completions.create({ ...greedy(jsonDumps, 200), stream: true });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++received === 3) break;
    }
    stream.controller.abort();
    const aborted = generations.length - 1;

    const after = (await client.chat.completions.create(timed)) as unknown as OpenAI.ChatCompletion & { lean_decode: { kv_pages_used: number } };
    // Aborted by the signal between two tokens, or closed by the server while it waited for the next.
    expect(['aborted', 'closed']).toContain(generations[aborted].reason);
    expect(generations[aborted].tokens).toBeLessThan(200);
    expect(after.choices[0].message.content).toBe(engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, 4)));
    expect(after.lean_decode.kv_pages_used).toBe(pagesBefore);
    engine.verifyKvCache();
    expect(await (await fetch(`${baseURL.replace('/v1', '')}/health`)).json()).toEqual({ status: 'ok', model: MODEL, queued: 0 });
  });

  it('refuses malformed requests with OpenAI error bodies and 4xx statuses, and serves on', async () => {
    const valid = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 2 };
    const tooLong = { ...valid, messages: [{ role: 'user', content: 'json '.repeat(MAX_CONTEXT) }] };
    const refused: [string, string, number, Partial<{ param: string | null; code: string | null; message: string }>][] = [
      ['bad JSON', '{"model": "pydoc-chat-6m", "messages": [', 400, { code: 'invalid_json' }],
      ['not an object', '[1, 2]', 400, { param: 'body', code: 'invalid_type' }],
      ['messages of the wrong type', JSON.stringify({ ...valid, messages: 'Hello' }), 400, { param: 'messages', code: 'invalid_type' }],
      ['a message without content', JSON.stringify({ ...valid, messages: [{ role: 'user' }] }), 400, { param: 'messages[0].content' }],
      ['max_tokens of the wrong type', JSON.stringify({ ...valid, max_tokens: 'ten' }), 400, { param: 'max_tokens', code: 'invalid_type' }],
      ['temperature out of range', JSON.stringify({ ...valid, temperature: -1 }), 400, { param: 'temperature' }],
      ['stop of the wrong type', JSON.stringify({ ...valid, stop: 5 }), 400, { param: 'stop' }],
      ['an unknown field', JSON.stringify({ ...valid, max_tokenz: 3 }), 400, { param: 'max_tokenz', code: 'unknown_parameter' }],
      ['an unknown kernel', JSON.stringify({ ...valid, lean_decode: { attention: 'flash' } }), 400, { param: 'lean_decode.attention' }],
      ['n > 1', JSON.stringify({ ...valid, n: 2 }), 400, { param: 'n', code: 'unsupported_value' }],
      ['tools', JSON.stringify({ ...valid, tools: [{ type: 'function', function: { name: 'f' } }] }), 400, { param: 'tools', code: 'unsupported_parameter' }],
      ['a response_format of an unknown type', JSON.stringify({ ...valid, response_format: { type: 'xml' } }), 400, { param: 'response_format', code: 'invalid_type' }],
      ['a json_schema without a name', JSON.stringify({ ...valid, response_format: { type: 'json_schema', json_schema: { schema: {} } } }), 400, { param: 'response_format.json_schema.name' }],
      ['a schema that is no object', JSON.stringify({ ...valid, response_format: { type: 'json_schema', json_schema: { name: 's', schema: [1] } } }), 400, { param: 'response_format.json_schema.schema' }],
      [
        'a schema the grammar engine cannot compile',
        JSON.stringify({ ...valid, response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'frobnicate' } } } }),
        400,
        { param: 'response_format', code: 'invalid_json_schema', message: `Invalid schema for response_format 's': the JSON schema cannot be compiled: Unsupported type "frobnicate"` },
      ],
      ['an unknown model', JSON.stringify({ ...valid, model: 'gpt-4o' }), 404, { param: 'model', code: 'model_not_found' }],
      ['a prompt longer than the context', JSON.stringify(tooLong), 400, { param: 'messages', code: 'context_length_exceeded' }],
      ['a streamed prompt longer than the context', JSON.stringify({ ...tooLong, stream: true }), 400, { code: 'context_length_exceeded' }],
    ];
    for (const [what, body, status, error] of refused) {
      const response = await post(body);
      expect(response.status, what).toBe(status);
      expect(response.body.error, what).toMatchObject({ type: 'invalid_request_error', ...error });
      expect(response.body.error.message, what).toMatch(/\w{3}/);
    }
    expect((await post('', '/nothing', 'GET')).status).toBe(404);
    expect((await post('', '/chat/completions', 'GET')).status).toBe(405);
    // The openai client raises them as its own typed errors.
    await expect(client.chat.completions.create({ ...greedy(jsonDumps, 2), model: 'gpt-4o' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(client.chat.completions.create({ ...greedy(jsonDumps, 2), messages: tooLong.messages as OpenAI.ChatCompletionMessageParam[] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);

    const completion = await client.chat.completions.create(greedy(jsonDumps, 3));
    expect(completion.choices[0].message.content).toBe(engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, 3)));
    engine.verifyKvCache();
  });

  it('lists its model and reports its health', async () => {
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual([MODEL]);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'lean-decode' });
    const health = await fetch(`${baseURL.replace('/v1', '')}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', model: MODEL });
  });
});

describe('chat.completions.create in-process', () => {
  it('takes the attention kernel per request and reports timings, without changing the loaded kernel', async () => {
    const loaded = engine.model!.attention;
    const completion = await api.chat.completions.create({ ...greedy(jsonDumps, 8), lean_decode: { attention: 'fa2', timings: true } });
    expect(completion.choices[0].message.content).toBe(engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, 8)));
    expect(completion.lean_decode).toMatchObject({ attention: 'fa2', prompt_tokens_reused: 0 });
    expect(completion.lean_decode!.steps).toHaveLength(7);
    expect(completion.lean_decode!.prefill_ms).toBeGreaterThan(0);
    expect(engine.model!.attention).toBe(loaded);
  });

  it('streams the timings with the tokens: each chunk holds the steps since the one before', async () => {
    const stream = await api.chat.completions.create({ ...greedy(jsonDumps, 8), stream: true, lean_decode: { timings: true } });
    const stepsPerChunk: number[] = [];
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) stepsPerChunk.push(chunk.lean_decode!.steps.length);
      else if (chunk.choices[0]?.finish_reason) stepsPerChunk.push(chunk.lean_decode!.steps.length);
    }
    // Token 0 comes from the prefill; each later token's step arrives with its own text.
    expect(stepsPerChunk.reduce((a, b) => a + b, 0)).toBe(7);
    expect(stepsPerChunk.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('reuses the KV of a conversation across turns', async () => {
    const conversation = engine.newConversation();
    try {
      const first = await api.chat.completions.create({ ...greedy(jsonDumps, 4), lean_decode: { conversation } });
      const messages = [...jsonDumps.messages!, { role: 'assistant' as const, content: first.choices[0].message.content! }, { role: 'user' as const, content: 'Hello' }];
      const second = await api.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 2, lean_decode: { conversation, timings: true } });
      expect(second.lean_decode!.prompt_tokens_reused).toBeGreaterThanOrEqual(jsonDumps.prompt_ids.length);
    } finally {
      engine.endConversation(conversation);
    }
    engine.verifyKvCache();
  });
});

describe('the README examples, run as written', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  // The OpenAI section and the structured output section after it.
  const section = readme.slice(readme.indexOf('## OpenAI-compatible API'), readme.indexOf('## How it works'));
  const blocks = [...section.matchAll(/```(ts|sh)\n([\s\S]*?)```/g)].map(([, language, code]) => ({ language, code }));
  const block = (language: string, marker: string) => {
    const found = blocks.find((b) => b.language === language && b.code.includes(marker));
    if (!found) throw new Error(`README.md's OpenAI section has no ${language} block with ${marker}`);
    return found.code;
  };
  const examplesUrl = 'http://127.0.0.1:8080/v1';
  const greedyText = (tokens: number) => engine.tokenizer.decode(jsonDumps.greedy_ids.slice(0, tokens));

  /** Runs a TypeScript block as a module (imports from the repository made absolute, the server's URL this test's); what it logs. */
  async function runTypeScript(name: string, code: string): Promise<unknown[]> {
    const directory = join(root, 'test-results', 'readme-examples');
    mkdirSync(directory, { recursive: true });
    const file = join(directory, `${name}.ts`);
    writeFileSync(file, code.replaceAll("from './", `from '${root}/`).replaceAll(examplesUrl, baseURL));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ `${file}?${Date.now()}`);
      return log.mock.calls.map(([first]) => first);
    } finally {
      log.mockRestore();
    }
  }

  it('the in-process example', async () => {
    const full = referenceAnswer(jsonDumps).content;
    expect(await runTypeScript('inProcess', block('ts', 'new OpenAIEngine'))).toEqual([greedyText(12), full.slice(0, full.indexOf(', ensure'))]);
  });

  it('the openai client example', async () => {
    expect(await runTypeScript('openaiClient', block('ts', "from 'openai'"))).toEqual([greedyText(12)]);
  });

  it('the structured output examples', async () => {
    const [answer] = await runTypeScript('structuredInProcess', block('ts', "type: 'json_schema'"));
    expectValidJson(JSON.stringify(answer), DOC_SCHEMA);
    const [object] = await runTypeScript('structuredClient', block('ts', "type: 'json_object'"));
    expect(object).toBeTypeOf('object');
  });

  it('the curl examples', async () => {
    const { stdout } = await promisify(execFile)('sh', ['-c', block('sh', 'curl').replaceAll(examplesUrl, baseURL)]);
    const [json, ...events] = stdout.split(/(?=data: )/);
    expect(JSON.parse(json).choices[0].message.content).toBe(greedyText(12));
    expect(events.at(-1)).toBe('data: [DONE]\n\n');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.slice('data: '.length)) as OpenAI.ChatCompletionChunk);
    expect(chunks.at(-1)!.choices[0].finish_reason).not.toBeNull();
  });

  it('the serve command: listens where it says, answers, and ends on SIGTERM', async () => {
    const command = block('sh', 'lean-decode serve').split('\n')[0].replace(/#.*/, '').trim();
    expect(command).toBe('npx lean-decode serve');
    const child = spawn(process.execPath, ['bin/lean-decode.mjs', 'serve', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data));
    const exited = new Promise<number | null>((done) => child.on('exit', done));
    try {
      const url = await new Promise<string>((found, fail) => {
        let stdout = '';
        child.stdout.on('data', (data: Buffer) => {
          stdout += data;
          const match = /serving pydoc-chat-6m at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(stdout);
          if (match) found(match[1]);
        });
        exited.then((code) => fail(new Error(`serve exited (${code}) before listening: ${stderr}`)));
      });
      const health = await fetch(url.replace('/v1', '/health'));
      expect(await health.json()).toMatchObject({ status: 'ok', model: MODEL });
      const models = await new OpenAI({ baseURL: url, apiKey: 'unused' }).models.list();
      expect(models.data[0].id).toBe(MODEL);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
