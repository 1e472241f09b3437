import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { StepStats } from '../engine/engine.ts';
import { formatMs } from './format.ts';

export interface TimingSample {
  step: number;
  stepMs: number;
  attentionMs: number;
}

/**
 * Where the GPU time of a decode step goes: attention per layer for the latest step (bars), and step and attention
 * time over the conversation (lines). Charts are Recharts: declarative React components with real axes, labels and
 * tooltips, maintained and widely used, so no chart code of our own to keep.
 */
export function AttentionPanel(props: { latest?: StepStats; history: TimingSample[]; timestampQuery: boolean; profiling?: string; onCpuProfiling: () => void }) {
  const timing = props.latest?.timing;
  const layers = timing?.attentionMs.map((ms, layer) => ({ layer: `L${layer}`, us: +(ms * 1000).toFixed(1) })) ?? [];
  const attentionTotal = timing ? timing.attentionMs.reduce((a, b) => a + b, 0) : 0;
  return (
    <section className="panel attention-panel" aria-label="Attention breakdown" data-testid="attention-panel">
      <h2>Attention time per layer</h2>
      {!props.timestampQuery && (
        <p className="notice" data-testid="no-timestamps">
          This adapter has no <code>timestamp-query</code>, so GPU time cannot be read per pass.{' '}
          {props.profiling === 'cpu' ? 'The CPU profiling mode is on: each layer\'s attention is submitted alone and timed by the CPU clock (slower decoding).' : (
            <button type="button" onClick={props.onCpuProfiling}>
              Reload with CPU profiling
            </button>
          )}
        </p>
      )}
      {timing ? (
        <>
          <p data-testid="step-summary">
            Latest step (context {props.latest!.contextLength}): step <strong>{formatMs(timing.stepMs)}</strong>, attention{' '}
            <strong>{formatMs(attentionTotal)}</strong> (<span data-testid="attention-share">{((100 * attentionTotal) / timing.stepMs).toFixed(1)}%</span> of the step), measured by{' '}
            {timing.method === 'timestamp-query' ? 'GPU timestamps' : 'the CPU clock'}
          </p>
          <div className="chart" data-testid="layer-chart" data-layers={layers.length} data-values={layers.map((l) => l.us).join(',')}>
            <ResponsiveContainer width="100%" height={220}>
              <BarChart data={layers} margin={{ top: 8, right: 16, bottom: 24, left: 28 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="layer" label={{ value: 'layer', position: 'insideBottom', offset: -12 }} />
                <YAxis width={64} label={{ value: 'attention GPU time (µs)', angle: -90, position: 'left', offset: 12, style: { textAnchor: 'middle' } }} />
                <Tooltip formatter={(value) => [`${value} µs`, 'attention']} />
                <Bar dataKey="us" name="attention (µs)" fill="#3056d3" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
          <h3>Over the conversation</h3>
          <div className="chart" data-testid="history-chart">
            <ResponsiveContainer width="100%" height={220}>
              <LineChart data={props.history} margin={{ top: 8, right: 16, bottom: 24, left: 28 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="step" label={{ value: 'decode step', position: 'insideBottom', offset: -12 }} />
                <YAxis width={64} label={{ value: 'GPU time (ms)', angle: -90, position: 'left', offset: 12, style: { textAnchor: 'middle' } }} />
                <Tooltip formatter={(value) => `${Number(value).toFixed(3)} ms`} />
                <Legend verticalAlign="top" />
                <Line type="monotone" dataKey="stepMs" name="whole step" stroke="#667085" dot={false} isAnimationActive={false} />
                <Line type="monotone" dataKey="attentionMs" name="attention (all layers)" stroke="#3056d3" dot={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </div>
        </>
      ) : (
        <p className="muted">Generate some tokens to see where the time goes.</p>
      )}
    </section>
  );
}
