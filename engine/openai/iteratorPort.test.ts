import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../errors/engineError.ts';
import { OpenAIError, toOpenAIError } from './openaiError.ts';
import { iterableFromPort, iteratorPort, type IteratorPort } from './iteratorPort.ts';

/** Two ends of a real MessageChannel, as a worker and the page have. */
const channels: MessageChannel[] = [];
function across<T>(open: () => Promise<AsyncIterable<T>>): Comlink.Remote<IteratorPort<T>> {
  const channel = new MessageChannel();
  channels.push(channel);
  Comlink.expose({ stream: () => iteratorPort(open) }, channel.port1);
  return Comlink.wrap<{ stream: () => IteratorPort<T> }>(channel.port2).stream() as unknown as Comlink.Remote<IteratorPort<T>>;
}

afterEach(() => {
  for (const channel of channels.splice(0)) {
    channel.port1.close();
    channel.port2.close();
  }
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of iterable) values.push(value);
  return values;
}

describe('iteratorPort / iterableFromPort', () => {
  it('carries every value in order, then ends', async () => {
    const source = async function* () {
      yield* [1, 2, 3];
    };
    expect(await collect(await iterableFromPort(await across(async () => source())))).toEqual([1, 2, 3]);
  });

  it('rejects at once when the stream fails before its first value, keeping status and code', async () => {
    const failing = async (): Promise<AsyncIterable<number>> => {
      throw new EngineError('context-overflow', 'the prompt is 9000 tokens');
    };
    const error = await iterableFromPort(await across(failing)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAIError);
    expect(error).toMatchObject({ status: 400, code: 'context_length_exceeded', message: 'the prompt is 9000 tokens' });
  });

  it('raises a failure midway where it happened', async () => {
    const source = async function* () {
      yield 1;
      throw new EngineError('gpu-device-lost', 'the device was lost');
    };
    const values: number[] = [];
    const error = await (async () => {
      for await (const value of await iterableFromPort(await across(async () => source()))) values.push(value);
    })().catch((e: unknown) => e);
    expect(values).toEqual([1]);
    expect(error).toMatchObject({ code: 'gpu_device_lost' });
  });

  it('keeps what a failed answer had generated, for callers that stream nothing (OpenAI body: lean_decode.partial)', async () => {
    const failing = async (): Promise<AsyncIterable<number>> => {
      throw new EngineError('gpu-device-lost', 'the device was lost', { generatedIds: [5, 6, 7], text: 'The os mod' });
    };
    const error = (await iterableFromPort(await across(failing)).catch((e: unknown) => e)) as OpenAIError;
    expect(error).toBeInstanceOf(OpenAIError);
    expect(error.body()).toEqual({
      error: { message: 'the device was lost', type: 'server_error', param: null, code: 'gpu_device_lost', lean_decode: { partial: { content: 'The os mod', completion_tokens: 3 } } },
    });
    // An error without a partial answer keeps OpenAI's body as it is.
    expect(toOpenAIError(new EngineError('kv-pool-full', 'full')).body()).toEqual({ error: { message: 'full', type: 'server_error', param: null, code: 'kv_pool_full' } });
  });

  it("runs the source's finally when the consumer breaks out", async () => {
    let closed = false;
    const source = async function* () {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    };
    for await (const value of await iterableFromPort(await across(async () => source()))) if (value === 2) break;
    expect(closed).toBe(true);
  });

  it('an abort closes the source and fails the stream as aborted', async () => {
    let closed = false;
    const source = async function* () {
      try {
        for (let i = 0; ; i++) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          yield i;
        }
      } finally {
        closed = true;
      }
    };
    const abort = new AbortController();
    const values: number[] = [];
    const error = await (async () => {
      for await (const value of await iterableFromPort(await across(async () => source()), abort.signal)) {
        values.push(value);
        if (value === 3) abort.abort();
      }
    })().catch((e: unknown) => e);
    expect(values).toEqual([0, 1, 2, 3]);
    expect(error).toMatchObject({ code: 'aborted' });
    await expect.poll(() => closed).toBe(true);
  });
});
