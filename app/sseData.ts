/**
 * The `data` of each server-sent event of a response body, as the HTML standard's event-stream parsing reads it
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation): lines end in CRLF,
 * LF or CR; an event ends at a blank line; its `data:` lines are joined with LF; comments and other fields are
 * skipped; an event the stream ends inside of is dropped. Leaving the loop early cancels the body.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let reading = true;
  try {
    while (reading) {
      const { done, value } = await reader.read().catch((error: unknown) => {
        reading = false;
        throw error;
      });
      reading = !done;
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (let end = lineEnd(buffer, done); end; end = lineEnd(buffer, done)) {
        const line = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end.length);
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (line === 'data' || line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
    }
  } finally {
    if (reading) await reader.cancel();
  }
}

/** Where the buffer's first line ends; a CR at the very end waits for more (it may be the first half of CRLF). */
function lineEnd(buffer: string, final: boolean): { index: number; length: number } | undefined {
  const match = /\r\n|\n|\r/.exec(buffer);
  if (!match || (match[0] === '\r' && match.index === buffer.length - 1 && !final)) return undefined;
  return { index: match.index, length: match[0].length };
}
