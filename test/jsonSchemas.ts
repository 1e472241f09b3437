import Ajv from 'ajv';
import { expect } from 'vitest';
import type { JsonSchema } from '../engine/grammar/grammar.ts';

/*
 * JSON schemas for constrained-generation tests, and the check an answer must pass. Each schema bounds its answers
 * (short strings, small integers, enums), so that even a random-weight model, whose choices are noise, completes one
 * within a few tens of tokens: the grammar alone makes it valid.
 */

/** A record with one field of each kind. */
export const RECORD_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    count: { type: 'integer', minimum: 0, maximum: 99 },
    ok: { type: 'boolean' },
    kind: { enum: ['function', 'class', 'module'] },
  },
  required: ['name', 'count', 'ok', 'kind'],
  additionalProperties: false,
} as const;

/** The built-in model's sample: a documented name and what it does. */
export const DOC_SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 16 }, summary: { type: 'string', maxLength: 32 } },
  required: ['name', 'summary'],
  additionalProperties: false,
} as const;

const ajv = new Ajv();

/** `text` parsed as JSON, which must validate against `schema` (with ajv, an independent validator). */
export function expectValidJson(text: string, schema: JsonSchema): unknown {
  const value: unknown = JSON.parse(text);
  const validate = ajv.compile(schema as object);
  expect(validate(value), `${text}: ${JSON.stringify(validate.errors)}`).toBe(true);
  return value;
}
