import { describe, expect, it } from 'vitest';
import { sseData } from './sseData.ts';

/** A body that arrives in these pieces, as a network splits it. */
function body(...pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

async function events(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const all: string[] = [];
  for await (const data of sseData(stream)) all.push(data);
  return all;
}

describe('sseData', () => {
  it("reads OpenAI's stream: one JSON per event, then [DONE]", async () => {
    expect(await events(body('data: {"a":1}\n\n', 'data: {"b":2}\n\ndata: [DONE]\n\n'))).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
  });

  it('joins events split anywhere, multi-byte characters included', async () => {
    const bytes = new TextEncoder().encode('data: {"content":"héllo ✓"}\n\n');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    expect(await events(stream)).toEqual(['{"content":"héllo ✓"}']);
  });

  it('takes CRLF, LF and CR line ends, a CR split from its LF included', async () => {
    expect(await events(body('data: a\r', '\n\r\ndata: b\r\rdata: c\n\n'))).toEqual(['a', 'b', 'c']);
  });

  it('joins data lines with LF and skips comments, other fields and empty events', async () => {
    expect(await events(body(': keep-alive\n\nevent: message\nid: 7\ndata: one\ndata:two\ndata\n\n'))).toEqual(['one\ntwo\n']);
  });

  it('drops an event the stream ends inside of', async () => {
    expect(await events(body('data: whole\n\ndata: cut'))).toEqual(['whole']);
  });

  it('cancels the body when the reader leaves early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: x\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const data of sseData(stream)) if (data === 'x') break;
    expect(cancelled).toBe(true);
  });
});
