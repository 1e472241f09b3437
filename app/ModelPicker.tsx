import { useState } from 'react';
import type { ModelInfo } from '../engine/engine.ts';
import { BUILTIN_MODEL, type ModelSource } from '../engine/modelSource.ts';
import type { LoadEvent } from '../engine/worker.ts';
import type { EngineErrorCode } from '../errors/engineError.ts';
import { formatBytes } from './format.ts';
import type { ServerAddress } from './httpChatClient.ts';

export type LoadState =
  | { kind: 'idle' }
  | { kind: 'loading'; source: ModelSource; event?: LoadEvent }
  /** `model`: the id chat requests name (the model folder's). */
  | { kind: 'loaded'; info: ModelInfo; model: string }
  | { kind: 'connecting'; address: ServerAddress }
  /** An OpenAI-compatible server answers the chat, with `model` of the ones it lists. */
  | { kind: 'connected'; address: ServerAddress; models: string[]; model: string }
  /** `source`: the engine load that failed, for its retry (a server that would not connect has none). */
  | { kind: 'failed'; error: { message: string; code?: EngineErrorCode }; source?: ModelSource };

type Choice = 'builtin' | `server:${string}` | 'hub' | 'url' | 'folder' | 'openai';

function progressText(event: LoadEvent | undefined): { text: string; fraction?: number } {
  if (!event) return { text: 'starting…' };
  switch (event.phase) {
    case 'downloading':
      if (event.retry) return { text: `downloading ${event.file} again (attempt ${event.retry.attempt} of ${event.retry.attempts}): ${event.retry.reason}` };
      return {
        text: `${event.fromCache ? 'from cache' : 'downloading'} ${event.file}: ${formatBytes(event.loadedBytes)}${event.totalBytes ? ` of ${formatBytes(event.totalBytes)}` : ''}`,
        fraction: event.totalBytes ? event.loadedBytes / event.totalBytes : undefined,
      };
    case 'uploading':
      return { text: `uploading weights to the GPU: tensor ${event.tensorsDone} of ${event.tensorsTotal} (${formatBytes(event.bytesDone)})`, fraction: event.bytesDone / event.bytesTotal };
    case 'reading':
      return { text: event.message };
    case 'compiling':
      return { text: 'compiling kernels…' };
    case 'ready':
      return { text: 'ready', fraction: 1 };
  }
}

/** The picker's choice for a source (a local folder has to be picked again). */
function initialChoice(source: ModelSource): Choice {
  if (source.kind === 'server') return `server:${source.name}`;
  return source.kind === 'files' ? 'folder' : source.kind;
}

/**
 * Where the model comes from: built in (first), dev-server folders, a hub repo, a URL or a local folder, all run by
 * the in-browser engine; or an OpenAI-compatible server, which runs the model itself.
 */
export function ModelPicker(props: {
  serverModels: string[];
  /** What the picker shows first: the source the page loads on opening. */
  initialSource: ModelSource;
  state: LoadState;
  kvDtype: 'f16' | 'f32';
  onKvDtype: (dtype: 'f16' | 'f32') => void;
  onLoad: (source: ModelSource) => void;
  onConnect: (address: ServerAddress) => void;
  onServerModel: (model: string) => void;
  onClearCache: () => void;
}) {
  const { serverModels, state } = props;
  const initial = props.initialSource;
  const [choice, setChoice] = useState<Choice>(initialChoice(initial));
  const [repo, setRepo] = useState(initial.kind === 'hub' ? initial.repo : 'HuggingFaceTB/SmolLM2-360M-Instruct');
  const [url, setUrl] = useState(initial.kind === 'url' ? initial.baseUrl : '');
  const [serverUrl, setServerUrl] = useState('http://127.0.0.1:8080/v1');
  const [apiKey, setApiKey] = useState('');
  const [folder, setFolder] = useState<{ name: string; files: { path: string; file: File }[] } | undefined>();
  const [dragging, setDragging] = useState(false);
  // React has no prop for it: the folder picker needs the attribute itself.
  const folderInput = (input: HTMLInputElement | null) => input?.setAttribute('webkitdirectory', '');

  const takeFiles = (files: File[]) => {
    if (files.length === 0) return;
    const first = files[0] as File & { webkitRelativePath?: string };
    const name = first.webkitRelativePath?.split('/')[0] || 'dropped folder';
    setFolder({ name, files: files.map((file) => ({ path: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name, file })) });
    setChoice('folder');
  };

  const source = (): ModelSource | undefined => {
    if (choice === 'builtin') return { kind: 'builtin' };
    if (choice.startsWith('server:')) return { kind: 'server', name: choice.slice('server:'.length) };
    if (choice === 'hub') return repo.trim() ? { kind: 'hub', repo: repo.trim() } : undefined;
    if (choice === 'url') return url.trim() ? { kind: 'url', baseUrl: url.trim() } : undefined;
    return folder ? { kind: 'files', ...folder } : undefined;
  };
  const busy = state.kind === 'loading' || state.kind === 'connecting';
  const progress = state.kind === 'loading' ? progressText(state.event) : undefined;
  // A download that broke off may well arrive whole the next time: nothing of it was cached.
  const retrySource = state.kind === 'failed' && state.error.code === 'download-failed' ? state.source : undefined;

  return (
    <section
      className={`panel model-picker${dragging ? ' dragging' : ''}`}
      aria-label="Model"
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(event) => {
        event.preventDefault();
        setDragging(false);
        takeFiles(Array.from(event.dataTransfer.files));
      }}
    >
      <div className="picker-row">
        <label>
          Model{' '}
          <select data-testid="model-select" value={choice} onChange={(event) => setChoice(event.target.value as Choice)} disabled={busy}>
            <option value="builtin">{BUILTIN_MODEL.name} (built in)</option>
            {serverModels.map((name) => (
              <option key={name} value={`server:${name}`}>
                {name} (dev server folder)
              </option>
            ))}
            <option value="hub">Hugging Face repo…</option>
            <option value="url">Base URL…</option>
            <option value="folder">Local folder…</option>
            <option value="openai">OpenAI-compatible server…</option>
          </select>
        </label>
        {choice === 'hub' && <input aria-label="Hugging Face repo id" value={repo} onChange={(e) => setRepo(e.target.value)} placeholder="org/model" size={36} />}
        {choice === 'url' && <input aria-label="Model base URL" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://…/model/" size={36} />}
        {choice === 'folder' && (
          <>
            <input ref={folderInput} data-testid="folder-input" type="file" multiple onChange={(e) => takeFiles(Array.from(e.target.files ?? []))} />
            <span className="muted">{folder ? `${folder.name}: ${folder.files.length} files` : 'or drop a folder on this panel'}</span>
          </>
        )}
        {choice === 'openai' && (
          <>
            <input aria-label="Server base URL" data-testid="server-url" value={serverUrl} onChange={(e) => setServerUrl(e.target.value)} placeholder="http://127.0.0.1:8080/v1" size={32} />
            <input aria-label="API key (optional)" data-testid="server-api-key" type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} placeholder="API key (optional)" size={16} />
          </>
        )}
        {choice !== 'openai' && (
            <label>
              KV cache{' '}
              <select data-testid="kv-dtype" value={props.kvDtype} onChange={(e) => props.onKvDtype(e.target.value as 'f16' | 'f32')} disabled={busy}>
                <option value="f16">f16</option>
                <option value="f32">f32</option>
              </select>
            </label>
        )}
        <button
          type="button"
          className="primary"
          data-testid="load-model"
          disabled={busy || (choice === 'openai' ? !serverUrl.trim() : !source())}
          onClick={() => {
            if (choice === 'openai') {
              props.onConnect({ baseUrl: serverUrl.trim(), apiKey: apiKey.trim() || undefined });
              return;
            }
            const s = source();
            if (s) props.onLoad(s);
          }}
        >
          {busy ? (choice === 'openai' ? 'Connecting…' : 'Loading…') : choice === 'openai' ? 'Connect' : 'Load'}
        </button>
        <button type="button" onClick={props.onClearCache} title="Delete downloaded models from this browser's Cache Storage">
          Clear download cache
        </button>
      </div>
      {progress && (
        <div className="load-progress" data-testid="load-progress">
          <progress max={1} value={progress.fraction} />
          <span>{progress.text}</span>
        </div>
      )}
      {state.kind === 'failed' && (
        <p className="error" role="alert" data-testid="load-error">
          {choice === 'openai' ? 'Could not use the server' : 'Could not load the model'}: {state.error.message}
          {retrySource && (
            <>
              {' '}
              <button type="button" className="primary" data-testid="retry-load" onClick={() => props.onLoad(retrySource)}>
                Retry download
              </button>
            </>
          )}
        </p>
      )}
      {state.kind === 'loaded' && (
        <p className="muted" data-testid="model-info">
          <strong>{state.info.description}</strong> · {state.info.config.architecture}, {state.info.config.numLayers} layers, {state.info.config.numHeads}/
          {state.info.config.numKvHeads} heads · {formatBytes(state.info.weightBytes)} of weights · context {state.info.maxContext} · KV {state.info.kvDtype}, {state.info.kvPagesTotal} pages of{' '}
          {state.info.pageSize} tokens, within a KV budget of {formatBytes(state.info.kvBudgetBytes)} from the adapter's limits
        </p>
      )}
      {state.kind === 'connected' && (
        <p className="muted" data-testid="server-info">
          <strong>{state.address.baseUrl}</strong> · model{' '}
          <select data-testid="server-model" value={state.model} onChange={(e) => props.onServerModel(e.target.value)}>
            {state.models.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>{' '}
          · the server runs it; the chat streams its answers
        </p>
      )}
    </section>
  );
}
