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
    expect(html).not.toContain('timestamp-cost');
  });

  it("with steps timed whole and per layer by turns: bars less what each layer's timestamps cost, and a note that gives it", () => {
    const html = render(measuredSteps(100, { ...SHAPE, stampCostUs: 20 }, 0));
    const note = text(html, 'timestamp-cost')!;
    expect(note).toMatch(/Every bar is less what its own timestamps cost it: \d+ µs a layer here/);
    expect(note).toContain('over 100 pairs of steps');
    // Less the ~20 µs the stamps add to each, the bars are near their true times again (±5% a pass, the estimate's spread).
    const values = attribute(html, 'data-values')!.split(',').map(Number);
    for (const [layer, us] of values.entries()) expect(Math.abs(us - SHAPE.layerUs[layer])).toBeLessThan(8);
    // A handful of pairs whose difference is within the steps' spread: said so, the bars as timed.
    expect(text(render(measuredSteps(4, { ...SHAPE, stampCostUs: 0 }, 0)), 'timestamp-cost')).toContain('not yet told apart');
  });
});
