import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { JsonTree } from './JsonTree.tsx';

describe('JsonTree', () => {
  it('folds objects and arrays (open), with their sizes, and shows leaves as JSON, coloured by type', () => {
    const html = renderToStaticMarkup(<JsonTree value={{ name: 'json.dumps', args: ['obj', 2], ok: true, none: null }} />);
    expect(html.match(/<details class="json-node" open="">/g)).toHaveLength(2);
    expect(html).toContain('<summary>{<span class="muted"> 4 keys </span>}</summary>');
    expect(html).toContain('<summary><span class="json-key">args: </span>[<span class="muted"> 2 items </span>]</summary>');
    expect(html).toContain('<span class="json-key">name: </span><span class="json-string">&quot;json.dumps&quot;</span>');
    expect(html).toContain('<span class="json-key">1: </span><span class="json-number">2</span>');
    expect(html).toContain('<span class="json-boolean">true</span>');
    expect(html).toContain('<span class="json-null">null</span>');
  });

  it('a leaf at the top, and markup in strings stays text', () => {
    expect(renderToStaticMarkup(<JsonTree value="<b>x</b>" />)).toBe('<div class="json-leaf"><span class="json-string">&quot;&lt;b&gt;x&lt;/b&gt;&quot;</span></div>');
  });
});
