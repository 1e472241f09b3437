import * as Comlink from 'comlink';
import type { EngineWorkerApi } from '../engine/worker.ts';

/** The one engine worker of the page, reached only through comlink. */
export function startEngineWorker(): Comlink.Remote<EngineWorkerApi> {
  const worker = new Worker(new URL('../engine/worker.ts', import.meta.url), { type: 'module', name: 'lean-decode engine' });
  return Comlink.wrap<EngineWorkerApi>(worker);
}
