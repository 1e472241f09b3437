import * as Comlink from 'comlink';
import type { EngineWorkerApi } from '../engine/worker.ts';
import { TEST_FAULTS_WORKER_NAME } from '../engine/testFaults.ts';

export type EngineRemote = Comlink.Remote<EngineWorkerApi>;

/** How the page knew that its engine worker died: the worker's uncaught error, as its 'error' event told it. */
export class WorkerCrashed extends Error {
  constructor(detail: string) {
    super(`The engine worker crashed (${detail})`);
    this.name = 'WorkerCrashed';
  }
}

export interface EngineWorker {
  remote: EngineRemote;
  /**
   * Aborted, with a WorkerCrashed as its reason, when the worker has an uncaught error: calls in flight then never
   * answer, so a caller races them against it (see abortable.ts).
   */
  crashed: AbortSignal;
  terminate: () => void;
}

/**
 * The engine worker of the page, reached only through comlink. `onCrash` fires when the worker dies (an uncaught
 * error, out of memory); the app then makes a fresh worker. `testFaults`: the worker accepts the end-to-end tests'
 * injected faults (engine/testFaults.ts); the app asks for it only on a page opened with `?test-faults`.
 */
export function startEngineWorker(onCrash: (crash: WorkerCrashed) => void, options: { testFaults?: boolean } = {}): EngineWorker {
  const worker = new Worker(new URL('../engine/worker.ts', import.meta.url), {
    type: 'module',
    name: options.testFaults ? TEST_FAULTS_WORKER_NAME : 'lean-decode engine',
  });
  const crashed = new AbortController();
  worker.addEventListener('error', (event) => {
    const crash = new WorkerCrashed(event.message || 'it stopped without a message');
    crashed.abort(crash);
    onCrash(crash);
  });
  return { remote: Comlink.wrap<EngineWorkerApi>(worker), crashed: crashed.signal, terminate: () => worker.terminate() };
}

export { Comlink };
