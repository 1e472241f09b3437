import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { measuredSteps } from '../test/timedSteps.ts';
import { AttentionPanel } from './AttentionPanel.tsx';
import type { TimedStep } from './attentionBreakdown.ts';

const SHAPE = { layerUs: [8, 15, 30, 45, 60, 12], stepUs: 2_500 };

function render(steps: TimedStep[]): string {
  return renderToStaticMarkup(<AttentionPanel steps={steps} timestampQuery profiling="timestamps" onCpuProfiling={() => {}} />);
}

const attribute = (html: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(html)?.[1];
/** Text of the element with this data-testid, tags stripped. */
const text = (html: string, testId: string) => new RegExp(`data-testid="${testId}"[^>]*>(.*?)</p>`).exec(html)?.[1].replace(/<[^>]+>/g, '');

describe('AttentionPanel', () => {
  it('with GPU timestamps quantized to 100 µs: means over the steps and a note that says so and how to get full resolution', () => {
    const html = render(measuredSteps(120, SHAPE, 100_000));
    const note = text(html, 'clock-note');
    expect(note).toContain('quantizes GPU timestamps to 100 µs');
    expect(note).toContain('means over the last 120 steps');
    expect(note).toContain('--enable-webgpu-developer-features');
    expect(note).toContain('chrome://flags/#enable-webgpu-developer-features');
    expect(text(html, 'step-summary')).toMatch(/^Mean of the last 120 steps \(context 20–139\): step/);
    expect(attribute(html, 'data-basis')).toBe('mean');
    expect(attribute(html, 'data-steps')).toBe('120');
    const values = attribute(html, 'data-values')!.split(',').map(Number);
    expect(values).toHaveLength(6);
    // Not a column of zeros and hundreds: every layer's mean lies strictly between.
    for (const us of values) expect(us > 0 && us < 100).toBe(true);
  });

  it("with the CPU clock quantized: the note names performance.now()", () => {
    const steps = measuredSteps(50, SHAPE, 100_000).map((s) => ({ ...s, timing: { ...s.timing, method: 'cpu' as const } }));
    const note = text(render(steps), 'clock-note');
    expect(note).toContain('CPU clock (performance.now()) is quantized to 100 µs');
    expect(note).toContain('means over the last 50 steps');
  });

  it('with a fine clock: the latest step as measured, and no note', () => {
    const steps = measuredSteps(30, SHAPE, 0);
    const html = render(steps);
    expect(html).not.toContain('clock-note');
    expect(text(html, 'step-summary')).toMatch(/^Latest step \(context 49\): step/);
    expect(attribute(html, 'data-basis')).toBe('latest');
    expect(attribute(html, 'data-values')).toBe(steps.at(-1)!.timing.attentionMs.map((ms) => +(ms * 1000).toFixed(1)).join(','));
  });
});
