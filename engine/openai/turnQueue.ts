import { EngineError } from '../../errors/engineError.ts';

/**
 * Requests wait here for the engine, which runs one generation at a time (one KV sequence in flight), in the order
 * they came. A request whose caller gives up while it waits leaves the line without holding up the ones behind it.
 */
export class TurnQueue {
  private last: Promise<void> = Promise.resolve();
  private count = 0;

  /** Requests holding or waiting for the engine. */
  get length(): number {
    return this.count;
  }

  /** Resolves, once every earlier turn has ended, with the function that ends this one; rejects if `signal` aborts first. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    let end!: () => void;
    const mine = new Promise<void>((resolve) => (end = resolve));
    const previous = this.last;
    this.last = previous.then(() => mine);
    this.count++;
    let ended = false;
    const release = () => {
      if (ended) return;
      ended = true;
      this.count--;
      end();
    };
    try {
      await untilAborted(previous, signal);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }
}

function untilAborted(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return work;
  const aborted = () => new EngineError('aborted', 'the request was aborted while it waited for the engine');
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
