import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../kernels/gpu/seededRandom.ts';
import { parseToolCalls, ToolCallParser, toolCallSyntaxOf, type GenerationEnd, type ToolCallEvent, type ToolCallParserOptions, type ToolCallSyntax } from './toolCalls.ts';

const NAMES = ['get_weather', 'get_time', 'noop'];

function options(syntax: ToolCallSyntax, extra: Partial<ToolCallParserOptions> = {}): ToolCallParserOptions {
  let n = 0;
  return { syntax, functionNames: NAMES, newId: () => `call_${n++}`, ...extra };
}

/** The answer as parseToolCalls reads it, with the calls' ids and indices left out. */
function parse(syntax: ToolCallSyntax, text: string, reason: GenerationEnd = 'stop', extra: Partial<ToolCallParserOptions> = {}) {
  const { content, calls } = parseToolCalls(text, reason, options(syntax, extra));
  return { content, calls: calls.map(({ name, arguments: args }) => ({ name, arguments: args })) };
}

/** The parser's events for `text` fed in `pieces`, merged as a client merges a stream. */
function streamed(syntax: ToolCallSyntax, pieces: string[], reason: GenerationEnd = 'stop', extra: Partial<ToolCallParserOptions> = {}) {
  const parser = new ToolCallParser(options(syntax, extra));
  const events: ToolCallEvent[] = [...pieces.flatMap((piece) => parser.push(piece)), ...parser.end(reason)];
  const content = events.flatMap((e) => (e.kind === 'content' ? [e.text] : [])).join('');
  const calls = events.flatMap((e) => (e.kind === 'call' ? [{ name: e.call.name, arguments: e.call.arguments }] : []));
  return { content: content === '' && calls.length > 0 ? null : content, calls, events };
}

/** `text` cut at random places (several pieces per character at most). */
function randomPieces(text: string, seed: number): string[] {
  const random = seededRandom(seed);
  const pieces: string[] = [];
  for (let at = 0; at < text.length; ) {
    const length = 1 + Math.floor(random() * 6);
    pieces.push(text.slice(at, at + length));
    at += length;
  }
  return pieces;
}

const weather = { name: 'get_weather', arguments: '{"location": "Paris", "unit": "celsius"}' };

const HERMES_CASES: [string, string, GenerationEnd, { content: string | null; calls: { name: string; arguments: string }[] }][] = [
  ['one call, nothing else', '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>', 'stop', { content: null, calls: [weather] }],
  [
    'two calls, whitespace between them dropped',
    '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>\n',
    'stop',
    { content: null, calls: [weather, { name: 'get_time', arguments: '{"zone": "CET"}' }] },
  ],
  [
    'text before a call stays content',
    'Let me look that up.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>',
    'stop',
    { content: 'Let me look that up.', calls: [weather] },
  ],
  [
    'text after a call stays content',
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\nThen I will answer.',
    'stop',
    { content: 'Then I will answer.', calls: [{ name: 'get_time', arguments: '{}' }] },
  ],
  ['no call: the text as it is, whitespace and all', '  The weather is fine.\n\n', 'stop', { content: '  The weather is fine.\n\n', calls: [] }],
  ['a call without arguments takes {}', '<tool_call>\n{"name": "noop"}\n</tool_call>', 'stop', { content: null, calls: [{ name: 'noop', arguments: '{}' }] }],
  [
    'arguments written as a JSON string of an object',
    '<tool_call>\n{"name": "get_time", "arguments": "{\\"zone\\": \\"UTC\\"}"}\n</tool_call>',
    'stop',
    { content: null, calls: [{ name: 'get_time', arguments: '{"zone": "UTC"}' }] },
  ],
  ['the arguments keep the model\'s own spacing and numbers', '<tool_call>{"name":"get_time","arguments":{"offset":1.0,"tags":["a","b"]}}</tool_call>', 'stop', { content: null, calls: [{ name: 'get_time', arguments: '{"offset":1.0,"tags":["a","b"]}' }] }],
  [
    'a string argument holding braces and an escaped quote',
    '<tool_call>\n{"name": "get_time", "arguments": {"zone": "}{\\"", "x": 1}}\n</tool_call>',
    'stop',
    { content: null, calls: [{ name: 'get_time', arguments: '{"zone": "}{\\"", "x": 1}' }] },
  ],
  ['the closing marker missing at end-of-sequence: the whole call is made', '<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n', 'stop', { content: null, calls: [{ name: 'get_time', arguments: '{"zone": "CET"}' }] }],
  // Malformed output stays text: never a call that was not made.
  ['cut off by max_tokens: finish length and the text as content', 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"loca', 'length', { content: 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"loca', calls: [] }],
  ['whole JSON but no closing marker at max_tokens: still text', '<tool_call>\n{"name": "get_time", "arguments": {}}', 'length', { content: '<tool_call>\n{"name": "get_time", "arguments": {}}', calls: [] }],
  [
    'one complete call, then one cut off by max_tokens',
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "get_weather", "argu',
    'length',
    { content: '<tool_call>\n{"name": "get_weather", "argu', calls: [{ name: 'get_time', arguments: '{}' }] },
  ],
  ['JSON that does not parse', '<tool_call>\n{"name": "get_time", "arguments": {zone: CET}}\n</tool_call>', 'stop', { content: '<tool_call>\n{"name": "get_time", "arguments": {zone: CET}}\n</tool_call>', calls: [] }],
  ['an undeclared function', '<tool_call>\n{"name": "rm_rf", "arguments": {}}\n</tool_call>', 'stop', { content: '<tool_call>\n{"name": "rm_rf", "arguments": {}}\n</tool_call>', calls: [] }],
  ['arguments that are not an object', '<tool_call>\n{"name": "get_time", "arguments": [1, 2]}\n</tool_call>', 'stop', { content: '<tool_call>\n{"name": "get_time", "arguments": [1, 2]}\n</tool_call>', calls: [] }],
  ['no name', '<tool_call>\n{"arguments": {}}\n</tool_call>', 'stop', { content: '<tool_call>\n{"arguments": {}}\n</tool_call>', calls: [] }],
  ['an unfinished marker at the end is text', 'Sure <tool_ca', 'stop', { content: 'Sure <tool_ca', calls: [] }],
  ['a marker-like word is text', 'The tag <tool> is not <tool_call', 'stop', { content: 'The tag <tool> is not <tool_call', calls: [] }],
  [
    'a malformed call, then a good one',
    '<tool_call>\n{"name": "get_time", "arguments": {}\n</tool_call>\n<tool_call>\n{"name": "noop", "arguments": {}}\n</tool_call>',
    'stop',
    { content: '<tool_call>\n{"name": "get_time", "arguments": {}\n</tool_call>', calls: [{ name: 'noop', arguments: '{}' }] },
  ],
];

const LLAMA_CASES: typeof HERMES_CASES = [
  ['the whole answer is the call', '{"name": "get_weather", "parameters": {"location": "Paris", "unit": "celsius"}}', 'stop', { content: null, calls: [weather] }],
  ['leading whitespace, and "arguments" for "parameters"', '\n {"name": "get_time", "arguments": {"zone": "CET"}}', 'stop', { content: null, calls: [{ name: 'get_time', arguments: '{"zone": "CET"}' }] }],
  ['after <|python_tag|>', '<|python_tag|>{"name": "get_time", "parameters": {}}', 'stop', { content: null, calls: [{ name: 'get_time', arguments: '{}' }] }],
  ['text, then <|python_tag|> and a call', 'I will check.<|python_tag|>{"name": "get_time", "parameters": {}}', 'stop', { content: 'I will check.', calls: [{ name: 'get_time', arguments: '{}' }] }],
  [
    'two calls joined by ;',
    '{"name": "get_time", "parameters": {}}; {"name": "get_weather", "parameters": {"location": "Paris", "unit": "celsius"}}',
    'stop',
    { content: null, calls: [{ name: 'get_time', arguments: '{}' }, weather] },
  ],
  ['prose is content', 'It is sunny in Paris.', 'stop', { content: 'It is sunny in Paris.', calls: [] }],
  ['prose then JSON: no bare call after text', 'Answer: {"name": "get_time", "parameters": {}}', 'stop', { content: 'Answer: {"name": "get_time", "parameters": {}}', calls: [] }],
  ['JSON that is not a call is content', '{"answer": 42}', 'stop', { content: '{"answer": 42}', calls: [] }],
  ['an undeclared function is content', '{"name": "format_disk", "parameters": {}}', 'stop', { content: '{"name": "format_disk", "parameters": {}}', calls: [] }],
  ['cut off by max_tokens', '{"name": "get_weather", "parameters": {"location": "Pa', 'length', { content: '{"name": "get_weather", "parameters": {"location": "Pa', calls: [] }],
  ['cut off after <|python_tag|>', 'Checking<|python_tag|>{"name": "get_time", "para', 'length', { content: 'Checking<|python_tag|>{"name": "get_time", "para', calls: [] }],
  ['a built-in tool call after <|python_tag|> is text', '<|python_tag|>brave_search.call(query="x")', 'stop', { content: '<|python_tag|>brave_search.call(query="x")', calls: [] }],
];

describe.each([
  ['hermes', HERMES_CASES],
  ['llama3-json', LLAMA_CASES],
] as const)('%s tool calls', (syntax, cases) => {
  it.each(cases)('%s', (_, text, reason, expected) => {
    expect(parse(syntax, text, reason)).toEqual(expected);
  });

  it.each(cases)('%s: streamed one character at a time and in random pieces, the same answer', (_, text, reason, expected) => {
    expect(streamed(syntax, [...text], reason)).toMatchObject(expected);
    for (const seed of [1, 2, 3]) expect(streamed(syntax, randomPieces(text, seed), reason)).toMatchObject(expected);
  });
});

describe('ToolCallParser', () => {
  it('holds back text that may begin a call, and hands out text that cannot', () => {
    const parser = new ToolCallParser(options('hermes'));
    expect(parser.push('The answer')).toEqual([{ kind: 'content', text: 'The answer' }]);
    expect(parser.push(' is <tool')).toEqual([{ kind: 'content', text: ' is' }]);
    expect(parser.push('box>')).toEqual([{ kind: 'content', text: ' <toolbox>' }]);
    expect(parser.push('\n<tool_call>\n{"name": "noop", ')).toEqual([]);
    expect(parser.push('"arguments": {}}\n</tool_call>')).toEqual([{ kind: 'call', call: { index: 0, id: 'call_0', name: 'noop', arguments: '{}' } }]);
    expect(parser.end('stop')).toEqual([]);
  });

  it('numbers calls from 0 with a fresh id each, ids unique by default', () => {
    const text = '<tool_call>{"name": "noop"}</tool_call><tool_call>{"name": "get_time"}</tool_call>';
    const { calls } = parseToolCalls(text, 'stop', { syntax: 'hermes', functionNames: NAMES });
    expect(calls.map((call) => call.index)).toEqual([0, 1]);
    expect(calls[0].id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(calls[0].id).not.toBe(calls[1].id);
  });

  it('with maxCalls 1 the answer ends at the first call: the rest is not read', () => {
    const parser = new ToolCallParser(options('hermes', { maxCalls: 1 }));
    const events = parser.push('<tool_call>{"name": "noop"}</tool_call>\n<tool_call>{"name": "get_time"}</tool_call> more');
    expect(events).toHaveLength(1);
    expect(parser.finished).toBe(true);
    expect(parser.push('text')).toEqual([]);
    expect(parser.end('stop')).toEqual([]);
  });
});

describe('toolCallSyntaxOf', () => {
  it.each([
    ['a Qwen2.5 / Hermes template', "{%- if tools %}{{- tool | tojson }}{%- endif %}{{- '\\n<tool_call>\\n{\"name\": \"' }}", 'hermes'],
    ['a Llama 3 template', '{%- if tools is not none %}<|start_header_id|>{{- \'"parameters": \' }}{%- endif %}', 'llama3-json'],
    ['a template without tools', "{% for message in messages %}{{'<|im_start|>' + message['role'] }}{% endfor %}", undefined],
    ['a template with tools in another syntax (Mistral)', '{%- if tools %}[AVAILABLE_TOOLS]{{ tools|tojson }}[/AVAILABLE_TOOLS]{%- endif %}[TOOL_CALLS]', undefined],
  ])('%s', (_, source, expected) => {
    expect(toolCallSyntaxOf(source)).toBe(expected);
  });
});
