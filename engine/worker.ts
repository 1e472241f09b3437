import * as Comlink from 'comlink';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { cacheStorageCalibrationStore, type GridCalibration } from '../kernels/attention/calibrate.ts';
import { Engine, type LoadProgress, type ModelInfo } from './engine.ts';
import { EngineError, serializeError, type SerializedEngineError } from '../errors/engineError.ts';
import { createBrowserGpuContext } from '../kernels/gpu/browser.ts';
import { reportGpu, type GpuReport } from './gpuReport.ts';
import { clearModelCache, type DownloadEvent } from './loader/urlFiles.ts';
import { modelFilesFor, SERVER_MODELS_PATH, type ModelSource } from './modelSource.ts';
import { iteratorPort, type IteratorPort } from './openai/iteratorPort.ts';
import { OpenAIEngine } from './openai/openaiEngine.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParams, ModelList } from './openai/types.ts';
import type { ProfilingMode } from './stepRecorder.ts';
import { stressSynthetic, type StressEvent, type SyntheticShape } from './stress.ts';
import { TEST_FAULTS_WORKER_NAME, TestFaults, type TestFault } from './testFaults.ts';

export type Result<T> = { ok: true; value: T } | { ok: false; error: SerializedEngineError };

export type LoadEvent = LoadProgress | ({ phase: 'downloading' } & DownloadEvent);

export interface StressRequest {
  contexts: number[];
  kernels: AttentionKernel[];
  /** Synthetic KV of this shape instead of the loaded model. */
  synthetic?: SyntheticShape;
}

async function attempt<T>(work: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

let enginePromise: Promise<Engine> | undefined;
/** The loaded model behind OpenAI's interface, and its engine (undefined before a load, and while one runs). */
let loaded: { engine: Engine; openai: OpenAIEngine } | undefined;
const calibrations = cacheStorageCalibrationStore();
const testFaults = new TestFaults(self.name === TEST_FAULTS_WORKER_NAME);

function engine(): Promise<Engine> {
  // A lost device fails the generation it cuts short with gpu-device-lost (the text so far with it); the next load,
  // or the next request, opens a new device and uploads the model again (Engine.load, Engine.reload).
  enginePromise ??= createBrowserGpuContext().then(
    (context) => new Engine(context, createBrowserGpuContext),
    (error) => {
      enginePromise = undefined;
      throw error;
    },
  );
  return enginePromise;
}

/**
 * The engine as the UI sees it, through comlink: OpenAI's `chat.completions.create` and `models.list` (wrapped back
 * into OpenAIEngine's types by app/workerChatClient.ts), and beside them loading, calibration and the stress sweep.
 * Those resolve to a Result so that errors cross the boundary typed; progress comes through callbacks the UI passes
 * with Comlink.proxy.
 */
const api = {
  async probe(): Promise<Result<GpuReport>> {
    return attempt(async () => reportGpu((await engine()).context));
  },

  /** Model folders the dev server exposes ($LEAN_DECODE_MODELS), if any. */
  async serverModels(): Promise<string[]> {
    try {
      const response = await fetch(new URL(`${SERVER_MODELS_PATH}index.json`, self.location.origin).href);
      return response.ok ? ((await response.json()) as string[]) : [];
    } catch {
      return [];
    }
  },

  async load(source: ModelSource, options: { kvDtype: 'f16' | 'f32'; attention: AttentionKernel; profiling?: ProfilingMode }, onProgress: (event: LoadEvent) => void): Promise<Result<ModelInfo>> {
    return attempt(async () => {
      const e = await engine();
      loaded = undefined;
      const files = modelFilesFor(source, self.location.origin, (download) => onProgress({ phase: 'downloading', ...download }));
      const info = await e.load(files, { ...options, maxContext: 'model', onProgress });
      loaded = { engine: e, openai: new OpenAIEngine(e) };
      return info;
    });
  },

  /** A conversation whose KV is cached across turns: pass it as `lean_decode.conversation`. */
  async newConversation(): Promise<number> {
    return (await engine()).newConversation();
  },

  /** Forgets a conversation's cached KV (a cleared chat starts from nothing). */
  async endConversation(id: number): Promise<void> {
    (await engine()).endConversation(id);
  },

  /**
   * OpenAI's `chat.completions.create`, as OpenAIEngine's: the answer comes through a port (see iteratorPort.ts),
   * the chunks with `stream: true`, else one ChatCompletion. Closing the port stops the generation where it is.
   * (Comlink follows `chat.completions.create` by its path; the objects are marked so that its types do too.)
   */
  chat: Comlink.proxy({
    completions: Comlink.proxy({
      create(params: ChatCompletionCreateParams): IteratorPort<ChatCompletion | ChatCompletionChunk> & Comlink.ProxyMarked {
        return iteratorPort<ChatCompletion | ChatCompletionChunk>(async () => {
          if (!loaded) throw new EngineError('invalid-argument', 'no model is loaded: pick one and press Load');
          const { engine: e, openai } = loaded;
          if (params.stream) {
            const chunks = await openai.chat.completions.create(params);
            return testFaults.stream(chunks, (chunk) => !!chunk.choices[0]?.delta.content, { destroyDevice: () => e.context.destroy() });
          }
          const completion = await openai.chat.completions.create(params);
          return (async function* () {
            yield completion;
          })();
        });
      },
    }),
  }),

  models: Comlink.proxy({
    /** The loaded model (none before a load). */
    list(): ModelList {
      return loaded?.openai.models.list() ?? { object: 'list', data: [] };
    },
  }),

  async stress(request: StressRequest, onEvent: (event: StressEvent) => void): Promise<Result<void>> {
    return attempt(async () => {
      const e = await engine();
      if (request.synthetic) {
        await stressSynthetic(e.context, request.synthetic, request.contexts, request.kernels, e.model?.grid, onEvent);
      } else {
        if (!e.model) throw new EngineError('invalid-argument', 'no model is loaded: load one, or choose synthetic KV');
        await e.stress(request.contexts, request.kernels, onEvent);
      }
    });
  },

  /** Calibrates the LeanAttention grid for the loaded model on this adapter (remembered in Cache Storage). */
  async calibrate(): Promise<Result<GridCalibration>> {
    return attempt(async () => {
      const e = await engine();
      await calibrations.ready;
      return e.calibrate(calibrations, 4096);
    });
  },

  async clearModelCache(): Promise<boolean> {
    return clearModelCache();
  },

  /** Arms a fault for the next streamed answer (end-to-end tests only: see testFaults.ts). */
  async armTestFault(fault: TestFault): Promise<Result<void>> {
    return attempt(async () => testFaults.arm(fault));
  },
};

export type EngineWorkerApi = typeof api;

Comlink.expose(api);
