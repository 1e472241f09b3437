import { useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { ModelInfo } from '../engine/engine.ts';
import type { GpuReport } from '../engine/gpuReport.ts';
import type { StressPoint, StressTiming, SyntheticShape } from '../engine/stress.ts';
import type { StressRequest } from '../engine/worker.ts';
import { ATTENTION_KERNELS, KERNEL_LABELS, type AttentionKernel } from '../kernels/attention/plan.ts';
import { pagesPerBinding } from '../kernels/attention/pagedKv.ts';
import { formatMs, formatTokens } from './format.ts';
import { logTicks } from './logTicks.ts';
import { SHORTEST_SWEEP_CONTEXT, sweepContexts, type SweepSpacing } from './stressSweep.ts';

const COLORS: Record<AttentionKernel, string> = { lean: '#3056d3', fd: '#d97706', fa2: '#b42318' };

export interface StressState {
  running: boolean;
  fill?: { filled: number; target: number };
  points: StressPoint[];
  error?: string;
}

function toCsv(points: StressPoint[]): string {
  return ['context,kernel,attention_ms,gb_per_s,timing', ...points.map((p) => `${p.context},${p.kernel},${p.attentionMs},${p.gbPerSecond},${p.timing}`)].join('\n');
}

/** What the figures of a sweep timed `timing` are (engine/stress.ts, StressTiming). */
const TIMING_NOTES: Record<StressTiming, string> = {
  'among-others':
    "Each figure is one call's time among others, as in a model's step: calls in one timed pass, each after a read that evicts the GPU's caches, less those reads (a call timed alone would also carry what its timestamps cost it).",
  'single-call': 'Each figure is one call timed alone: on a CPU adapter a call takes milliseconds, beside which its timestamps cost nothing.',
  'model-steps': "Each figure is the model's attention over all layers in a decode step, timed per layer, less what those timestamps cost the step.",
};

/** The long-context sweep: attention time vs context length for each kernel, on the model or on synthetic KV. */
export function StressPage(props: {
  model?: ModelInfo;
  /** LeanAttention's grid on this adapter before a model is loaded (defaultGrid). */
  defaultGrid?: number;
  /**
   * The adapter's buffer limits, which bound a synthetic sweep's context (its K and V pools are one binding each);
   * undefined until the engine has an adapter.
   */
  limits?: GpuReport['limits'];
  state: StressState;
  onRun: (request: StressRequest) => void;
  calibration?: { grid: number; timings: { grid: number; ms: number }[] } | string;
  onCalibrate: () => void;
}) {
  const { model, state } = props;
  const [synthetic, setSynthetic] = useState(!model);
  const [shape, setShape] = useState<SyntheticShape>({ numKvHeads: 8, group: 4, headDim: 128, pageSize: 16 });
  const useSynthetic = synthetic || !model;
  const maxTarget = !useSynthetic
    ? Math.min(model.maxContext, model.kvPagesTotal * model.pageSize) - 8
    : props.limits && pagesPerBinding(props.limits, { ...shape, dtype: 'f16' }) * shape.pageSize;
  const [target, setTarget] = useState(useSynthetic ? 4096 : Math.min(1024, maxTarget ?? 1024));
  const [points, setPoints] = useState(4);
  const [spacing, setSpacing] = useState<SweepSpacing>('doubling');
  const [logTime, setLogTime] = useState(true);
  const [kernels, setKernels] = useState<AttentionKernel[]>([...ATTENTION_KERNELS]);
  const clampedTarget = Math.min(target, maxTarget ?? target);

  const contexts = [...new Set(state.points.map((p) => p.context))].sort((a, b) => a - b);
  const rows = contexts.map((context) => {
    const row: Record<string, number> = { context };
    for (const p of state.points.filter((q) => q.context === context)) row[p.kernel] = +p.attentionMs.toFixed(3);
    return row;
  });
  const times = state.points.map((p) => p.attentionMs).filter((ms) => ms > 0);
  const timeTicks = logTime && times.length > 0 ? logTicks(Math.min(...times), Math.max(...times)) : undefined;

  const download = () => {
    const url = URL.createObjectURL(new Blob([toCsv(state.points)], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'lean-decode-attention-sweep.csv';
    a.click();
    URL.revokeObjectURL(url);
  };

  return (
    <section className="panel stress" aria-label="Long-context stress">
      <h2>Long-context stress</h2>
      <div className="stress-controls">
        <label>
          <input type="checkbox" data-testid="synthetic" checked={useSynthetic} disabled={!model} onChange={(e) => setSynthetic(e.target.checked)} /> Synthetic KV
          {!model && <span className="muted"> (no model loaded)</span>}
        </label>
        {useSynthetic && (
          <>
            <label>
              KV heads <input type="number" min={1} max={64} value={shape.numKvHeads} onChange={(e) => setShape({ ...shape, numKvHeads: Number(e.target.value) })} />
            </label>
            <label>
              GQA group <input type="number" min={1} max={16} value={shape.group} onChange={(e) => setShape({ ...shape, group: Number(e.target.value) })} />
            </label>
            <label>
              Head dim{' '}
              <select value={shape.headDim} onChange={(e) => setShape({ ...shape, headDim: Number(e.target.value) })}>
                <option value={64}>64</option>
                <option value={128}>128</option>
              </select>
            </label>
          </>
        )}
        <label>
          Target context{' '}
          <input type="number" data-testid="stress-target" min={SHORTEST_SWEEP_CONTEXT} max={maxTarget} value={clampedTarget} onChange={(e) => setTarget(Number(e.target.value))} />
          <span className="muted" data-testid="stress-max-target">
            {maxTarget === undefined
              ? ' (waiting for the WebGPU adapter)'
              : ` up to ${maxTarget.toLocaleString()} ${useSynthetic ? '(one GPU buffer each for K and V)' : '(model context and KV budget)'}`}
          </span>
        </label>
        <label>
          Points <input type="number" data-testid="stress-points" min={1} max={16} value={points} onChange={(e) => setPoints(Number(e.target.value))} />
        </label>
        <label>
          Spacing{' '}
          <select data-testid="stress-spacing" value={spacing} onChange={(e) => setSpacing(e.target.value as SweepSpacing)}>
            <option value="doubling">doubling (log axis)</option>
            <option value="even">even</option>
          </select>
        </label>
        <label>
          <input type="checkbox" data-testid="stress-log-time" checked={logTime} onChange={(e) => setLogTime(e.target.checked)} /> Log time axis
        </label>
        {ATTENTION_KERNELS.map((kernel) => (
          <label key={kernel}>
            <input
              type="checkbox"
              checked={kernels.includes(kernel)}
              onChange={(e) => setKernels(e.target.checked ? [...kernels, kernel] : kernels.filter((k) => k !== kernel))}
            />{' '}
            {KERNEL_LABELS[kernel]}
          </label>
        ))}
        <button
          type="button"
          className="primary"
          data-testid="stress-run"
          disabled={state.running || kernels.length === 0 || maxTarget === undefined}
          onClick={() => props.onRun({ contexts: sweepContexts(clampedTarget, points, spacing), kernels, synthetic: useSynthetic ? shape : undefined })}
        >
          {state.running ? 'Running…' : 'Run sweep'}
        </button>
      </div>
      <p className="calibration" data-testid="calibration">
        LeanAttention grid: <strong>{model?.grid ?? props.defaultGrid ?? '…'}</strong> workgroups{' '}
        {typeof props.calibration === 'object' && (
          <span className="muted">
            (calibrated on this adapter: {props.calibration.timings.map((t) => `${t.grid}: ${formatMs(t.ms)}`).join(', ')})
          </span>
        )}
        {typeof props.calibration === 'string' && <span className="muted">({props.calibration})</span>}{' '}
        <button type="button" data-testid="calibrate" disabled={!model || state.running || props.calibration === 'calibrating…'} onClick={props.onCalibrate}>
          Calibrate grid
        </button>
      </p>
      {state.fill && state.running && (
        <div className="load-progress" data-testid="fill-progress">
          <progress max={state.fill.target} value={state.fill.filled} />
          <span>
            prefill {state.fill.filled.toLocaleString()} / {state.fill.target.toLocaleString()} tokens
          </span>
        </div>
      )}
      {state.error && (
        <p className="error" role="alert">
          {state.error}
        </p>
      )}
      {rows.length > 0 && (
        <>
          <div className="chart" data-testid="stress-chart" data-points={state.points.length} data-context-scale={spacing === 'doubling' ? 'log' : 'linear'}>
            <ResponsiveContainer width="100%" height={300}>
              <LineChart data={rows} margin={{ top: 8, right: 24, bottom: 28, left: 28 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis
                  dataKey="context"
                  type="number"
                  scale={spacing === 'doubling' ? 'log' : 'linear'}
                  domain={['dataMin', 'dataMax']}
                  ticks={rows.map((row) => row.context)}
                  tickFormatter={formatTokens}
                  label={{ value: 'context length (tokens)', position: 'insideBottom', offset: -14 }}
                />
                <YAxis
                  width={64}
                  scale={timeTicks ? 'log' : 'linear'}
                  domain={timeTicks ? [timeTicks[0], timeTicks[timeTicks.length - 1]] : [0, 'auto']}
                  ticks={timeTicks}
                  label={{ value: 'attention GPU time (ms)', angle: -90, position: 'left', offset: 12, style: { textAnchor: 'middle' } }}
                />
                <Tooltip formatter={(value) => `${value} ms`} labelFormatter={(context) => `context ${Number(context).toLocaleString()} tokens`} />
                <Legend verticalAlign="top" />
                {ATTENTION_KERNELS.filter((k) => state.points.some((p) => p.kernel === k)).map((kernel) => (
                  <Line key={kernel} type="linear" dataKey={kernel} name={KERNEL_LABELS[kernel]} stroke={COLORS[kernel]} isAnimationActive={false} />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
          <table className="stress-table" data-testid="stress-table">
            <thead>
              <tr>
                <th>context</th>
                {ATTENTION_KERNELS.map((k) => (
                  <th key={k}>{KERNEL_LABELS[k]}</th>
                ))}
                <th>Lean GB/s</th>
                <th>FD / Lean</th>
                <th>FA2 / Lean</th>
              </tr>
            </thead>
            <tbody>
              {contexts.map((context) => {
                const at = (kernel: AttentionKernel) => state.points.find((p) => p.context === context && p.kernel === kernel);
                const lean = at('lean');
                const ratio = (kernel: AttentionKernel) => (lean && at(kernel) ? `${(at(kernel)!.attentionMs / lean.attentionMs).toFixed(2)}x` : '–');
                return (
                  <tr key={context}>
                    <td>{context.toLocaleString()}</td>
                    {ATTENTION_KERNELS.map((k) => (
                      <td key={k}>{at(k) ? formatMs(at(k)!.attentionMs) : '–'}</td>
                    ))}
                    <td>{lean ? (lean.gbPerSecond >= 100 ? lean.gbPerSecond.toFixed(0) : lean.gbPerSecond.toPrecision(3)) : '–'}</td>
                    <td>{ratio('fd')}</td>
                    <td>{ratio('fa2')}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {[...new Set(state.points.map((p) => p.timing))].map((timing) => (
            <p key={timing} className="muted" data-testid="stress-timing">
              {TIMING_NOTES[timing]}
            </p>
          ))}
          <button type="button" data-testid="stress-csv" onClick={download} disabled={state.running}>
            Download CSV
          </button>
        </>
      )}
    </section>
  );
}
