import type { RequestOptions } from '../engine/openai/chatCompletions.ts';
import { OpenAIError, type OpenAIErrorBody } from '../engine/openai/openaiError.ts';
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming, ModelList } from '../engine/openai/types.ts';
import type { ChatClient } from './chatClient.ts';
import { sseData } from './sseData.ts';

/** An OpenAI-compatible server: `lean-decode serve`, vLLM, llama.cpp's server, OpenAI itself. */
export interface ServerAddress {
  /** Where its API lives, with the `/v1`: `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when given. */
  apiKey?: string;
}

/** A server's chat completions and model list over fetch, the stream read from its server-sent events. */
export function httpChatClient({ baseUrl, apiKey }: ServerAddress): ChatClient {
  const request = async (path: string, init: RequestInit): Promise<Response> => {
    const url = `${baseUrl.replace(/\/+$/, '')}/${path}`;
    const headers = { 'content-type': 'application/json', ...(apiKey && { authorization: `Bearer ${apiKey}` }) };
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`could not reach ${url} (${reason}): is the server running, and does it allow this page's origin (CORS)?`, { cause: error });
    }
    if (!response.ok) throw await failure(response);
    return response;
  };

  return {
    chat: {
      completions: {
        async create(params: ChatCompletionCreateParamsStreaming, options: RequestOptions = {}): Promise<AsyncIterable<ChatCompletionChunk>> {
          const response = await request('chat/completions', { method: 'POST', body: JSON.stringify(params), signal: options.signal });
          if (!response.body) throw new Error(`${baseUrl} answered a streamed request with no body`);
          return chunks(response.body);
        },
      },
    },
    models: {
      async list(): Promise<ModelList> {
        return (await (await request('models', { method: 'GET' })).json()) as ModelList;
      },
    },
  };
}

/** The chunks of an OpenAI stream: `data: {chunk}` events up to `data: [DONE]`; an error event is raised. */
async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatCompletionChunk> {
  for await (const data of sseData(body)) {
    if (data === '[DONE]') return;
    const event = JSON.parse(data) as ChatCompletionChunk | OpenAIErrorBody;
    if ('error' in event) {
      const { type, message, param, code } = event.error;
      throw new OpenAIError(500, type, message, param, code);
    }
    yield event;
  }
}

/** A failed response as an OpenAIError: the server's error body where it sent one, else its status and text. */
async function failure(response: Response): Promise<OpenAIError> {
  const text = await response.text();
  const status = response.status;
  const type = status < 500 ? 'invalid_request_error' : 'server_error';
  try {
    const { error } = JSON.parse(text) as OpenAIErrorBody;
    return new OpenAIError(status, error.type ?? type, error.message, error.param ?? null, error.code ?? null);
  } catch {
    // Not an OpenAI error body (a proxy's HTML page, a plain-text 404): say what came.
    return new OpenAIError(status, type, `${response.url} answered ${status} ${response.statusText}: ${text.slice(0, 200)}`);
  }
}
