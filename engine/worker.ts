import * as Comlink from 'comlink';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { cacheStorageCalibrationStore, type GridCalibration } from '../kernels/attention/calibrate.ts';
import type { SamplingSettings } from '../kernels/model/sampler.ts';
import { Engine, type GenerationEvent, type LoadProgress, type ModelInfo, type StopReason } from './engine.ts';
import { EngineError, serializeError, type SerializedEngineError } from '../errors/engineError.ts';
import { createBrowserGpuContext } from '../kernels/gpu/browser.ts';
import { reportGpu, type GpuReport } from './gpuReport.ts';
import { clearModelCache, type DownloadEvent } from './loader/urlFiles.ts';
import { modelFilesFor, SERVER_MODELS_PATH, type ModelSource } from './modelSource.ts';
import { stressSynthetic, type StressEvent, type SyntheticShape } from './stress.ts';
import type { ChatMessage } from './tokenizer.ts';

export type Result<T> = { ok: true; value: T } | { ok: false; error: SerializedEngineError };

export type LoadEvent = LoadProgress | ({ phase: 'downloading' } & DownloadEvent);

export interface ChatRequest {
  messages: ChatMessage[];
  /** Send the last user message as it is, without the chat template. */
  raw?: boolean;
  maxTokens: number;
  sampling: SamplingSettings;
  attention: AttentionKernel;
}

/** What the UI sees of a generation: plain data (no typed arrays of logits). */
export type ChatEvent =
  | { kind: 'prompt'; promptTokens: number; reusedTokens: number; prefillMs: number }
  | Extract<GenerationEvent, { kind: 'token' }>
  | { kind: 'done'; reason: StopReason; text: string; tail: string; generatedTokens: number };

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
let abort: AbortController | undefined;
let conversation: number | undefined;
const calibrations = cacheStorageCalibrationStore();

function engine(): Promise<Engine> {
  // A lost device makes every later call fail with gpu-device-lost; the UI then restarts the worker.
  enginePromise ??= createBrowserGpuContext().then(
    (context) => new Engine(context),
    (error) => {
      enginePromise = undefined;
      throw error;
    },
  );
  return enginePromise;
}

/**
 * The engine as the UI sees it, through comlink. Every call resolves to a Result so that errors cross the boundary
 * typed; streams arrive through callbacks the UI passes with Comlink.proxy.
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

  async load(source: ModelSource, options: { kvDtype: 'f16' | 'f32'; attention: AttentionKernel; profiling?: 'timestamps' | 'cpu' }, onProgress: (event: LoadEvent) => void): Promise<Result<ModelInfo>> {
    return attempt(async () => {
      const e = await engine();
      conversation = undefined;
      const files = modelFilesFor(source, self.location.origin, (download) => onProgress({ phase: 'downloading', ...download }));
      const profiling = options.profiling ?? (e.context.features.timestampQuery ? 'timestamps' : 'cpu');
      return e.load(files, { kvDtype: options.kvDtype, attention: options.attention, profiling, maxContext: 4096, onProgress });
    });
  },

  async chat(request: ChatRequest, onEvent: (event: ChatEvent) => void): Promise<Result<void>> {
    return attempt(async () => {
      const e = await engine();
      if (!e.model) throw new EngineError('invalid-argument', 'no model is loaded: pick one and press Load');
      conversation ??= e.newConversation();
      abort = new AbortController();
      const last = request.messages.at(-1);
      const prompt = request.raw ? { prompt: last?.content ?? '' } : { messages: request.messages };
      for await (const event of e.generate({ ...prompt, maxTokens: request.maxTokens, sampling: request.sampling, attention: request.attention, conversation, signal: abort.signal })) {
        if (event.kind === 'prompt') onEvent({ kind: 'prompt', promptTokens: event.promptIds.length, reusedTokens: event.reusedTokens, prefillMs: event.prefillMs });
        else if (event.kind === 'token') onEvent(event);
        else onEvent({ kind: 'done', reason: event.reason, text: event.text, tail: event.tail, generatedTokens: event.generatedIds.length });
      }
    });
  },

  stop(): void {
    abort?.abort();
  },

  /** Forgets the conversation's cached KV (a cleared chat starts from nothing). */
  async resetConversation(): Promise<void> {
    const e = await engine();
    if (conversation !== undefined) e.endConversation(conversation);
    conversation = undefined;
  },

  async stress(request: StressRequest, onEvent: (event: StressEvent) => void): Promise<Result<void>> {
    return attempt(async () => {
      const e = await engine();
      if (request.synthetic) {
        await stressSynthetic(e.context, request.synthetic, request.contexts, request.kernels, e.model?.grid ?? 256, onEvent);
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
};

export type EngineWorkerApi = typeof api;

Comlink.expose(api);
