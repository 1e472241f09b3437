import { describe, expect, it } from 'vitest';
import { restoreKvDtype, restoreModelSource } from './storedModelSource.ts';

describe('restoreModelSource', () => {
  it('gives back the sources a reload can load again', () => {
    for (const source of [{ kind: 'builtin' }, { kind: 'hub', repo: 'HuggingFaceTB/SmolLM2-360M-Instruct' }, { kind: 'url', baseUrl: 'https://example.com/m/' }, { kind: 'server', name: 'tiny-llama' }]) {
      expect(restoreModelSource(JSON.parse(JSON.stringify(source)))).toEqual(source);
    }
  });

  it('leaves out a local folder (its files are not stored), fields it does not know and sources without their name', () => {
    expect(restoreModelSource(JSON.parse(JSON.stringify({ kind: 'files', name: 'm', files: [{ path: 'm/config.json', file: {} }] })))).toBeUndefined();
    expect(restoreModelSource({ kind: 'hub', repo: 'a/b', token: 'secret' })).toEqual({ kind: 'hub', repo: 'a/b' });
    expect(restoreModelSource({ kind: 'hub', repo: '' })).toBeUndefined();
    expect(restoreModelSource({ kind: 'server' })).toBeUndefined();
    expect(restoreModelSource('builtin')).toBeUndefined();
  });
});

describe('restoreKvDtype', () => {
  it('takes f16 and f32 alone', () => {
    expect(restoreKvDtype('f32')).toBe('f32');
    expect(restoreKvDtype('bf16')).toBeUndefined();
  });
});
