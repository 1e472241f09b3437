import type { ChatEntry } from './ChatPage.tsx';

/** Why an answer stored while it was being written ends where it does. */
export const CUT_BY_RELOAD = 'the page was reloaded or closed while it was written';

/**
 * The conversation as stored: its messages with their known fields (any other left out), and an answer that was
 * being written when the page went away marked as cut short there.
 */
export function restoreMessages(stored: unknown): ChatEntry[] | undefined {
  if (!Array.isArray(stored)) return undefined;
  const entries: ChatEntry[] = [];
  for (const item of stored) {
    if (typeof item !== 'object' || item === null) continue;
    const { role, content, json, cutShort, writing } = item as Record<string, unknown>;
    if ((role !== 'system' && role !== 'user' && role !== 'assistant') || typeof content !== 'string') continue;
    const entry: ChatEntry = { role, content };
    if (json === true) entry.json = true;
    if (typeof cutShort === 'string') entry.cutShort = cutShort;
    else if (writing === true) entry.cutShort = CUT_BY_RELOAD;
    entries.push(entry);
  }
  return entries;
}
