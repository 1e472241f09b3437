import { useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { attentionBreakdown, attentionHistory, type AttentionBreakdown, type TimedStep } from './attentionBreakdown.ts';
import { formatMs } from './format.ts';

/**
 * Where the GPU time of a decode step goes: attention per layer (bars), and step and attention time over the
 * conversation (lines). The bars show the latest step, or, when the clock is quantized, means over the latest
 * steps with a note that says why. Charts are Recharts: declarative React components with real axes, labels and
 * tooltips, maintained and widely used, so no chart code of our own to keep.
 */
export function AttentionPanel(props: { steps: TimedStep[]; timestampQuery: boolean; profiling?: string; onCpuProfiling: () => void }) {
  const breakdown = useMemo(() => attentionBreakdown(props.steps), [props.steps]);
  const layers = breakdown?.layerMs.map((ms, layer) => ({ layer: `L${layer}`, us: +(ms * 1000).toFixed(1) })) ?? [];
  const history = useMemo(() => attentionHistory(props.steps, breakdown?.timestampCostMs), [props.steps, breakdown]);
  const averaged = breakdown?.basis === 'mean';
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
      {breakdown ? (
        <>
          {breakdown.clock.kind === 'quantized' && <ClockNote quantumMs={breakdown.clock.quantumMs} steps={breakdown.steps} method={breakdown.method} />}
          <p data-testid="step-summary">
            {averaged ? `Mean of the last ${breakdown.steps} steps (context ${breakdown.contexts[0]}–${breakdown.contexts[1]})` : `Latest step (context ${breakdown.contexts[1]})`}: step{' '}
            <strong>{formatMs(breakdown.stepMs)}</strong>, attention <strong>{formatMs(breakdown.attentionMs)}</strong> (
            <span data-testid="attention-share">{((100 * breakdown.attentionMs) / breakdown.stepMs).toFixed(1)}%</span> of the step), measured by{' '}
            {breakdown.method === 'timestamp-query' ? 'GPU timestamps' : 'the CPU clock'}
          </p>
          {breakdown.timestampPairs > 0 && (
            <p className="muted" data-testid="timestamp-cost">
              Each layer&apos;s attention is timed in a compute pass of its own, and a timestamp slows the GPU work that follows it, so profiled steps
              alternate: one timed whole (the step above), one timed per layer.{' '}
              {breakdown.timestampCostMs !== undefined ? (
                <>
                  Every bar is less what its own timestamps cost it: <strong>{formatMs(breakdown.timestampCostMs)}</strong> a layer here, half of what timing
                  every layer adds to a step (over {breakdown.timestampPairs} pairs of steps).
                </>
              ) : (
                <>
                  What the timestamps cost is not yet told apart from how much steps vary ({breakdown.timestampPairs} pairs of steps): the bars are as
                  timed.
                </>
              )}
            </p>
          )}
          <div
            className="chart"
            data-testid="layer-chart"
            data-layers={layers.length}
            data-values={layers.map((l) => l.us).join(',')}
            data-basis={breakdown.basis}
            data-steps={breakdown.steps}
            data-clock={breakdown.clock.kind}
          >
            <ResponsiveContainer width="100%" height={220}>
              <BarChart data={layers} margin={{ top: 8, right: 16, bottom: 24, left: 28 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="layer" label={{ value: 'layer', position: 'insideBottom', offset: -12 }} />
                <YAxis width={64} label={{ value: averaged ? 'mean attention (µs)' : 'attention (µs)', angle: -90, position: 'left', offset: 12, style: { textAnchor: 'middle' } }} />
                <Tooltip formatter={(value) => [`${value} µs`, averaged ? 'mean attention' : 'attention']} />
                <Bar dataKey="us" name={averaged ? 'mean attention (µs)' : 'attention (µs)'} fill="#3056d3" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
          <h3>Over the conversation</h3>
          <div className="chart" data-testid="history-chart">
            <ResponsiveContainer width="100%" height={220}>
              <LineChart data={history} margin={{ top: 8, right: 16, bottom: 24, left: 28 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="step" label={{ value: 'decode step', position: 'insideBottom', offset: -12 }} />
                <YAxis width={64} label={{ value: 'GPU time (ms)', angle: -90, position: 'left', offset: 12, style: { textAnchor: 'middle' } }} />
                <Tooltip formatter={(value) => `${Number(value).toFixed(3)} ms`} />
                <Legend verticalAlign="top" />
                <Line type="linear" dataKey="stepMs" name="whole step" stroke="#667085" dot={false} isAnimationActive={false} />
                <Line type="linear" dataKey="attentionMs" name="attention (all layers)" stroke="#3056d3" dot={false} isAnimationActive={false} />
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

/** Why the figures are means: the clock's quantum, the steps averaged, and how to get full resolution. */
function ClockNote({ quantumMs, steps, method }: { quantumMs: number; steps: number; method: AttentionBreakdown['method'] }) {
  const quantum = `${+(quantumMs * 1000).toFixed(3)} µs`;
  const averaged = (
    <>
      The per-layer figures and the step summary are therefore <strong>means over the last {steps} steps</strong> (a quantized clock read at a random phase
      is right on average, so the means settle as steps add up); the history below shows single steps.
    </>
  );
  return method === 'timestamp-query' ? (
    <p className="notice" data-testid="clock-note">
      This browser quantizes GPU timestamps to <strong>{quantum}</strong>: one step&apos;s attention pass of a few microseconds reads as 0 or {quantum}. {averaged} For full
      resolution, start Chrome with <code>--enable-webgpu-developer-features</code>, or enable <code>chrome://flags/#enable-webgpu-developer-features</code>.
    </p>
  ) : (
    <p className="notice" data-testid="clock-note">
      This browser&apos;s CPU clock (<code>performance.now()</code>) is quantized to <strong>{quantum}</strong>. {averaged} A cross-origin isolated page gets a finer clock.
    </p>
  );
}
