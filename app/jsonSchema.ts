import type { JsonSchema } from '../engine/openai/types.ts';

/** JSON Schema's type names. */
const TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
/** Keys of which a schema object has at least one (an object with none constrains nothing, and is likely a mistake). */
const SCHEMA_KEYS = ['type', 'properties', 'items', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', '$ref', '$schema'];

/**
 * For the built-in model, which answers about the Python standard library: a documented function, summed up. The
 * lengths bound the answer: a 6M-parameter model keeps a string going until a limit stops it.
 */
export const SAMPLE_SCHEMA = JSON.stringify(
  {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 40, description: 'The function, as documented: json.dumps' },
      summary: { type: 'string', maxLength: 120, description: 'What it does, in one sentence' },
    },
    required: ['name', 'summary'],
    additionalProperties: false,
  },
  null,
  2,
);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The schema the editor holds, or what is wrong with it: text that is not JSON, JSON that is not an object, or an
 * object that is not plausibly a schema (no schema keyword, a type that is none of JSON Schema's, properties that
 * are not schemas, required names that are not properties). The grammar engine has the last word on what it compiles.
 */
export function checkJsonSchema(text: string): { schema: JsonSchema } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return { error: `not JSON: ${(cause as Error).message}` };
  }
  const problem = schemaProblem(value, 'the schema');
  return problem ? { error: problem } : { schema: value as JsonSchema };
}

function schemaProblem(value: unknown, where: string): string | undefined {
  if (typeof value === 'boolean') return undefined;
  if (!isObject(value)) return `${where} must be an object (a JSON Schema), not ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`;
  if (!SCHEMA_KEYS.some((key) => key in value)) return `${where} has none of ${SCHEMA_KEYS.join(', ')}: it constrains nothing`;
  const types = Array.isArray(value.type) ? value.type : value.type === undefined ? [] : [value.type];
  const badType = types.find((type) => typeof type !== 'string' || !TYPES.includes(type));
  if (badType !== undefined) return `${where}: type ${JSON.stringify(badType)} is not one of ${TYPES.join(', ')}`;
  if (value.properties !== undefined) {
    if (!isObject(value.properties)) return `${where}: properties must be an object of schemas`;
    for (const [name, property] of Object.entries(value.properties)) {
      const problem = schemaProblem(property, `${where}'s property "${name}"`);
      if (problem) return problem;
    }
  }
  if (value.required !== undefined) {
    if (!Array.isArray(value.required) || !value.required.every((name) => typeof name === 'string')) return `${where}: required must be a list of property names`;
    const properties = isObject(value.properties) ? value.properties : {};
    const missing = value.required.find((name) => !(name in properties));
    if (missing !== undefined) return `${where}: required names "${missing}", which is not among its properties`;
  }
  if (value.items !== undefined) return schemaProblem(value.items, `${where}'s items`);
  return undefined;
}
