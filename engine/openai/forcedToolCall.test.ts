import { describe, expect, it } from 'vitest';
import { forcedToolCallGrammar, pythonJson } from './forcedToolCall.ts';

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
  },
};
const noop = { type: 'function' as const, function: { name: 'noop' } };

describe('forcedToolCallGrammar', () => {
  it('forces nothing for auto and none', () => {
    expect(forcedToolCallGrammar([weather], 'auto', 'hermes', true)).toBeUndefined();
    expect(forcedToolCallGrammar([weather], 'none', 'llama3-json', true)).toBeUndefined();
  });

  it('llama3-json: a JSON Schema of the one call, {"name", "parameters"}, among the functions allowed', () => {
    const call = (name: string, parameters: unknown) => ({ type: 'object', properties: { name: { const: name }, parameters }, required: ['name', 'parameters'], additionalProperties: false });
    expect(forcedToolCallGrammar([weather, noop], 'required', 'llama3-json', true)).toEqual({
      kind: 'json_schema',
      schema: { anyOf: [call('get_weather', weather.function.parameters), call('noop', { type: 'object', properties: {} })] },
    });
    expect(forcedToolCallGrammar([weather, noop], { type: 'function', function: { name: 'noop' } }, 'llama3-json', true)).toEqual({
      kind: 'json_schema',
      schema: call('noop', { type: 'object', properties: {} }),
    });
  });

  // Checked with @mlc-ai/web-xgrammar 0.1.27 (Grammar.fromEBNF and Testings.isGrammarAcceptString): it compiles,
  // accepts calls as the template writes them and refuses a missing required member, members out of order, an
  // enum value not listed, an undeclared function and text before the call.
  it('hermes: an EBNF grammar of <tool_call> blocks, the JSON spaced as json.dumps, required members always there', () => {
    const grammar = forcedToolCallGrammar([weather, noop], 'required', 'hermes', true);
    expect(grammar).toEqual({
      kind: 'ebnf',
      ebnf: expect.stringMatching(/^root ::= call \("\\n" call\)\*\ncall ::= /),
    });
    const ebnf = grammar?.kind === 'ebnf' ? grammar.ebnf : '';
    expect(ebnf).toContain(
      'call ::= "<tool_call>\\n" ("{\\"name\\": \\"get_weather\\", \\"arguments\\": " ("{" object0_from0 "}") "}" | "{\\"name\\": \\"noop\\", \\"arguments\\": " "{}" "}") "\\n</tool_call>"',
    );
    expect(ebnf).toContain('object0_from0 ::= "\\"location\\": " string (", " "\\"unit\\": " ("\\"celsius\\"" | "\\"fahrenheit\\""))?\n');
    expect(ebnf).toContain('string ::= "\\"" char* "\\""');
  });

  it('hermes: a named function, and one call only without parallel_tool_calls', () => {
    const grammar = forcedToolCallGrammar([weather, noop], { type: 'function', function: { name: 'noop' } }, 'hermes', false);
    const ebnf = grammar?.kind === 'ebnf' ? grammar.ebnf : '';
    expect(ebnf).toMatch(/^root ::= call\ncall ::= "<tool_call>\\n" \("\{\\"name\\": \\"noop\\", \\"arguments\\": " "\{\}" "\}"\) "\\n<\/tool_call>"\n/);
    expect(ebnf).not.toContain('get_weather');
  });

  it('hermes: optional members may all be left out; a later one may come first when the earlier are', () => {
    const tool = { type: 'function' as const, function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'boolean' }, b: { type: 'integer' } } } } };
    const grammar = forcedToolCallGrammar([tool], 'required', 'hermes', false);
    const ebnf = grammar?.kind === 'ebnf' ? grammar.ebnf : '';
    expect(ebnf).toContain('("{" object0_from0? "}")');
    expect(ebnf).toContain('object0_from0 ::= "\\"a\\": " ("true" | "false") (", " "\\"b\\": " integer)? | object0_from1\n');
    expect(ebnf).toContain('object0_from1 ::= "\\"b\\": " integer\n');
  });

  it('pythonJson writes as json.dumps', () => {
    expect(pythonJson({ a: [1, 'é', null], b: { c: true } })).toBe('{"a": [1, "é", null], "b": {"c": true}}');
  });
});
