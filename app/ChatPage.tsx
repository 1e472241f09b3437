import { useEffect, useRef, useState } from 'react';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { ATTENTION_KERNELS, KERNEL_LABELS } from '../kernels/attention/plan.ts';
import type { CompletionUsage, LeanDecodeTimings } from '../engine/openai/types.ts';
import type { ChatMessage } from '../engine/tokenizer.ts';
import { formatMs } from './format.ts';
import { checkJsonSchema, SAMPLE_SCHEMA } from './jsonSchema.ts';
import { JsonTree } from './JsonTree.tsx';

export interface ChatSettings {
  temperature: number;
  topP: number;
  maxTokens: number;
  /** The in-browser engine's own settings (sent as `lean_decode`). */
  attention: AttentionKernel;
  raw: boolean;
  /** Sent first as a system message where set, unless the prompt goes raw (chatRequest.ts). */
  systemPrompt: string;
  /** Answers as JSON valid against `jsonSchema` (sent as `response_format`). */
  jsonMode: boolean;
  jsonSchema: string;
}

/** A message of the chat; `json`: the answer was asked for as JSON, and is shown as a tree too. */
export interface ChatEntry extends ChatMessage {
  json?: boolean;
  /** Why the answer stopped before its end (a lost GPU device, a crashed worker): the text so far stays. */
  cutShort?: string;
  /** The answer is being written: no JSON tree yet, and a page reloaded before its end knows it was cut. */
  writing?: boolean;
}

/** The answer's JSON when it parses (an answer cut short does not). */
function parsedJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** The latest answer, as its chunks tell it. */
export interface ChatStatus {
  generating: boolean;
  /** Chunks of text so far while streaming; the usage's token count once it comes. */
  completionTokens?: number;
  tokensPerSecond?: number;
  /** Sent at the end of the stream. */
  usage?: CompletionUsage;
  /** The in-browser engine's figures at the end of the stream: prompt reuse, prefill time, KV pages. */
  timings?: LeanDecodeTimings;
  /** OpenAI's finish_reason (`stop`, `length`), or `aborted` when Stop ended it. */
  finishReason?: string;
  maxContext?: number;
}

const BUILTIN_SUGGESTIONS = ['What does str.split do?', 'Explain logging.Logger.debug.', 'What does json.dumps do?'];

/** An answer asked for as JSON, as a tree, or a note that it does not parse. */
function JsonAnswer({ text }: { text: string }) {
  const parsed = parsedJson(text);
  return (
    <div className="json-answer" data-testid="json-answer">
      {parsed ? <JsonTree value={parsed.value} /> : <span className="error">not JSON (cut short?): the text above is all there is</span>}
    </div>
  );
}

/**
 * The chat: messages stream in as text (never HTML), with stop, regenerate, clear and the sampling settings; in JSON
 * mode, with a schema editor checked before sending, answers are shown as a JSON tree too.
 */
export function ChatPage(props: {
  messages: ChatEntry[];
  status: ChatStatus;
  settings: ChatSettings;
  /** Whether the answers come from the in-browser engine, which takes the attention kernel and raw prompts. */
  engineSettings: boolean;
  builtinModel: boolean;
  modelLoaded: boolean;
  draft: string;
  onDraft: (text: string) => void;
  onSettings: (settings: ChatSettings) => void;
  onSend: (text: string) => void;
  onStop: () => void;
  onRegenerate: () => void;
  onClear: () => void;
}) {
  const { messages, status, settings } = props;
  const bottom = useRef<HTMLDivElement>(null);
  const [showSettings, setShowSettings] = useState(true);
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: 'end' });
  }, [messages]);
  // A schema that does not check keeps Send off: the message typed stays in the box until it does.
  const schemaCheck = settings.jsonMode ? checkJsonSchema(settings.jsonSchema) : undefined;
  const schemaError = schemaCheck && 'error' in schemaCheck ? schemaCheck.error : undefined;
  // Raw prompts are the in-browser engine's own setting: a server always gets the template.
  const rawPrompt = props.engineSettings && settings.raw;
  const canSend = props.modelLoaded && !status.generating && props.draft.trim().length > 0 && schemaError === undefined;
  const send = () => {
    if (canSend) props.onSend(props.draft);
  };
  const set = (patch: Partial<ChatSettings>) => props.onSettings({ ...settings, ...patch });

  return (
    <section className="chat" aria-label="Chat">
      <div className="messages" data-testid="messages">
        {messages.length === 0 && (
          <div className="empty-state" data-testid="empty-state">
            {props.builtinModel ? (
              <>
                <p>
                  <strong>pydoc-chat-6m</strong> is a tiny model (5.8M parameters) trained on the Python standard library's documentation. It is a
                  documentation model, not a general assistant: ask it what a documented function, class or module does.
                </p>
                <div className="suggestions">
                  {BUILTIN_SUGGESTIONS.map((text) => (
                    <button key={text} type="button" disabled={!props.modelLoaded} onClick={() => props.onSend(text)}>
                      {text}
                    </button>
                  ))}
                </div>
              </>
            ) : (
              <p>{props.modelLoaded ? 'Say something to the model.' : 'Load a model to start.'}</p>
            )}
          </div>
        )}
        {messages.map((message, index) => (
          <div key={index} className={`message ${message.role}`} data-testid={`message-${message.role}`}>
            <span className="role">{message.role === 'user' ? 'You' : 'Model'}</span>
            <div className="content">
              {message.content}
              {message.json && !message.writing && <JsonAnswer text={message.content} />}
            </div>
            {message.cutShort && (
              <span className="cut-short" data-testid="message-cut-short">
                cut short: {message.cutShort}
              </span>
            )}
          </div>
        ))}
        <div ref={bottom} />
      </div>

      <div className="composer">
        <textarea
          data-testid="chat-input"
          aria-label="Message"
          value={props.draft}
          placeholder={props.modelLoaded ? 'Ask something… (Enter to send, Shift+Enter for a new line)' : 'Load a model first'}
          onChange={(event) => props.onDraft(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey) {
              event.preventDefault();
              send();
            }
          }}
          rows={2}
        />
        <div className="composer-buttons">
          {status.generating ? (
            <button type="button" data-testid="stop" onClick={props.onStop}>
              Stop
            </button>
          ) : (
            <button type="button" className="primary" data-testid="send" disabled={!canSend} onClick={send}>
              Send
            </button>
          )}
          <button type="button" data-testid="regenerate" disabled={status.generating || !messages.some((m) => m.role === 'assistant')} onClick={props.onRegenerate}>
            Regenerate
          </button>
          <button type="button" data-testid="clear" disabled={status.generating || messages.length === 0} onClick={props.onClear}>
            Clear
          </button>
        </div>
      </div>

      <div className="chat-stats" data-testid="chat-stats">
        {status.completionTokens !== undefined ? (
          <>
            <span data-testid="tokens-per-second">{status.tokensPerSecond ? `${status.tokensPerSecond.toFixed(1)} tokens/s` : 'measuring tokens/s…'}</span>
            <span data-testid="context-used">
              {status.usage ? `context ${status.usage.total_tokens}` : `${status.completionTokens} tokens so far`}
              {status.usage && status.maxContext ? ` / ${status.maxContext}` : ''}
              {status.usage ? ' tokens' : ''}
            </span>
            {status.timings && (
              <span>
                KV pages {status.timings.kv_pages_used} / {status.timings.kv_pages_total}
              </span>
            )}
          </>
        ) : (
          <span className="muted">no generation yet</span>
        )}
        {status.usage && (
          <span data-testid="prefill-stats">
            prompt {status.usage.prompt_tokens} tokens
            {status.timings &&
              `: ${status.timings.prompt_tokens_reused} reused from the cache, ${status.usage.prompt_tokens - status.timings.prompt_tokens_reused} prefilled in ${formatMs(status.timings.prefill_ms)}`}
          </span>
        )}
        {status.finishReason && <span data-testid="stop-reason">stopped: {status.finishReason}</span>}
      </div>

      <details className="settings" open={showSettings} onToggle={(event) => setShowSettings((event.target as HTMLDetailsElement).open)}>
        <summary>Settings</summary>
        <div className="settings-row">
          <label>
            Temperature <input type="number" data-testid="temperature" min={0} max={2} step={0.05} value={settings.temperature} onChange={(e) => set({ temperature: Number(e.target.value) })} />
            <span className="muted">0 = greedy</span>
          </label>
          <label>
            Top-p <input type="number" min={0.05} max={1} step={0.05} value={settings.topP} onChange={(e) => set({ topP: Number(e.target.value) })} />
          </label>
          <label>
            Max tokens <input type="number" data-testid="max-tokens" min={1} max={4096} value={settings.maxTokens} onChange={(e) => set({ maxTokens: Number(e.target.value) })} />
          </label>
          {props.engineSettings && (
            <>
              <label>
                Attention{' '}
                <select data-testid="attention-kernel" value={settings.attention} onChange={(e) => set({ attention: e.target.value as AttentionKernel })}>
                  {ATTENTION_KERNELS.map((kernel) => (
                    <option key={kernel} value={kernel}>
                      {KERNEL_LABELS[kernel]}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                <input type="checkbox" data-testid="raw-prompt" checked={settings.raw} onChange={(e) => set({ raw: e.target.checked })} /> Send raw (no chat template)
              </label>
            </>
          )}
          <label>
            <input type="checkbox" data-testid="json-mode" checked={settings.jsonMode} onChange={(e) => set({ jsonMode: e.target.checked })} /> JSON schema
            <span className="muted">answers are JSON valid against it</span>
          </label>
        </div>
        <div className="settings-row">
          <label className="system-prompt">
            System prompt
            <textarea
              data-testid="system-prompt"
              rows={2}
              placeholder={rawPrompt ? 'not sent with a raw prompt' : "none: the chat template's default"}
              disabled={rawPrompt}
              value={settings.systemPrompt}
              onChange={(e) => set({ systemPrompt: e.target.value })}
            />
          </label>
        </div>
        {settings.jsonMode && (
          <div className="settings-row">
            <div className="json-schema-editor">
              <textarea
                data-testid="json-schema"
                aria-label="JSON schema"
                spellCheck={false}
                value={settings.jsonSchema}
                onChange={(e) => set({ jsonSchema: e.target.value })}
              />
              {schemaError ? (
                <p className="error" role="alert" data-testid="json-schema-error">
                  {schemaError}
                </p>
              ) : (
                <p className="muted">
                  Sent as <code>response_format</code> (json_schema, strict).{' '}
                  <button type="button" data-testid="json-schema-sample" onClick={() => set({ jsonSchema: SAMPLE_SCHEMA })}>
                    Sample schema
                  </button>
                </p>
              )}
            </div>
          </div>
        )}
      </details>
    </section>
  );
}
