import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';
import type { ChatSettings } from './ChatPage.tsx';
import { SAMPLE_SCHEMA } from './jsonSchema.ts';

export const DEFAULT_SETTINGS: ChatSettings = {
  temperature: 0,
  topP: 0.9,
  maxTokens: 256,
  attention: 'lean',
  raw: false,
  systemPrompt: '',
  jsonMode: false,
  jsonSchema: SAMPLE_SCHEMA,
};

/**
 * Chat settings from what the page stored: each setting stored with the type of its default (a finite number, a
 * known attention kernel) is kept, any other takes its default, so settings stored by an earlier version still load.
 */
export function restoreChatSettings(stored: unknown): ChatSettings | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const restored: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [name, fallback] of Object.entries(DEFAULT_SETTINGS)) {
    const value = (stored as Record<string, unknown>)[name];
    const valid =
      typeof value === typeof fallback &&
      (typeof value !== 'number' || Number.isFinite(value)) &&
      (name !== 'attention' || (ATTENTION_KERNELS as readonly unknown[]).includes(value));
    if (valid) restored[name] = value;
  }
  return restored as unknown as ChatSettings;
}

/** The draft in the chat box, as stored: text, or nothing. */
export function restoreDraft(stored: unknown): string | undefined {
  return typeof stored === 'string' ? stored : undefined;
}
