import { describe, expect, it, vi } from 'vitest';
import { abortable, abortableIterable } from './abortable.ts';

/** A promise that never settles: a call to a worker that died. */
const never = <T>() => new Promise<T>(() => {});

/** An iterator whose items come from `items`, then never answers again, like a stream from a worker that died. */
function hangingAfter<T>(items: T[]): AsyncIterable<T> & { returned: ReturnType<typeof vi.fn> } {
  const returned = vi.fn(async () => ({ done: true as const, value: undefined }));
  return {
    returned,
    [Symbol.asyncIterator]: () => ({
      next: () => (items.length > 0 ? Promise.resolve({ done: false as const, value: items.shift()! }) : never<IteratorResult<T>>()),
      return: returned,
    }),
  };
}

describe('abortable', () => {
  it("settles as the promise does while the signal is not aborted, and leaves no listener on it", async () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    await expect(abortable(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error('the call failed')), controller.signal)).rejects.toThrow('the call failed');
    expect(remove).toHaveBeenCalledTimes(2);
  });

  it("rejects with the signal's reason when it aborts, though the promise never settles", async () => {
    const controller = new AbortController();
    const waiting = abortable(never<number>(), controller.signal);
    const crash = new Error('the engine worker crashed');
    controller.abort(crash);
    await expect(waiting).rejects.toBe(crash);
  });

  it('rejects at once on a signal already aborted', async () => {
    const crash = new Error('the engine worker crashed');
    await expect(abortable(Promise.resolve(1), AbortSignal.abort(crash))).rejects.toBe(crash);
  });
});

describe('abortableIterable', () => {
  it('yields every item and closes the iterator when the consumer breaks out', async () => {
    const source = hangingAfter([1, 2, 3]);
    const seen: number[] = [];
    for await (const item of abortableIterable(source, new AbortController().signal)) {
      seen.push(item);
      if (item === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(source.returned).toHaveBeenCalledTimes(1);
  });

  it("fails the step in flight with the signal's reason, and leaves the dead iterator unclosed", async () => {
    const controller = new AbortController();
    const source = hangingAfter(['The answer', ' so far']);
    const crash = new Error('the engine worker crashed');
    const seen: string[] = [];
    const consumed = (async () => {
      for await (const item of abortableIterable(source, controller.signal)) {
        seen.push(item);
        if (seen.length === 2) setTimeout(() => controller.abort(crash));
      }
    })();
    await expect(consumed).rejects.toBe(crash);
    expect(seen).toEqual(['The answer', ' so far']);
    expect(source.returned).not.toHaveBeenCalled();
  });
});
