/*
 * Waiting on a worker that may die: a call in flight to a crashed worker never answers, so the page races it against
 * a signal that is aborted when the worker crashes. Nothing is left attached to the signal once a wait is over.
 */

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts (its result is then ignored). */
export function abortable<P extends Promise<unknown>>(promise: P, signal: AbortSignal): Promise<Awaited<P>> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<Awaited<P>>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then((value) => resolve(value as Awaited<P>), reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * `iterable`'s items until `signal` aborts, which fails the step in flight with the signal's reason. The iterator is
 * then left as it is: its `return()` would wait on the dead worker too. Otherwise it is closed as usual.
 */
export async function* abortableIterable<T>(iterable: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = iterable[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await abortable(iterator.next(), signal);
      if (step.done) return;
      yield step.value;
    }
  } finally {
    if (!signal.aborted) await iterator.return?.();
  }
}
