import * as Comlink from 'comlink';
import type { EngineWorkerApi } from '../engine/worker.ts';

export type EngineRemote = Comlink.Remote<EngineWorkerApi>;

/**
 * The engine worker of the page, reached only through comlink. `onCrash` fires when the worker dies (an
 * uncaught error or out of memory); the UI then offers a restart, which makes a fresh worker.
 */
export function startEngineWorker(onCrash: (message: string) => void): { remote: EngineRemote; terminate: () => void } {
  const worker = new Worker(new URL('../engine/worker.ts', import.meta.url), { type: 'module', name: 'lean-decode engine' });
  worker.addEventListener('error', (event) => onCrash(event.message || 'the engine worker stopped unexpectedly'));
  return { remote: Comlink.wrap<EngineWorkerApi>(worker), terminate: () => worker.terminate() };
}

export { Comlink };
