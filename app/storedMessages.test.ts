import { describe, expect, it } from 'vitest';
import { CUT_BY_RELOAD, restoreMessages } from './storedMessages.ts';

describe('restoreMessages', () => {
  it('keeps the messages with their known fields', () => {
    const stored = [
      { role: 'user', content: 'What does str.split do?' },
      { role: 'assistant', content: '{"a": 1}', json: true },
      { role: 'assistant', content: '`json.dumps(obj', cutShort: 'the GPU device was lost' },
    ];
    expect(restoreMessages(JSON.parse(JSON.stringify(stored)))).toEqual(stored);
  });

  it('marks an answer that was being written as cut short by the reload', () => {
    expect(restoreMessages([{ role: 'user', content: 'The' }, { role: 'assistant', content: ' "try" statement', writing: true }])).toEqual([
      { role: 'user', content: 'The' },
      { role: 'assistant', content: ' "try" statement', cutShort: CUT_BY_RELOAD },
    ]);
  });

  it('leaves out what is not a message, and fields it does not know', () => {
    expect(restoreMessages([{ role: 'tool', content: 'x' }, { role: 'user' }, null, 'text', { role: 'user', content: 'hi', extra: 1, json: 'yes' }])).toEqual([
      { role: 'user', content: 'hi' },
    ]);
    expect(restoreMessages({ role: 'user', content: 'hi' })).toBeUndefined();
  });
});
