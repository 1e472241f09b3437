import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ModelSource } from '../engine/modelSource.ts';
import type { SerializedEngineError } from '../errors/engineError.ts';
import { OpenAIError } from '../engine/openai/openaiError.ts';
import type { ChatCompletionCreateParamsStreaming, LeanDecodeTimings } from '../engine/openai/types.ts';
import type { TestFault } from '../engine/testFaults.ts';
import type { Result, StressRequest } from '../engine/worker.ts';
import type { StressEvent } from '../engine/stress.ts';
import { defaultGrid } from '../kernels/attention/plan.ts';
import { abortable } from './abortable.ts';
import { AttentionPanel } from './AttentionPanel.tsx';
import type { TimedStep } from './attentionBreakdown.ts';
import type { ChatClient } from './chatClient.ts';
import { ChatPage, type ChatEntry, type ChatSettings, type ChatStatus } from './ChatPage.tsx';
import { Comlink, startEngineWorker, WorkerCrashed, type EngineWorker } from './engineClient.ts';
import { EngineFaultNotice, type EngineFault } from './EngineFaultNotice.tsx';
import { GpuStatus, type GpuState } from './GpuStatus.tsx';
import { httpChatClient, type ServerAddress } from './httpChatClient.ts';
import { requestMessages } from './chatRequest.ts';
import { DEFAULT_SETTINGS, restoreChatSettings, restoreDraft } from './chatSettings.ts';
import { checkJsonSchema } from './jsonSchema.ts';
import { ModelPicker, type LoadState } from './ModelPicker.tsx';
import { NeedsEngine } from './NeedsEngine.tsx';
import { StressPage, type StressState } from './StressPage.tsx';
import { restoreMessages } from './storedMessages.ts';
import { restoreKvDtype, restoreModelSource } from './storedModelSource.ts';
import { useStoredState } from './storedState.ts';
import { workerChatClient } from './workerChatClient.ts';

type Tab = 'chat' | 'attention' | 'stress';

/** The end-to-end tests inject faults into the engine worker on a page opened with `?test-faults` (see testFaults.ts). */
const TEST_FAULTS = new URLSearchParams(location.search).has('test-faults');

declare global {
  interface Window {
    /** The tests' handle on the worker's fault hooks: only on a page opened with `?test-faults`. */
    armTestFault?: (fault: TestFault) => Promise<Result<void>>;
  }
}

/** Where the chat's answers come from: the engine in this page's worker, or an OpenAI-compatible server. */
type Backend = { kind: 'engine'; client: ChatClient; model: string } | { kind: 'server'; client: ChatClient; model: string };

export function App() {
  const worker = useRef<EngineWorker | undefined>(undefined);
  const [fault, setFault] = useState<EngineFault | undefined>();
  const [gpu, setGpu] = useState<GpuState>({ kind: 'probing' });
  const [serverModels, setServerModels] = useState<string[]>([]);
  const [load, setLoad] = useState<LoadState>({ kind: 'idle' });
  // The model loaded last and its KV precision load again after a reload (a first visit: the built-in model).
  const [lastSource, setLastSource] = useStoredState<ModelSource>('lean-decode.model-source', { kind: 'builtin' }, restoreModelSource);
  const [kvDtype, setKvDtype] = useStoredState<'f16' | 'f32'>('lean-decode.kv-dtype', 'f16', restoreKvDtype);
  const [profiling, setProfiling] = useState<'timestamps' | 'cpu' | undefined>();
  const [tab, setTab] = useState<Tab>('chat');
  // The conversation, the settings and the message being typed outlive a reload of the page (the next turn prefills
  // the restored conversation into the engine).
  const [messages, setMessages] = useStoredState<ChatEntry[]>('lean-decode.messages', [], restoreMessages, { writeEveryMs: 500 });
  const [draft, setDraft] = useStoredState('lean-decode.draft', '', restoreDraft);
  const [status, setStatus] = useState<ChatStatus>({ generating: false });
  const [chatError, setChatError] = useState<string | undefined>();
  const [settings, setSettings] = useStoredState<ChatSettings>('lean-decode.chat-settings', DEFAULT_SETTINGS, restoreChatSettings);
  const [steps, setSteps] = useState<TimedStep[]>([]);
  const [stress, setStress] = useState<StressState>({ running: false, points: [] });
  const [calibration, setCalibration] = useState<{ grid: number; timings: { grid: number; ms: number }[] } | string | undefined>();
  /** The engine's conversation (its KV cached across turns), while the chat talks to the in-browser engine. */
  const conversation = useRef<number | undefined>(undefined);
  const generation = useRef<AbortController | undefined>(undefined);

  /** Loads a model into the engine worker; false when it did not load (the model panel then says why). */
  const loadModel = useCallback(
    async (source: ModelSource, options?: { profiling?: 'timestamps' | 'cpu'; kvDtype?: 'f16' | 'f32' }): Promise<boolean> => {
      if (!worker.current) return false;
      const { remote, crashed } = worker.current;
      setLastSource(source);
      setLoad({ kind: 'loading', source });
      try {
        const result = await abortable(
          remote.load(
            source,
            { kvDtype: options?.kvDtype ?? kvDtype, attention: settings.attention, profiling: options?.profiling ?? profiling },
            // Progress comes through its own message port and may trail the result: never let it undo 'loaded'.
            Comlink.proxy((event) => setLoad((current) => (current.kind === 'loading' ? { kind: 'loading', source, event } : current))),
          ),
          crashed,
        );
        if (!result.ok) {
          setLoad({ kind: 'failed', error: result.error, source });
          return false;
        }
        conversation.current = await abortable(remote.newConversation(), crashed);
        const [model] = (await abortable(remote.models.list(), crashed)).data;
        setLoad({ kind: 'loaded', info: result.value, model: model.id });
        setStatus({ generating: false, maxContext: result.value.maxContext });
        setSteps([]);
        return true;
      } catch (error) {
        if (!(error instanceof WorkerCrashed)) throw error;
        setLoad({ kind: 'failed', error: { message: `${error.message} while it loaded the model` }, source });
        return false;
      }
    },
    [kvDtype, settings.attention, profiling],
  );

  const connect = async (address: ServerAddress) => {
    setLoad({ kind: 'connecting', address });
    try {
      const models = (await httpChatClient(address).models.list()).data.map((model) => model.id);
      if (models.length === 0) throw new Error(`${address.baseUrl}/models lists no model`);
      setLoad({ kind: 'connected', address, models, model: models[0] });
      setStatus({ generating: false });
    } catch (error) {
      setLoad({ kind: 'failed', error: { message: error instanceof Error ? error.message : String(error) } });
    }
  };

  const start = useCallback(async () => {
    worker.current?.terminate();
    const started = startEngineWorker(
      (crash) => {
        // A worker already replaced is no concern of ours.
        if (worker.current === started) recoverRef.current({ kind: 'worker-crash', message: crash.message }, true);
      },
      { testFaults: TEST_FAULTS },
    );
    worker.current = started;
    setGpu({ kind: 'probing' });
    try {
      const probe = await abortable(started.remote.probe(), started.crashed);
      setGpu(probe.ok ? { kind: 'ready', report: probe.value } : { kind: 'failed', error: probe.error });
      setServerModels(await abortable(started.remote.serverModels(), started.crashed));
      return probe.ok;
    } catch (error) {
      if (!(error instanceof WorkerCrashed)) throw error;
      setGpu({ kind: 'failed', error: { code: 'internal', message: `${error.message} while it looked for a WebGPU adapter` } });
      return false;
    }
  }, []);

  useEffect(() => {
    let cancelled = false;
    start().then((ok) => {
      // The model of the last visit, or on a first visit the built-in model, served by the app itself.
      if (ok && !cancelled) loadModel(lastSource);
    });
    return () => {
      cancelled = true;
    };
    // Only on mount: later loads are the user's.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    if (TEST_FAULTS) window.armTestFault = async (testFault) => worker.current!.remote.armTestFault(testFault);
  }, []);

  const recovering = useRef(false);
  /**
   * After a fault, the last model loaded again (in a new worker when `freshWorker`), as the fault notice tells. The
   * conversation stays in the page: the next message sends it whole, and the engine prefills it again.
   */
  const recover = async (what: Omit<EngineFault, 'recovery'>, freshWorker: boolean) => {
    // A fault during a recovery fails that recovery (its calls to the worker fail with it): no retry loop.
    if (recovering.current) return;
    recovering.current = true;
    setFault({ ...what, recovery: 'reloading' });
    setStatus((s) => ({ ...s, generating: false }));
    try {
      const loaded = (!freshWorker || (await start())) && (await loadModel(lastSource));
      setFault({ ...what, recovery: loaded ? 'ready' : 'failed' });
    } finally {
      recovering.current = false;
    }
  };
  // The worker's crash handler outlives renders: it calls the latest recover, which knows the latest model.
  const recoverRef = useRef(recover);
  recoverRef.current = recover;

  /** An engine error as the page shows it; a lost device also reloads the model on a new one. */
  const reportEngineError = (error: SerializedEngineError): string => {
    if (error.code === 'gpu-device-lost') void recover({ kind: 'device-lost', message: error.message }, false);
    return error.message;
  };

  const backend = useMemo((): Backend | undefined => {
    if (load.kind === 'connected') return { kind: 'server', client: httpChatClient(load.address), model: load.model };
    if (load.kind === 'loaded' && worker.current) {
      return { kind: 'engine', client: workerChatClient(worker.current.remote, worker.current.crashed), model: load.model };
    }
    return undefined;
  }, [load]);

  const generate = async (history: ChatEntry[]) => {
    if (!backend) return;
    const schema = settings.jsonMode ? checkJsonSchema(settings.jsonSchema) : undefined;
    if (schema && 'error' in schema) return;
    const abort = (generation.current = new AbortController());
    setChatError(undefined);
    setFault(undefined);
    setMessages([...history, { role: 'assistant', content: '', json: schema !== undefined, writing: true }]);
    setStatus((s) => ({ generating: true, maxContext: s.maxContext, completionTokens: 0 }));
    const params: ChatCompletionCreateParamsStreaming = {
      model: backend.model,
      messages: requestMessages(history, settings.systemPrompt, backend.kind === 'engine' && settings.raw),
      ...(schema && { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: schema.schema, strict: true } } }),
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: settings.maxTokens,
      temperature: settings.temperature,
      top_p: settings.topP,
      ...(backend.kind === 'engine' && { lean_decode: { attention: settings.attention, conversation: conversation.current, timings: true, raw: settings.raw } }),
    };
    /** The answer being written was cut by a fault: it stays, marked so. */
    const markCut = (reason: string) =>
      setMessages((current) => {
        const last = current[current.length - 1];
        return last?.role === 'assistant' ? [...current.slice(0, -1), { ...last, cutShort: reason }] : current;
      });
    // Tokens/s as the chunks arrive, from the first content on; the engine's own figure replaces it at the end.
    let firstContentAt: number | undefined;
    let contentChunks = 0;
    try {
      for await (const chunk of await backend.client.chat.completions.create(params, { signal: abort.signal })) {
        const choice = chunk.choices[0];
        const text = choice?.delta.content;
        if (text) {
          setMessages((current) => {
            const last = current[current.length - 1];
            return [...current.slice(0, -1), { ...last, content: last.content + text }];
          });
          const now = performance.now();
          firstContentAt ??= now;
          contentChunks++;
          const tokensPerSecond = contentChunks > 1 ? ((contentChunks - 1) * 1000) / (now - firstContentAt) : undefined;
          setStatus((s) => ({ ...s, completionTokens: contentChunks, tokensPerSecond }));
        }
        if (choice?.finish_reason) setStatus((s) => ({ ...s, finishReason: choice.finish_reason ?? undefined }));
        if (chunk.lean_decode) {
          const timings = chunk.lean_decode;
          setStatus((s) => ({ ...s, timings, tokensPerSecond: timings.tokens_per_second }));
          if (load.kind === 'loaded') setSteps((s) => [...s, ...timedSteps(timings, load.info.profiling, s.at(-1)?.step ?? 0)].slice(-500));
        }
        if (chunk.usage) {
          const usage = chunk.usage;
          setStatus((s) => ({ ...s, usage, completionTokens: usage.completion_tokens }));
        }
      }
    } catch (error) {
      // The text so far stays in the chat: a fault notice says what happened, and the model reloads by itself.
      if (abort.signal.aborted) setStatus((s) => ({ ...s, finishReason: 'aborted' }));
      // The worker's crash handler restarts it.
      else if (error instanceof WorkerCrashed) markCut('the engine worker crashed');
      else if (error instanceof OpenAIError && error.code === 'gpu_device_lost') {
        markCut('the GPU device was lost');
        reportEngineError({ code: 'gpu-device-lost', message: error.message });
      }
      else setChatError(error instanceof Error ? error.message : String(error));
    } finally {
      setStatus((s) => ({ ...s, generating: false }));
      setMessages((current) => current.map(({ writing: _, ...message }) => message));
    }
  };

  const send = (text: string) => {
    // A schema that does not check sends nothing: the editor says why, and the message stays in the box.
    if (settings.jsonMode && 'error' in checkJsonSchema(settings.jsonSchema)) return;
    setDraft('');
    generate([...messages.filter((m) => m.content !== '' || m.role !== 'assistant'), { role: 'user', content: text }]);
  };

  const regenerate = () => {
    const lastUser = messages.map((m) => m.role).lastIndexOf('user');
    if (lastUser >= 0) generate(messages.slice(0, lastUser + 1));
  };

  const clear = async () => {
    setMessages([]);
    setSteps([]);
    setStatus((s) => ({ generating: false, maxContext: s.maxContext }));
    const remote = worker.current?.remote;
    if (remote && conversation.current !== undefined) {
      await remote.endConversation(conversation.current);
      conversation.current = await remote.newConversation();
    }
  };

  const runStress = async (request: StressRequest) => {
    const remote = worker.current?.remote;
    if (!remote) return;
    setStress({ running: true, points: [] });
    const result = await remote.stress(
      request,
      Comlink.proxy((event: StressEvent) => {
        if (event.kind === 'fill') setStress((s) => ({ ...s, fill: { filled: event.filled, target: event.target } }));
        else setStress((s) => ({ ...s, points: [...s.points, event.point] }));
      }),
    );
    setStress((s) => ({ ...s, running: false, error: result.ok ? undefined : reportEngineError(result.error) }));
  };

  const calibrate = async () => {
    const remote = worker.current?.remote;
    if (!remote) return;
    setCalibration('calibrating…');
    const result = await remote.calibrate();
    if (result.ok) {
      setCalibration(result.value);
      setLoad((l) => (l.kind === 'loaded' ? { ...l, info: { ...l.info, grid: result.value.grid } } : l));
    } else {
      setCalibration(reportEngineError(result.error));
    }
  };

  const model = load.kind === 'loaded' ? load.info : undefined;
  const timestampQuery = gpu.kind === 'ready' && gpu.report.features.timestampQuery;
  const server = load.kind === 'connected' ? load.address.baseUrl : undefined;

  return (
    <div className="app">
      <header className="app-header">
        <h1>lean-decode</h1>
        <span className="tagline">LLM decoding on WebGPU with LeanAttention</span>
        <nav className="tabs" role="tablist">
          {(['chat', 'attention', 'stress'] as Tab[]).map((t) => (
            <button key={t} role="tab" aria-selected={tab === t} data-testid={`tab-${t}`} className={tab === t ? 'active' : ''} onClick={() => setTab(t)}>
              {t === 'chat' ? 'Chat' : t === 'attention' ? 'Attention breakdown' : 'Long-context stress'}
            </button>
          ))}
        </nav>
      </header>
      <GpuStatus state={gpu} />
      {fault && <EngineFaultNotice fault={fault} onRestart={() => recover(fault, true)} />}
      <ModelPicker
        serverModels={serverModels}
        initialSource={lastSource}
        state={load}
        kvDtype={kvDtype}
        onKvDtype={setKvDtype}
        onLoad={(source) => loadModel(source)}
        onConnect={connect}
        onServerModel={(id) => setLoad((l) => (l.kind === 'connected' ? { ...l, model: id } : l))}
        onClearCache={() => worker.current?.remote.clearModelCache()}
      />
      {chatError && (
        <p className="error" role="alert" data-testid="chat-error">
          {chatError}
        </p>
      )}
      <main>
        <div hidden={tab !== 'chat'}>
          <ChatPage
            messages={messages}
            status={status}
            settings={settings}
            engineSettings={backend?.kind !== 'server'}
            builtinModel={backend?.kind === 'engine' && lastSource.kind === 'builtin'}
            modelLoaded={!!backend}
            draft={draft}
            onDraft={setDraft}
            onSettings={setSettings}
            onSend={send}
            onStop={() => generation.current?.abort()}
            onRegenerate={regenerate}
            onClear={clear}
          />
        </div>
        {tab === 'attention' &&
          (server ? (
            <NeedsEngine page="The attention breakdown" server={server} />
          ) : (
            <AttentionPanel
              steps={steps}
              timestampQuery={timestampQuery}
              profiling={model?.profiling}
              onCpuProfiling={() => {
                setProfiling('cpu');
                loadModel(lastSource, { profiling: 'cpu' });
              }}
            />
          ))}
        {tab === 'stress' &&
          (server ? (
            <NeedsEngine page="The long-context stress sweep" server={server} />
          ) : (
            <StressPage
              model={model}
              defaultGrid={gpu.kind === 'ready' ? defaultGrid(gpu.report.adapter) : undefined}
              limits={gpu.kind === 'ready' ? gpu.report.limits : undefined}
              state={stress}
              onRun={runStress}
              calibration={calibration}
              onCalibrate={calibrate}
            />
          ))}
      </main>
    </div>
  );
}

/** A generation's profiled decode steps as the attention panel keeps them, numbered on from the panel's last. */
function timedSteps(timings: LeanDecodeTimings, profiling: string, lastStep: number): TimedStep[] {
  const method = profiling === 'timestamps' ? 'timestamp-query' : 'cpu';
  const profiled = timings.steps.flatMap(({ context_length, step_ms, attention_ms, whole_step_ms }) =>
    step_ms === undefined || attention_ms === undefined
      ? []
      : [{ contextLength: context_length, timing: { stepMs: step_ms, attentionMs: attention_ms, method, wholeStepMs: whole_step_ms } as const }],
  );
  return profiled.map((step, index) => ({ step: lastStep + index + 1, ...step }));
}
