import type { RequestOptions } from '../engine/openai/chatCompletions.ts';
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming, ModelList } from '../engine/openai/types.ts';

/**
 * What the chat needs of a model, in the openai SDK's shape: streamed chat completions and the model list. The
 * in-browser engine (workerChatClient) and any OpenAI-compatible server (httpChatClient) both implement it, so the
 * chat streams the same way from either.
 */
export interface ChatClient {
  chat: { completions: { create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>> } };
  models: { list(): Promise<ModelList> };
}
