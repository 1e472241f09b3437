import { describe, expect, it } from 'vitest';
import { checkJsonSchema, SAMPLE_SCHEMA } from './jsonSchema.ts';

describe('checkJsonSchema', () => {
  it('takes the sample schema and other plausible schemas', () => {
    expect(checkJsonSchema(SAMPLE_SCHEMA)).toEqual({ schema: JSON.parse(SAMPLE_SCHEMA) });
    for (const schema of [{ type: 'array', items: { type: 'integer' } }, { enum: ['a', 'b'] }, { type: ['string', 'null'] }, { anyOf: [{ type: 'string' }] }, { type: 'object', properties: { a: true } }]) {
      expect(checkJsonSchema(JSON.stringify(schema))).toEqual({ schema });
    }
  });

  it.each([
    ['{"type": "object",', /^not JSON: /],
    ['[1, 2]', /^the schema must be an object \(a JSON Schema\), not an array/],
    ['"object"', /^the schema must be an object/],
    ['{"name": "x"}', /^the schema has none of type, properties, .*: it constrains nothing/],
    ['{"type": "str"}', /^the schema: type "str" is not one of object, array, string/],
    ['{"type": "object", "properties": {"a": {"type": "text"}}}', /^the schema's property "a": type "text" is not one of/],
    ['{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}', /^the schema: required names "b", which is not among its properties/],
    ['{"type": "array", "items": 3}', /^the schema's items must be an object/],
  ])('refuses %s', (text, message) => {
    const result = checkJsonSchema(text);
    expect('error' in result && result.error).toMatch(message);
  });
});
