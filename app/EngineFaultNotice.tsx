/**
 * The engine failed under the chat: its GPU device was lost, or its worker crashed. The app keeps the conversation
 * and reloads the model by itself (`recovery`), on a new device or in a new worker.
 */
export interface EngineFault {
  kind: 'device-lost' | 'worker-crash';
  /** What happened, as the engine or the worker told it ("The GPU device was lost (destroyed: …). …"). */
  message: string;
  recovery: 'reloading' | 'ready' | 'failed';
}

const KEPT = 'Your conversation and anything you type are kept.';

const RELOADING: Record<EngineFault['kind'], string> = {
  'device-lost': 'Reloading the model on a new GPU device…',
  'worker-crash': 'Restarting the engine worker and reloading the model…',
};

/** What the app does about a fault, or what the user can do next. */
export function faultNext(fault: EngineFault): string {
  if (fault.recovery === 'reloading') return `${RELOADING[fault.kind]} ${KEPT}`;
  if (fault.recovery === 'ready') return 'The model is loaded again: send your next message (the conversation goes with it), or press Regenerate to answer the last one again.';
  return `Reloading the model failed too (the model panel says why): restart the engine to try again. ${KEPT}`;
}

export function EngineFaultNotice({ fault, onRestart }: { fault: EngineFault; onRestart: () => void }) {
  return (
    <div className="crash" role="alert" data-testid="engine-fault" data-recovery={fault.recovery}>
      <strong data-testid="engine-fault-message">{fault.message}</strong>
      <p data-testid="engine-fault-next">{faultNext(fault)}</p>
      {fault.recovery === 'failed' && (
        <button type="button" className="primary" onClick={onRestart}>
          Restart engine and reload the model
        </button>
      )}
    </div>
  );
}
