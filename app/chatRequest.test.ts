import { describe, expect, it } from 'vitest';
import { requestMessages } from './chatRequest.ts';

const history = [
  { role: 'user' as const, content: 'What does str.split do?' },
  { role: 'assistant' as const, content: '`str.split(self, /, sep=None, maxsplit=-1)`', json: false },
  { role: 'user' as const, content: 'And str.join?' },
];

describe('requestMessages', () => {
  it('puts the system prompt first, and sends the messages without the page\'s own fields', () => {
    expect(requestMessages(history, 'Answer in one line.', false)).toEqual([
      { role: 'system', content: 'Answer in one line.' },
      { role: 'user', content: 'What does str.split do?' },
      { role: 'assistant', content: '`str.split(self, /, sep=None, maxsplit=-1)`' },
      { role: 'user', content: 'And str.join?' },
    ]);
  });

  it('sends no system message for an empty or blank system prompt', () => {
    expect(requestMessages(history, '', false)).toHaveLength(3);
    expect(requestMessages(history, ' \n', false)[0].role).toBe('user');
  });

  it('sends no system message with a raw prompt, which has no template to hold it', () => {
    expect(requestMessages(history, 'Answer in one line.', true).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });
});
