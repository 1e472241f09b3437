/**
 * The engine failed under the chat: its GPU device was lost, or its worker crashed. The app keeps the conversation
 * and reloads the model by itself (`recovery`), on a new device or in a new worker.
 */
export interface EngineFault {
  kind: 'device-lost' | 'worker-crash';
  /** The error as the engine or the worker told it. */
  detail: string;
  recovery: 'reloading' | 'ready' | 'failed';
}

const WHAT: Record<EngineFault['kind'], string> = {
  'device-lost': 'The GPU device was lost.',
  'worker-crash': 'The engine worker crashed.',
};

const RELOADING: Record<EngineFault['kind'], string> = {
  'device-lost': 'Reloading the model on a new GPU device…',
  'worker-crash': 'Restarting the engine worker and reloading the model…',
};

/** What to tell the user: what happened, and what is being done or what to do next. */
export function faultNotice(fault: EngineFault): { what: string; next: string } {
  const kept = 'Your conversation and anything you type are kept.';
  if (fault.recovery === 'reloading') return { what: WHAT[fault.kind], next: `${RELOADING[fault.kind]} ${kept}` };
  if (fault.recovery === 'ready') {
    return {
      what: WHAT[fault.kind],
      next: 'The model is loaded again: send your next message (the conversation goes with it), or press Regenerate to answer the last one again.',
    };
  }
  return { what: WHAT[fault.kind], next: `Reloading the model failed too (the model panel says why): restart the engine to try again. ${kept}` };
}

export function EngineFaultNotice({ fault, onRestart }: { fault: EngineFault; onRestart: () => void }) {
  const { what, next } = faultNotice(fault);
  return (
    <div className="crash" role="alert" data-testid="engine-fault" data-recovery={fault.recovery}>
      <strong>{what}</strong> <span data-testid="engine-fault-detail">{fault.detail}</span>
      <p data-testid="engine-fault-next">{next}</p>
      {fault.recovery === 'failed' && (
        <button type="button" className="primary" onClick={onRestart}>
          Restart engine and reload the model
        </button>
      )}
    </div>
  );
}
