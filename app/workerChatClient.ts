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
import { abortable, abortableIterable } from './abortable.ts';
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

/**
 * `crashed` (see startEngineWorker): aborted when the worker dies, which fails every call and stream in flight with
 * its reason instead of leaving them waiting for ever.
 */
export function workerChatClient(remote: EngineRemote, crashed: AbortSignal = new AbortController().signal): WorkerOpenAI {
  function create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  function create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  async function create(params: ChatCompletionCreateParams, options: RequestOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const port = await abortable(remote.chat.completions.create(params), crashed);
    const answer = abortableIterable(await abortable(iterableFromPort(port, options.signal), crashed), crashed);
    // The worker's port carries chunks with `stream: true`, else the one ChatCompletion.
    if (params.stream) return answer as AsyncIterable<ChatCompletionChunk>;
    for await (const completion of answer) return completion as ChatCompletion;
    throw new EngineError('internal', 'the engine worker ended a request without its ChatCompletion');
  }
  return { chat: { completions: { create } }, models: { list: () => abortable(remote.models.list(), crashed) } };
}
