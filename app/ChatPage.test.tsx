import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ChatPage, type ChatEntry, type ChatSettings } from './ChatPage.tsx';
import { SAMPLE_SCHEMA } from './jsonSchema.ts';

const SETTINGS: ChatSettings = { temperature: 0, topP: 0.9, maxTokens: 64, attention: 'lean', raw: false, systemPrompt: '', jsonMode: true, jsonSchema: SAMPLE_SCHEMA };

function render(settings: Partial<ChatSettings>, messages: ChatEntry[] = [], draft = 'What does json.dumps do?'): string {
  const noop = () => {};
  return renderToStaticMarkup(
    <ChatPage
      messages={messages}
      status={{ generating: false }}
      settings={{ ...SETTINGS, ...settings }}
      engineSettings
      builtinModel
      modelLoaded
      draft={draft}
      onDraft={noop}
      onSettings={noop}
      onSend={noop}
      onStop={noop}
      onRegenerate={noop}
      onClear={noop}
    />,
  );
}

const sendButton = (html: string) => /<button[^>]*data-testid="send"[^>]*>/.exec(html)![0];

describe('ChatPage in JSON mode', () => {
  it('shows the schema editor with the sample schema, and sends', () => {
    const html = render({});
    expect(html).toContain('data-testid="json-mode" checked=""');
    expect(html).toMatch(/<textarea[^>]*data-testid="json-schema"[^>]*>\{\n {2}&quot;type&quot;: &quot;object&quot;/);
    expect(html).not.toContain('json-schema-error');
    expect(sendButton(html)).not.toContain('disabled');
  });

  it('a schema that does not check: the error beside the editor, Send off, the message kept in the box', () => {
    const html = render({ jsonSchema: '{"type": "object", "required": ["name"]}' });
    expect(html).toMatch(/data-testid="json-schema-error">the schema: required names &quot;name&quot;, which is not among its properties<\/p>/);
    expect(sendButton(html)).toContain('disabled');
    expect(html).toMatch(/data-testid="chat-input"[^>]*>What does json.dumps do\?<\/textarea>/);
  });

  it('an answer asked for as JSON is shown as text and as a tree; one cut short says it does not parse', () => {
    const answer = '{"name": "json.dumps", "summary": "Serialize obj to a JSON formatted str."}';
    const html = render({}, [
      { role: 'user', content: 'What does json.dumps do?' },
      { role: 'assistant', content: answer, json: true },
      { role: 'user', content: 'And str.split?' },
      { role: 'assistant', content: '{"name": "str.sp', json: true },
    ]);
    expect(html).toContain(answer.replaceAll('"', '&quot;'));
    const trees = html.split('data-testid="json-answer"').slice(1);
    expect(trees).toHaveLength(2);
    expect(trees[0]).toContain('<span class="json-key">summary: </span><span class="json-string">&quot;Serialize obj to a JSON formatted str.&quot;</span>');
    expect(trees[1]).toContain('not JSON (cut short?)');
  });

  it('without JSON mode: no editor, and answers are text only', () => {
    const html = render({ jsonMode: false }, [{ role: 'assistant', content: '{"a": 1}' }]);
    expect(html).not.toContain('data-testid="json-schema"');
    expect(html).not.toContain('json-answer');
  });
});

describe('ChatPage system prompt', () => {
  it('is edited in the settings, and is off with a raw prompt, which has no template to hold it', () => {
    const editor = (html: string) => /<textarea[^>]*data-testid="system-prompt"[^>]*>[^<]*<\/textarea>/.exec(html)![0];
    const set = editor(render({ systemPrompt: 'Answer in one line.' }));
    expect(set).toContain('>Answer in one line.</textarea>');
    expect(set).not.toContain('disabled');
    const raw = editor(render({ systemPrompt: 'Answer in one line.', raw: true }));
    expect(raw).toContain('disabled');
    expect(raw).toContain('placeholder="not sent with a raw prompt"');
  });
});

describe('ChatPage after a fault', () => {
  it('an answer cut short keeps its text and says why it stopped', () => {
    const html = render({ jsonMode: false }, [
      { role: 'user', content: 'What does json.dumps do?' },
      { role: 'assistant', content: '`json.dumps(obj', cutShort: 'the GPU device was lost' },
    ]);
    expect(html).toContain('<div class="content">`json.dumps(obj</div><span class="cut-short" data-testid="message-cut-short">cut short: the GPU device was lost</span>');
  });
});
