import { describe, expect, it } from 'vitest';
import { EngineError, serializeError } from './engineError.ts';

describe('serializeError (what crosses the worker boundary)', () => {
  it('keeps an EngineError\'s own code and message', () => {
    expect(serializeError(new EngineError('kv-pool-full', 'the KV cache is full'))).toEqual({ code: 'kv-pool-full', message: 'the KV cache is full' });
  });

  it('reports anything else as internal, with the original error in the message, not as the caller\'s bad input', () => {
    const error = serializeError(new TypeError("Cannot read properties of undefined (reading 'size')"));
    expect(error.code).toBe('internal');
    expect(error.message).toContain("TypeError: Cannot read properties of undefined (reading 'size')");
    expect(serializeError('a thrown string')).toEqual({ code: 'internal', message: 'an internal error (please report it): a thrown string' });
  });
});
