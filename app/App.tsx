import { useCallback, useEffect, useRef, useState } from 'react';
import type { ModelSource } from '../engine/modelSource.ts';
import type { SerializedEngineError } from '../errors/engineError.ts';
import type { ChatEvent, StressRequest } from '../engine/worker.ts';
import type { StressEvent } from '../engine/stress.ts';
import type { ChatMessage } from '../engine/tokenizer.ts';
import { AttentionPanel } from './AttentionPanel.tsx';
import type { TimedStep } from './attentionBreakdown.ts';
import { ChatPage, type ChatSettings, type ChatStatus } from './ChatPage.tsx';
import { Comlink, startEngineWorker, type EngineRemote } from './engineClient.ts';
import { GpuStatus, type GpuState } from './GpuStatus.tsx';
import { ModelPicker, type LoadState } from './ModelPicker.tsx';
import { StressPage, type StressState } from './StressPage.tsx';

type Tab = 'chat' | 'attention' | 'stress';

const DEFAULT_SETTINGS: ChatSettings = { temperature: 0, topP: 0.9, maxTokens: 256, attention: 'lean', raw: false };

export function App() {
  const worker = useRef<{ remote: EngineRemote; terminate: () => void } | undefined>(undefined);
  const [crash, setCrash] = useState<string | undefined>();
  const [gpu, setGpu] = useState<GpuState>({ kind: 'probing' });
  const [serverModels, setServerModels] = useState<string[]>([]);
  const [load, setLoad] = useState<LoadState>({ kind: 'idle' });
  const [lastSource, setLastSource] = useState<ModelSource>({ kind: 'builtin' });
  const [kvDtype, setKvDtype] = useState<'f16' | 'f32'>('f16');
  const [profiling, setProfiling] = useState<'timestamps' | 'cpu' | undefined>();
  const [tab, setTab] = useState<Tab>('chat');
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState('');
  const [status, setStatus] = useState<ChatStatus>({ generating: false });
  const [chatError, setChatError] = useState<string | undefined>();
  const [settings, setSettings] = useState<ChatSettings>(DEFAULT_SETTINGS);
  const [steps, setSteps] = useState<TimedStep[]>([]);
  const [stress, setStress] = useState<StressState>({ running: false, points: [] });
  const [calibration, setCalibration] = useState<{ grid: number; timings: { grid: number; ms: number }[] } | string | undefined>();

  const fail = useCallback((error: SerializedEngineError) => {
    if (error.code === 'gpu-device-lost') setCrash(error.message);
    return error;
  }, []);

  const loadModel = useCallback(
    async (source: ModelSource, options?: { profiling?: 'timestamps' | 'cpu'; kvDtype?: 'f16' | 'f32' }) => {
      const remote = worker.current?.remote;
      if (!remote) return;
      setLastSource(source);
      setLoad({ kind: 'loading', source });
      const result = await remote.load(
        source,
        { kvDtype: options?.kvDtype ?? kvDtype, attention: settings.attention, profiling: options?.profiling ?? profiling },
        // Progress comes through its own message port and may trail the result: never let it undo 'loaded'.
        Comlink.proxy((event) => setLoad((current) => (current.kind === 'loading' ? { kind: 'loading', source, event } : current))),
      );
      setLoad(result.ok ? { kind: 'loaded', info: result.value } : { kind: 'failed', error: fail(result.error) });
      if (result.ok) {
        setStatus({ generating: false, maxContext: result.value.maxContext });
        setSteps([]);
      }
    },
    [kvDtype, settings.attention, profiling, fail],
  );

  const start = useCallback(async () => {
    worker.current?.terminate();
    const started = startEngineWorker((message) => setCrash(message));
    worker.current = started;
    setCrash(undefined);
    setGpu({ kind: 'probing' });
    const probe = await started.remote.probe();
    setGpu(probe.ok ? { kind: 'ready', report: probe.value } : { kind: 'failed', error: probe.error });
    setServerModels(await started.remote.serverModels());
    return probe.ok;
  }, []);

  useEffect(() => {
    let cancelled = false;
    start().then((ok) => {
      // First visit: the built-in model, served by the app itself.
      if (ok && !cancelled) loadModel({ kind: 'builtin' });
    });
    return () => {
      cancelled = true;
    };
    // Only on mount: later loads are the user's.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const restart = async () => {
    setStatus((s) => ({ ...s, generating: false }));
    if (await start()) await loadModel(lastSource);
  };

  const generate = async (conversation: ChatMessage[]) => {
    const remote = worker.current?.remote;
    if (!remote) return;
    setChatError(undefined);
    setMessages([...conversation, { role: 'assistant', content: '' }]);
    setStatus((s) => ({ ...s, generating: true, stopReason: undefined }));
    // Events come through their own message port and may trail the call's result: the stream ends at 'done'.
    let ended = () => {};
    const streamEnded = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const onEvent = (event: ChatEvent) => {
      if (event.kind === 'prompt') {
        setStatus((s) => ({ ...s, promptTokens: event.promptTokens, reusedTokens: event.reusedTokens, prefillMs: event.prefillMs }));
      } else if (event.kind === 'token') {
        setMessages((current) => {
          const last = current[current.length - 1];
          return [...current.slice(0, -1), { ...last, content: last.content + event.text }];
        });
        setStatus((s) => ({ ...s, stats: event.stats }));
        const timing = event.stats.timing;
        if (timing) {
          setSteps((s) => [...s.slice(-499), { step: (s.at(-1)?.step ?? 0) + 1, contextLength: event.stats.contextLength, timing }]);
        }
      } else {
        if (event.tail) {
          setMessages((current) => {
            const last = current[current.length - 1];
            return [...current.slice(0, -1), { ...last, content: last.content + event.tail }];
          });
        }
        setStatus((s) => ({ ...s, stopReason: event.reason }));
        ended();
      }
    };
    const result = await remote.chat({ messages: conversation, raw: settings.raw, maxTokens: settings.maxTokens, sampling: samplingOf(settings), attention: settings.attention }, Comlink.proxy(onEvent));
    if (result.ok) await streamEnded;
    setStatus((s) => ({ ...s, generating: false }));
    if (!result.ok) setChatError(fail(result.error).message);
  };

  const send = (text: string) => {
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
    await worker.current?.remote.resetConversation();
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
    setStress((s) => ({ ...s, running: false, error: result.ok ? undefined : fail(result.error).message }));
  };

  const calibrate = async () => {
    const remote = worker.current?.remote;
    if (!remote) return;
    setCalibration('calibrating…');
    const result = await remote.calibrate();
    if (result.ok) {
      setCalibration(result.value);
      setLoad((l) => (l.kind === 'loaded' ? { kind: 'loaded', info: { ...l.info, grid: result.value.grid } } : l));
    } else {
      setCalibration(fail(result.error).message);
    }
  };

  const model = load.kind === 'loaded' ? load.info : undefined;
  const timestampQuery = gpu.kind === 'ready' && gpu.report.features.timestampQuery;

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
      {crash && (
        <div className="crash" role="alert" data-testid="crash">
          The engine stopped: {crash}. Your conversation is kept.{' '}
          <button type="button" className="primary" onClick={restart}>
            Restart engine and reload the model
          </button>
        </div>
      )}
      <ModelPicker
        serverModels={serverModels}
        state={load}
        kvDtype={kvDtype}
        onKvDtype={setKvDtype}
        onLoad={(source) => loadModel(source)}
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
            builtinModel={lastSource.kind === 'builtin'}
            modelLoaded={!!model}
            draft={draft}
            onDraft={setDraft}
            onSettings={setSettings}
            onSend={send}
            onStop={() => worker.current?.remote.stop()}
            onRegenerate={regenerate}
            onClear={clear}
          />
        </div>
        {tab === 'attention' && (
          <AttentionPanel
            steps={steps}
            timestampQuery={timestampQuery}
            profiling={model?.profiling}
            onCpuProfiling={() => {
              setProfiling('cpu');
              loadModel(lastSource, { profiling: 'cpu' });
            }}
          />
        )}
        {tab === 'stress' && <StressPage model={model} state={stress} onRun={runStress} calibration={calibration} onCalibrate={calibrate} />}
      </main>
    </div>
  );
}

function samplingOf(settings: ChatSettings) {
  const greedy = settings.temperature <= 0;
  return { temperature: settings.temperature, topP: settings.topP, topK: 0, repetitionPenalty: 1, seed: Math.floor(Math.random() * 2 ** 31), greedy };
}
