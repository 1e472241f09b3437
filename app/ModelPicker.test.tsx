import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ModelPicker, type LoadState } from './ModelPicker.tsx';

const SOURCE = { kind: 'url', baseUrl: 'https://models.test/tiny/' } as const;

function render(state: LoadState): string {
  const noop = () => {};
  return renderToStaticMarkup(
    <ModelPicker serverModels={[]} state={state} kvDtype="f16" onKvDtype={noop} onLoad={noop} onConnect={noop} onServerModel={noop} onClearCache={noop} />,
  );
}

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
