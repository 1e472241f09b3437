import type { GpuReport } from '../engine/gpuReport.ts';
import type { SerializedEngineError } from '../errors/engineError.ts';
import { formatBytes } from './format.ts';

export type GpuState = { kind: 'probing' } | { kind: 'ready'; report: GpuReport } | { kind: 'failed'; error: SerializedEngineError };

/** The WebGPU adapter the engine worker got, or why it got none. */
export function GpuStatus({ state }: { state: GpuState }) {
  if (state.kind === 'probing') return <p className="gpu-status">Looking for a WebGPU adapter…</p>;
  if (state.kind === 'failed') {
    return (
      <p className="gpu-status error" role="alert">
        No WebGPU: {state.error.message}
      </p>
    );
  }
  const { adapter, features, limits } = state.report;
  const featureNames = [
    features.timestampQuery && 'timestamp-query',
    features.subgroups && `subgroups (${features.subgroupMinSize}–${features.subgroupMaxSize})`,
    features.shaderF16 && 'shader-f16',
  ].filter(Boolean);
  return (
    <p className="gpu-status" data-testid="gpu-status">
      WebGPU adapter: <strong data-testid="adapter-name">{adapter.description}</strong>
      <span className="muted">
        {' '}
        · {featureNames.join(', ') || 'no optional features'} · max buffer {formatBytes(limits.maxBufferSize)}
      </span>
      {adapter.isCpu && (
        <span className="cpu-adapter" data-testid="cpu-adapter">
          {' '}
          · This adapter runs on the CPU ({adapter.hostCores} cores): the browser found no GPU it can use, so models decode
          many times slower. If this machine has a GPU, turn on “Use graphics acceleration when available” in the
          browser's settings and see chrome://gpu for what blocks it.
        </span>
      )}
    </p>
  );
}
