import * as Comlink from 'comlink';
import { EngineError } from '../../errors/engineError.ts';
import { OpenAIError, toOpenAIError, type OpenAIErrorType, type PartialAnswer } from './openaiError.ts';

/*
 * An async iterable across a comlink boundary. Comlink cannot transfer an async generator, so the side that holds
 * it exposes an IteratorPort (next/return, marked with Comlink.proxy) and the other side wraps the port back into
 * an AsyncIterable. Failures cross as data: structured clone keeps no class, and callers need an OpenAIError's
 * status and code (`aborted`, `gpu_device_lost`), not only its message.
 */

/** An OpenAIError as plain data. */
export interface SerializedOpenAIError {
  status: number;
  type: OpenAIErrorType;
  message: string;
  param: string | null;
  code: string | null;
  partial?: PartialAnswer;
}

/** One step of the stream; `next()` never rejects, a failure is a step of its own. */
export type PortStep<T> = { ok: true; done: false; value: T } | { ok: true; done: true } | { ok: false; error: SerializedOpenAIError };

export interface IteratorPort<T> {
  next(): Promise<PortStep<T>>;
  /** Closes the stream where it is (its `finally` blocks run); later `next()` calls answer done. */
  return(): Promise<void>;
}

export function serializeOpenAIError(error: unknown): SerializedOpenAIError {
  const { status, type, message, param, code, partial } = toOpenAIError(error);
  return { status, type, message, param, code, ...(partial && { partial }) };
}

export function deserializeOpenAIError({ status, type, message, param, code, partial }: SerializedOpenAIError): OpenAIError {
  return new OpenAIError(status, type, message, param, code, partial);
}

/** The holder's end: a port over the iterable that `open` resolves to (opened on the first `next()`). */
export function iteratorPort<T>(open: () => Promise<AsyncIterable<T>>): IteratorPort<T> & Comlink.ProxyMarked {
  let iterator: Promise<AsyncIterator<T>> | undefined;
  let closed = false;
  return Comlink.proxy({
    async next(): Promise<PortStep<T>> {
      if (closed) return { ok: true, done: true };
      try {
        iterator ??= open().then((iterable) => iterable[Symbol.asyncIterator]());
        const result = await (await iterator).next();
        return result.done ? { ok: true, done: true } : { ok: true, done: false, value: result.value };
      } catch (error) {
        closed = true;
        return { ok: false, error: serializeOpenAIError(error) };
      }
    },
    async return(): Promise<void> {
      if (closed) return;
      closed = true;
      const opened = await iterator?.catch(() => undefined);
      await opened?.return?.();
    },
  });
}

/**
 * The other end: the port's stream as an AsyncIterable. The first step is taken before this resolves, so a stream
 * that fails at once (a request refused, a prompt too long) rejects here, as `create` does in-process. `signal`
 * closes the stream where it is and makes it fail with an `aborted` error, as an in-process abort does.
 */
export async function iterableFromPort<T>(port: Comlink.Remote<IteratorPort<T>>, signal?: AbortSignal): Promise<AsyncIterable<T>> {
  const close = () => void port.return();
  signal?.addEventListener('abort', close, { once: true });
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    signal?.removeEventListener('abort', close);
    await port.return();
    port[Comlink.releaseProxy]();
  };
  const aborted = () => toOpenAIError(new EngineError('aborted', 'the request was aborted while it generated'));
  const first = await port.next();
  if (!first.ok || first.done) await finish();
  if (!first.ok) throw deserializeOpenAIError(first.error);
  return (async function* () {
    try {
      for (let step: PortStep<T> = first; ; step = await port.next()) {
        if (signal?.aborted) throw aborted();
        if (!step.ok) throw deserializeOpenAIError(step.error);
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await finish();
    }
  })();
}
