import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { blobModelFiles } from './loader/blobFiles.ts';
import { nodeModelFiles } from './loader/nodeFiles.ts';
import { templateMessages, templateTools } from './openai/templateInput.ts';
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from './openai/types.ts';
import { StreamingDecoder, TextCodec, type ChatMessage } from './tokenizer.ts';
import { referenceModel } from '../test/sharedModels.ts';

describe('StreamingDecoder', () => {
  it.each(['tiny-llama', 'tiny-qwen2-f16', 'pydoc-chat-6m'])('%s: pieces add up to the full decode and never end in half a character', async (name) => {
    const model = referenceModel(name);
    const codec = await TextCodec.load(nodeModelFiles(model.directory));
    for (const testCase of model.cases) {
      const decoder = new StreamingDecoder(codec);
      const pieces = testCase.greedy_ids.map((id) => decoder.push(id));
      for (const piece of pieces) expect(piece.endsWith('\uFFFD')).toBe(false);
      expect(pieces.join('') + decoder.flush()).toBe(testCase.greedy_text);
    }
  });

  it('holds back the bytes of a character split across tokens until it is whole', async () => {
    const codec = await TextCodec.load(nodeModelFiles(referenceModel('tiny-llama').directory));
    // Byte-level BPE with a 512-token vocabulary: "€" (three UTF-8 bytes) is several tokens.
    const ids = codec.encode('€');
    expect(ids.length).toBeGreaterThan(1);
    const decoder = new StreamingDecoder(codec);
    const pieces = ids.map((id) => decoder.push(id));
    expect(pieces.slice(0, -1).every((piece) => piece === '')).toBe(true);
    expect(pieces.at(-1)).toBe('€');
  });
});

/** tiny-llama's tokenizer files, with `files` added or replacing them. */
function tokenizerFolder(files: Record<string, string>) {
  const directory = referenceModel('tiny-llama').directory;
  const folder = new Map<string, Blob>(['tokenizer.json', 'tokenizer_config.json'].map((path) => [path, new Blob([readFileSync(join(directory, path))])]));
  for (const [path, contents] of Object.entries(files)) folder.set(path, new Blob([contents]));
  return blobModelFiles('the model', folder);
}

describe('chat templates', () => {
  async function loadError(files: Record<string, string>): Promise<{ code?: string; message: string }> {
    return TextCodec.load(tokenizerFolder(files)).then(
      () => ({ message: 'loaded' }),
      (error: { code?: string; message: string }) => error,
    );
  }

  it.each([
    ['chat_template.jinja', { 'chat_template.jinja': '{% for message in messages %}{{ message' }],
    ['tokenizer_config.json', { 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', chat_template: '{% if %}' }) }],
  ])('a template that is not Jinja is an error naming %s', async (file, files) => {
    const error = await loadError(files);
    expect(error.code).toBe('invalid-tokenizer');
    expect(error.message).toMatch(new RegExp(`^${file.replace('.', '\\.')}: the chat template is not a valid Jinja template`));
  });

  it('a template that fails while rendering is an error naming its file', async () => {
    const codec = await TextCodec.load(tokenizerFolder({ 'chat_template.jinja': '{{ messages[0].content.nothing() }}' }));
    let error: { code?: string; message: string } | undefined;
    try {
      codec.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    } catch (caught) {
      error = caught as { code?: string; message: string };
    }
    expect(error?.code).toBe('invalid-tokenizer');
    expect(error?.message).toMatch(/^chat_template\.jinja: the chat template failed/);
  });
});

/*
 * Tools through real templates, as Hugging Face's `apply_chat_template(messages, tools=tools,
 * add_generation_prompt=True)` renders them: the OpenAI request goes through templateMessages/templateTools as the
 * engine sends it. Templates: Qwen2.5-7B-Instruct's (as @huggingface/jinja's tests carry it) and
 * Llama-3.2-3B-Instruct's (as llama.cpp's models/templates/ keeps it), in test/fixtures/templates/.
 */
describe('tools through chat templates', () => {
  const templates = join(import.meta.dirname, '..', 'test', 'fixtures', 'templates');
  const QWEN = readFileSync(join(templates, 'Qwen-Qwen2.5-7B-Instruct.jinja'), 'utf8');
  const LLAMA = readFileSync(join(templates, 'meta-llama-Llama-3.2-3B-Instruct.jinja'), 'utf8');

  async function codecWith(template: string, special: Record<string, string> = {}) {
    return TextCodec.load(tokenizerFolder({ 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', ...special, chat_template: template }) }));
  }

  function render(codec: TextCodec, request: Pick<ChatCompletionCreateParams, 'messages' | 'tools' | 'tool_choice'>) {
    const params = { model: 'm', ...request } as ChatCompletionCreateParams;
    return codec.applyChatTemplate(templateMessages(params.messages), templateTools(params));
  }

  const temperatureTool = {
    type: 'function' as const,
    function: {
      name: 'get_current_temperature',
      description: 'Get the current temperature at a location.',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The location to get the temperature for, in the format "City, Country"' },
          unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  };

  it("Qwen2.5: a prompt Hugging Face's transformers rendered (captured from a vLLM server), character for character", async () => {
    // From a public write-up of Qwen2.5-7B-Instruct behind vLLM: "the exact string fed to the model (captured from
    // the running server)", which vLLM renders with transformers' apply_chat_template.
    const expected =
      '<|im_start|>system\nYou are a Search Agent.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
      '{"type": "function", "function": {"name": "execute_python", "description": "Run python", "parameters": {"type": "object", "properties": {"thought": {"type": "string"}, "code": {"type": "string"}}, "required": ["thought", "code"]}}}\n' +
      '</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\nCompute 17*23 with python.<|im_end|>\n<|im_start|>assistant\n';
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'execute_python',
          description: 'Run python',
          parameters: { type: 'object', properties: { thought: { type: 'string' }, code: { type: 'string' } }, required: ['thought', 'code'] },
        },
      },
    ];
    const messages = [
      { role: 'system' as const, content: 'You are a Search Agent.' },
      { role: 'user' as const, content: 'Compute 17*23 with python.' },
    ];
    expect(render(await codecWith(QWEN), { messages, tools })).toBe(expected);
  });

  it('Qwen2.5: earlier calls (arguments as OpenAI sends them, JSON text) and tool results, as @huggingface/jinja renders them', async () => {
    // The case of @huggingface/jinja's e2e test of this template, sent the OpenAI way: arguments as JSON text
    // (compact here, printed by the template as json.dumps spaces them), and tool results with tool_call_id.
    const location = { location: { type: 'string', description: 'The location to get the temperature for, in the format "City, State, Country".' } };
    const unit = { unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'The unit to return the temperature in. Defaults to "celsius".' } };
    const date = { date: { type: 'string', description: 'The date to get the temperature for, in the format "Year-Month-Day".' } };
    const tools = [
      { type: 'function' as const, function: { name: 'get_current_temperature', description: 'Get current temperature at a location.', parameters: { type: 'object', properties: { ...location, ...unit }, required: ['location'] } } },
      { type: 'function' as const, function: { name: 'get_temperature_date', description: 'Get temperature at a location and date.', parameters: { type: 'object', properties: { ...location, ...date, ...unit }, required: ['location', 'date'] } } },
    ];
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\nCurrent Date: 2024-09-30' },
      { role: 'user', content: "What's the temperature in San Francisco now? How about tomorrow?" },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_current_temperature', arguments: '{"location":"San Francisco, CA, USA"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_temperature_date', arguments: '{"location":"San Francisco, CA, USA","date":"2024-10-01"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 26.1, "location": "San Francisco, CA, USA", "unit": "celsius"}' },
      { role: 'tool', tool_call_id: 'call_2', content: '{"temperature": 25.9, "location": "San Francisco, CA, USA", "date": "2024-10-01", "unit": "celsius"}' },
    ];
    const expected =
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\nCurrent Date: 2024-09-30\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{"type": "function", "function": {"name": "get_current_temperature", "description": "Get current temperature at a location.", "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "The location to get the temperature for, in the format \\"City, State, Country\\"."}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "The unit to return the temperature in. Defaults to \\"celsius\\"."}}, "required": ["location"]}}}\n{"type": "function", "function": {"name": "get_temperature_date", "description": "Get temperature at a location and date.", "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "The location to get the temperature for, in the format \\"City, State, Country\\"."}, "date": {"type": "string", "description": "The date to get the temperature for, in the format \\"Year-Month-Day\\"."}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "The unit to return the temperature in. Defaults to \\"celsius\\"."}}, "required": ["location", "date"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWhat\'s the temperature in San Francisco now? How about tomorrow?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": "San Francisco, CA, USA"}}\n</tool_call>\n<tool_call>\n{"name": "get_temperature_date", "arguments": {"location": "San Francisco, CA, USA", "date": "2024-10-01"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{"temperature": 26.1, "location": "San Francisco, CA, USA", "unit": "celsius"}\n</tool_response>\n<tool_response>\n{"temperature": 25.9, "location": "San Francisco, CA, USA", "date": "2024-10-01", "unit": "celsius"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n';
    expect(render(await codecWith(QWEN), { messages, tools })).toBe(expected);
  });

  it("Qwen2.5: tool_choice 'none' leaves the tools out, and without tools the template is as before", async () => {
    const codec = await codecWith(QWEN);
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    const plain = '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(render(codec, { messages })).toBe(plain);
    expect(render(codec, { messages, tools: [temperatureTool], tool_choice: 'none' })).toBe(plain);
  });

  describe('Llama 3.2, on 26 July 2024', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date(2024, 6, 26, 12));
    });
    afterEach(() => vi.useRealTimers());

    // Derived by hand from the template and Python's json.dumps(indent=4) (separators "," and ": " with an indent):
    // the tools go into the first user message (tools_in_user_message defaults to true), the date is strftime_now's
    // "%d %b %Y" in the C locale.
    const header = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
    const toolJson = [
      '{',
      '    "type": "function",',
      '    "function": {',
      '        "name": "get_current_temperature",',
      '        "description": "Get the current temperature at a location.",',
      '        "parameters": {',
      '            "type": "object",',
      '            "properties": {',
      '                "location": {',
      '                    "type": "string",',
      '                    "description": "The location to get the temperature for, in the format \\"City, Country\\""',
      '                },',
      '                "unit": {',
      '                    "type": "string",',
      '                    "enum": [',
      '                        "celsius",',
      '                        "fahrenheit"',
      '                    ]',
      '                }',
      '            },',
      '            "required": [',
      '                "location"',
      '            ]',
      '        }',
      '    }',
      '}',
    ].join('\n');
    const prompt =
      '<|begin_of_text|>' +
      header('system') +
      'Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a bot that responds to weather queries.<|eot_id|>' +
      header('user') +
      'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n' +
      'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n' +
      toolJson +
      "\n\nHey, what's the temperature in Paris right now?<|eot_id|>";
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a bot that responds to weather queries.' },
      { role: 'user', content: "Hey, what's the temperature in Paris right now?" },
    ];

    it('the tools in the first user message, indented as json.dumps(indent=4)', async () => {
      const codec = await codecWith(LLAMA, { bos_token: '<|begin_of_text|>' });
      expect(render(codec, { messages, tools: [temperatureTool] })).toBe(prompt + header('assistant'));
    });

    it("an earlier call as {\"name\", \"parameters\"} and its result as ipython's JSON string", async () => {
      const codec = await codecWith(LLAMA, { bos_token: '<|begin_of_text|>' });
      const history: ChatCompletionMessageParam[] = [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_current_temperature', arguments: '{"location":"Paris, France","unit":"celsius"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '22.0' },
      ];
      // A string is iterable in Jinja, so the template prints the result with tojson: quoted.
      const expected =
        prompt +
        header('assistant') +
        '{"name": "get_current_temperature", "parameters": {"location": "Paris, France", "unit": "celsius"}}<|eot_id|>' +
        header('ipython') +
        '"22.0"<|eot_id|>' +
        header('assistant');
      expect(render(codec, { messages: history, tools: [temperatureTool] })).toBe(expected);
    });
  });

  it('tojson prints as json.dumps: ", " and ": ", non-ASCII as is, escapes as JSON, indent with "," and ": "', async () => {
    const codec = await codecWith("{{ messages[0].x | tojson }}|{{ messages[0].x | tojson(indent=2) }}|{{ messages[0].e | tojson }}|{{ messages[0].a | tojson(indent=2) }}");
    const message = { role: 'user', content: '', x: { a: [1, 2.5, 'é"\\\n'], b: { c: null, d: true } }, e: {}, a: [] } as unknown as ChatMessage;
    expect(codec.applyChatTemplate([message])).toBe(
      '{"a": [1, 2.5, "é\\"\\\\\\n"], "b": {"c": null, "d": true}}|{\n  "a": [\n    1,\n    2.5,\n    "é\\"\\\\\\n"\n  ],\n  "b": {\n    "c": null,\n    "d": true\n  }\n}|{}|[]',
    );
  });

  it('a list of named templates: tool_use when tools are given, default otherwise (as Hugging Face picks)', async () => {
    const chat_template = [
      { name: 'default', template: 'default:{{ messages[0].content }}' },
      { name: 'tool_use', template: 'tool_use:{{ tools[0].function.name }}:{{ messages[0].content }}' },
    ];
    const codec = await TextCodec.load(tokenizerFolder({ 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', chat_template }) }));
    const messages = [{ role: 'user' as const, content: 'hi' }];
    expect(codec.applyChatTemplate(messages)).toBe('default:hi');
    expect(codec.applyChatTemplate(messages, [temperatureTool])).toBe('tool_use:get_current_temperature:hi');
    expect(codec.chatTemplateSource(true)).toContain('tool_use:');
    expect(codec.chatTemplateSource(false)).toContain('default:');
  });

  it('a list of templates without a default is an error naming the file and the templates', async () => {
    const chat_template = [{ name: 'tool_use', template: '{{ tools | length }}' }];
    const codec = await TextCodec.load(tokenizerFolder({ 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', chat_template }) }));
    expect(() => codec.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/^tokenizer_config\.json: the chat templates \(tool_use\) include no "default"/);
    expect(codec.applyChatTemplate([{ role: 'user', content: 'hi' }], [temperatureTool])).toBe('1');
  });
});
