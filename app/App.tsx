import { useEffect, useState } from 'react';
import { startEngineWorker } from './engineClient.ts';
import { GpuStatus, type GpuState } from './GpuStatus.tsx';

const engine = startEngineWorker();

export function App() {
  const [gpu, setGpu] = useState<GpuState>({ kind: 'probing' });

  useEffect(() => {
    let live = true;
    engine.probe().then((result) => {
      if (!live) return;
      setGpu(result.ok ? { kind: 'ready', report: result.value } : { kind: 'failed', error: result.error });
    });
    return () => {
      live = false;
    };
  }, []);

  return (
    <div className="app">
      <header className="app-header">
        <h1>lean-decode</h1>
        <span className="tagline">LLM decoding on WebGPU with LeanAttention</span>
      </header>
      <GpuStatus state={gpu} />
    </div>
  );
}
