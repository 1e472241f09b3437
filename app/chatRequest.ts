import type { ChatMessage } from '../engine/tokenizer.ts';

/**
 * The messages a chat turn sends: the conversation, after the system prompt where one is set. A raw prompt sends the
 * last message alone, with no template to put a system prompt in, so none goes with it.
 */
export function requestMessages(history: readonly ChatMessage[], systemPrompt: string, raw: boolean): ChatMessage[] {
  const conversation = history.map(({ role, content }) => ({ role, content }));
  return systemPrompt.trim() && !raw ? [{ role: 'system', content: systemPrompt }, ...conversation] : conversation;
}
