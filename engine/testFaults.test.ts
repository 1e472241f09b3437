import { afterEach, describe, expect, it, vi } from 'vitest';
import { TestFaults } from './testFaults.ts';

/** An answer's chunks: text, or none (the last chunk carries only the finish reason and usage). */
async function* chunks(texts: (string | undefined)[]): AsyncGenerator<{ text?: string }> {
  for (const text of texts) yield { text };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of iterable) values.push(value);
  return values;
}

/** Streams `texts` through the faults; the chunks seen when the device was destroyed, or undefined if it was not. */
async function destroyedAfter(faults: TestFaults, texts: (string | undefined)[]): Promise<{ chunks: number; destroyedAt: number | undefined }> {
  let seen = 0;
  let destroyedAt: number | undefined;
  const target = { destroyDevice: () => (destroyedAt = seen) };
  for await (const chunk of faults.stream(chunks(texts), (c) => !!c.text, target)) {
    void chunk;
    seen++;
  }
  return { chunks: seen, destroyedAt };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TestFaults', () => {
  it('refuses to arm in a worker not started for tests, saying how to turn them on', () => {
    expect(() => new TestFaults(false).arm({ kind: 'device-lost', afterChunks: 2 })).toThrow(/test faults are off in this worker: .*\?test-faults/);
  });

  it('refuses a fault that would fire before any text', () => {
    expect(() => new TestFaults(true).arm({ kind: 'device-lost', afterChunks: 0 })).toThrow('a test fault fires after at least 1 chunk (got 0)');
  });

  it("destroys the device after the armed number of text chunks, in the next answer only, passing every chunk through", async () => {
    const faults = new TestFaults(true);
    faults.arm({ kind: 'device-lost', afterChunks: 2 });
    // A chunk without text (the role's, the usage's) does not count.
    expect(await destroyedAfter(faults, [undefined, 'a', 'b', 'c', undefined])).toEqual({ chunks: 5, destroyedAt: 3 });
    expect(await destroyedAfter(faults, ['a', 'b', 'c'])).toEqual({ chunks: 3, destroyedAt: undefined });
  });

  it('does nothing while no fault is armed', async () => {
    expect(await destroyedAfter(new TestFaults(true), ['a', 'b'])).toEqual({ chunks: 2, destroyedAt: undefined });
  });

  it('a worker crash: an error thrown from a task of its own, which nothing in the stream catches', async () => {
    vi.useFakeTimers();
    const faults = new TestFaults(true);
    faults.arm({ kind: 'worker-crash', afterChunks: 1 });
    const destroyDevice = vi.fn();
    expect(await collect(faults.stream(chunks(['a', 'b']), (c) => !!c.text, { destroyDevice }))).toHaveLength(2);
    expect(destroyDevice).not.toHaveBeenCalled();
    expect(() => vi.runAllTimers()).toThrow('test fault: an uncaught error in the engine worker');
  });
});
