import type { RequestOptions } from '../engine/openai/chatCompletions.ts';
import { EngineError } from '../errors/engineError.ts';
import { iterableFromPort } from '../engine/openai/iteratorPort.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ModelList,
} from '../engine/openai/types.ts';
import type { ChatClient } from './chatClient.ts';
import type { EngineRemote } from './engineClient.ts';

/** The engine worker's OpenAI interface with OpenAIEngine's own types: the worker's ports turned back into streams. */
export interface WorkerOpenAI extends ChatClient {
  chat: {
    completions: {
      create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
    };
  };
  models: { list(): Promise<ModelList> };
}

export function workerChatClient(remote: EngineRemote): WorkerOpenAI {
  function create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  function create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  async function create(params: ChatCompletionCreateParams, options: RequestOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const answer = await iterableFromPort(await remote.chat.completions.create(params), options.signal);
    // The worker's port carries chunks with `stream: true`, else the one ChatCompletion.
    if (params.stream) return answer as AsyncIterable<ChatCompletionChunk>;
    for await (const completion of answer) return completion as ChatCompletion;
    throw new EngineError('internal', 'the engine worker ended a request without its ChatCompletion');
  }
  return { chat: { completions: { create } }, models: { list: () => remote.models.list() } };
}
