import * as Comlink from 'comlink';
import { createBrowserGpuContext } from './gpu/browser.ts';
import type { GpuContext } from './gpu/context.ts';
import { reportGpu, type GpuReport } from './gpuReport.ts';
import { serializeError, type SerializedEngineError } from './errors.ts';

export type Result<T> = { ok: true; value: T } | { ok: false; error: SerializedEngineError };

let context: Promise<GpuContext> | undefined;

function gpu(): Promise<GpuContext> {
  context ??= createBrowserGpuContext().catch((error) => {
    context = undefined;
    throw error;
  });
  return context;
}

/** The engine as the UI sees it: every call resolves to a Result, so errors cross the worker boundary typed. */
const api = {
  async probe(): Promise<Result<GpuReport>> {
    try {
      return { ok: true, value: reportGpu(await gpu()) };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  },
};

export type EngineWorkerApi = typeof api;

Comlink.expose(api);
