import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { ModelSource } from '../engine/modelSource.ts';
import { ModelPicker, type LoadState } from './ModelPicker.tsx';

const SOURCE = { kind: 'url', baseUrl: 'https://models.test/tiny/' } as const;

function render(state: LoadState, initialSource: ModelSource = { kind: 'builtin' }, serverModels: string[] = []): string {
  const noop = () => {};
  return renderToStaticMarkup(
    <ModelPicker serverModels={serverModels} initialSource={initialSource} state={state} kvDtype="f16" onKvDtype={noop} onLoad={noop} onConnect={noop} onServerModel={noop} onClearCache={noop} />,
  );
}

describe('ModelPicker after a reload', () => {
  it('shows the source the page loads on opening', () => {
    const selected = (html: string) => /<option value="([^"]*)" selected="">/.exec(html)?.[1];
    expect(selected(render({ kind: 'idle' }))).toBe('builtin');
    const hub = render({ kind: 'idle' }, { kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct' });
    expect(selected(hub)).toBe('hub');
    expect(hub).toMatch(/aria-label="Hugging Face repo id"[^>]*value="Qwen\/Qwen2.5-0.5B-Instruct"/);
    expect(render({ kind: 'idle' }, SOURCE)).toMatch(/aria-label="Model base URL"[^>]*value="https:\/\/models.test\/tiny\/"/);
    expect(selected(render({ kind: 'idle' }, { kind: 'server', name: 'tiny-llama' }, ['tiny-llama']))).toBe('server:tiny-llama');
  });
});

describe('ModelPicker on a download fault', () => {
  it('offers Retry download beside a download that failed', () => {
    const html = render({ kind: 'failed', error: { code: 'download-failed', message: 'model.safetensors did not download whole' }, source: SOURCE });
    expect(html).toMatch(/data-testid="load-error"[^>]*>Could not load the model: model.safetensors did not download whole/);
    expect(html).toContain('data-testid="retry-load"');
  });

  it('offers no retry where downloading again cannot help', () => {
    const html = render({ kind: 'failed', error: { code: 'invalid-safetensors', message: 'model.safetensors: the file is truncated' }, source: SOURCE });
    expect(html).toContain('data-testid="load-error"');
    expect(html).not.toContain('retry-load');
  });

  it('says which attempt at a file comes next, and why', () => {
    const reason = 'the connection broke off after 1,000 of 2,000 bytes (network error)';
    const html = render({
      kind: 'loading',
      source: SOURCE,
      event: { phase: 'downloading', file: 'model.safetensors', loadedBytes: 0, totalBytes: undefined, fromCache: false, retry: { attempt: 2, attempts: 3, reason } },
    });
    expect(html).toContain(`downloading model.safetensors again (attempt 2 of 3): ${reason}`);
  });
});
