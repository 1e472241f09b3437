import { EngineError } from '../errors/engineError.ts';

/*
 * Faults the end-to-end tests inject into the engine worker, to check that the app survives them: the GPU device
 * lost in the middle of an answer, and an uncaught error that leaves the worker broken. They are off unless the page
 * starts the worker under TEST_FAULTS_WORKER_NAME, which the app does only when its URL has `?test-faults`; in any
 * other worker (the app's in normal use, the README's example) arming one is refused.
 */

/** The worker name under which the worker accepts test faults. */
export const TEST_FAULTS_WORKER_NAME = 'lean-decode engine (test faults)';

/** A fault to inject once the next answer has streamed `afterChunks` chunks of text. */
export interface TestFault {
  kind: 'device-lost' | 'worker-crash';
  afterChunks: number;
}

/** What a fault acts on: the worker's GPU device. */
export interface FaultTarget {
  destroyDevice(): void;
}

/**
 * The armed fault of a worker (at most one; it fires once). `stream` passes an answer's chunks through and fires
 * the fault after the chunk it waits for, so the answer is cut in the middle, with text already shown.
 */
export class TestFaults {
  private armed: TestFault | undefined;

  constructor(private readonly enabled: boolean) {}

  arm(fault: TestFault): void {
    if (!this.enabled) {
      throw new EngineError('invalid-argument', `test faults are off in this worker: the app turns them on for a page opened with ?test-faults`);
    }
    if (!(fault.afterChunks >= 1)) throw new EngineError('invalid-argument', `a test fault fires after at least 1 chunk (got ${fault.afterChunks})`);
    this.armed = fault;
  }

  async *stream<T>(chunks: AsyncIterable<T>, hasText: (chunk: T) => boolean, target: FaultTarget): AsyncGenerator<T> {
    const fault = this.armed;
    this.armed = undefined;
    let texts = 0;
    for await (const chunk of chunks) {
      yield chunk;
      if (fault && hasText(chunk) && ++texts === fault.afterChunks) fire(fault, target);
    }
  }
}

function fire(fault: TestFault, target: FaultTarget): void {
  if (fault.kind === 'device-lost') {
    target.destroyDevice();
    return;
  }
  // Thrown from a task of its own, so nothing in the worker catches it: the page sees the worker's 'error' event.
  setTimeout(() => {
    throw new Error('test fault: an uncaught error in the engine worker');
  });
}
