import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, restoreChatSettings, restoreDraft } from './chatSettings.ts';

describe('restoreChatSettings', () => {
  it('keeps every setting stored with the type of its default', () => {
    const stored = { temperature: 0.7, topP: 0.5, maxTokens: 64, attention: 'fd', raw: true, systemPrompt: 'Be brief.', jsonMode: true, jsonSchema: '{}' };
    expect(restoreChatSettings(JSON.parse(JSON.stringify(stored)))).toEqual(stored);
  });

  it('gives a setting its default where the stored one is missing, of another type, not finite or not a kernel', () => {
    expect(restoreChatSettings({ temperature: '0.7', maxTokens: null, attention: 'flash', systemPrompt: 'Be brief.', removedSetting: 1 })).toEqual({
      ...DEFAULT_SETTINGS,
      systemPrompt: 'Be brief.',
    });
    expect(restoreChatSettings({})).toEqual(DEFAULT_SETTINGS);
  });

  it('starts from the defaults where what is stored is not an object', () => {
    for (const stored of [null, 3, 'settings', undefined]) expect(restoreChatSettings(stored)).toBeUndefined();
  });
});

describe('restoreDraft', () => {
  it('takes text alone', () => {
    expect(restoreDraft('What does str.split do?')).toBe('What does str.split do?');
    expect(restoreDraft(['What'])).toBeUndefined();
  });
});
