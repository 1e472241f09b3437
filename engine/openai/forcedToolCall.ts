import type { TemplateTool } from '../tokenizer.ts';
import type { ToolCallSyntax } from './toolCalls.ts';
import type { ChatCompletionToolChoiceOption, JsonSchema } from './types.ts';

/*
 * What the answer must be when tool_choice forces a call (`required`, or a named function): the constraint the
 * grammar engine masks the tokens with, so the model can only write a call, in its template's syntax, to a function
 * it may call, with arguments its parameters schema accepts.
 * - llama3-json: the whole answer is the call, `{"name": "f", "parameters": {...}}`: a JSON Schema.
 * - hermes: `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>`, one or (parallel) several, joined by
 *   "\n": an EBNF grammar (XGrammar's dialect, root rule `root`), the JSON written as the template writes it
 *   (Python's json.dumps spacing, `", "` and `": "`, on one line).
 * The EBNF follows the parts of JSON Schema that tool parameters use: `type` (one or a list), `properties` with
 * `required` (in the order declared; no other keys), `items`, `enum`, `const`, `anyOf`/`oneOf`. Anything else
 * (`$ref`, `pattern`, lengths and ranges, `allOf`) constrains nothing here: such a value may be any JSON of the
 * type given. The JSON Schema of the Llama form goes to the grammar engine whole.
 */

export type ToolCallGrammar = { kind: 'json_schema'; schema: JsonSchema } | { kind: 'ebnf'; ebnf: string };

const EMPTY_PARAMETERS: JsonSchema = { type: 'object', properties: {} };

/**
 * The grammar of a forced call, or undefined when the choice forces none (`auto`, `none`). `parallel`: whether the
 * answer may hold several calls (hermes only: Llama 3's templates take one call per turn).
 */
export function forcedToolCallGrammar(tools: readonly TemplateTool[], choice: ChatCompletionToolChoiceOption, syntax: ToolCallSyntax, parallel: boolean): ToolCallGrammar | undefined {
  if (choice === 'auto' || choice === 'none') return undefined;
  const callable = typeof choice === 'object' ? tools.filter((tool) => tool.function.name === choice.function.name) : tools;
  const functions = callable.map((tool) => ({ name: tool.function.name, parameters: tool.function.parameters ?? EMPTY_PARAMETERS }));
  if (syntax === 'llama3-json') {
    const calls = functions.map(({ name, parameters }) => ({
      type: 'object',
      properties: { name: { const: name }, parameters },
      required: ['name', 'parameters'],
      additionalProperties: false,
    }));
    return { kind: 'json_schema', schema: calls.length === 1 ? calls[0] : { anyOf: calls } };
  }
  const grammar = new EbnfGrammar();
  const bodies = functions.map(({ name, parameters }) => `${literal(`{"name": ${pythonJson(name)}, "arguments": `)} ${grammar.value(parameters)} "}"`);
  grammar.define('call', `${literal('<tool_call>\n')} (${bodies.join(' | ')}) ${literal('\n</tool_call>')}`);
  grammar.define('root', parallel ? `call (${literal('\n')} call)*` : 'call');
  return { kind: 'ebnf', ebnf: grammar.text() };
}

/** An EBNF string literal (JSON's escapes are XGrammar's). */
function literal(text: string): string {
  return JSON.stringify(text);
}

/** JSON as Python's json.dumps writes it (`", "`, `": "`, non-ASCII as is): how the template shows values. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${pythonJson(item)}`).join(', ')}}`;
  return JSON.stringify(value);
}

/** JSON's building blocks, written once per grammar; `value`, `object` and `array` take any JSON. */
const JSON_RULES = [
  'value ::= object | array | string | number | "true" | "false" | "null"',
  'object ::= "{" (string ": " value (", " string ": " value)*)? "}"',
  'array ::= "[" (value (", " value)*)? "]"',
  'string ::= "\\"" char* "\\""',
  'char ::= [^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])',
  'integer ::= "-"? ("0" | [1-9] [0-9]*)',
  'number ::= integer ("." [0-9]+)? ([eE] [-+]? [0-9]+)?',
];

const TYPE_RULE: Record<string, string> = { string: 'string', integer: 'integer', number: 'number', boolean: '("true" | "false")', null: '"null"', object: 'object', array: 'array' };

class EbnfGrammar {
  private readonly rules: string[] = [];
  private count = 0;

  define(name: string, body: string): string {
    this.rules.push(`${name} ::= ${body}`);
    return name;
  }

  text(): string {
    // The root first: some readers take the first rule as the start.
    return [...this.rules.reverse(), ...JSON_RULES].join('\n') + '\n';
  }

  /** An expression for the JSON values `schema` accepts. */
  value(schema: unknown): string {
    if (typeof schema !== 'object' || schema === null) return 'value';
    const s = schema as Record<string, unknown>;
    if ('const' in s) return literal(pythonJson(s.const));
    if (Array.isArray(s.enum)) return `(${s.enum.map((v) => literal(pythonJson(v))).join(' | ')})`;
    const choices = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined) as unknown[] | undefined;
    if (choices) return `(${choices.map((choice) => this.value(choice)).join(' | ')})`;
    if (Array.isArray(s.type)) return `(${s.type.map((type) => this.value({ ...s, type })).join(' | ')})`;
    if (s.type === 'object' || (s.type === undefined && typeof s.properties === 'object')) return this.object(s);
    if (s.type === 'array') return typeof s.items === 'object' ? this.array(s.items) : 'array';
    return typeof s.type === 'string' ? (TYPE_RULE[s.type] ?? 'value') : 'value';
  }

  /** An object of the declared properties in their order, the required ones always there, no others. */
  private object(schema: Record<string, unknown>): string {
    if (typeof schema.properties !== 'object' || schema.properties === null) return 'object';
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    const members = Object.entries(schema.properties as Record<string, unknown>).map(([key, value]) => ({
      member: `${literal(`${JSON.stringify(key)}: `)} ${this.value(value)}`,
      required: required.has(key),
    }));
    if (members.length === 0) return '"{}"';
    const id = this.count++;
    // After a first member, each later one is `, member`, optional ones in `( )?`.
    const rest = (from: number) =>
      members
        .slice(from)
        .map(({ member, required: must }) => (must ? `", " ${member}` : `(", " ${member})?`))
        .join(' ');
    // The members from `i` on, the first written being member i or (when i is optional) a later one.
    const first = (i: number): string => {
      const name = `object${id}_from${i}`;
      const written = `${members[i].member} ${rest(i + 1)}`.trim();
      const later = !members[i].required && i + 1 < members.length ? ` | ${first(i + 1)}` : '';
      return this.define(name, `${written}${later}`);
    };
    const anyRequired = members.some((m) => m.required);
    return `("{" ${first(0)}${anyRequired ? '' : '?'} "}")`;
  }

  private array(items: unknown): string {
    const item = this.define(`item${this.count++}`, this.value(items));
    return `("[" (${item} (", " ${item})*)? "]")`;
  }
}
