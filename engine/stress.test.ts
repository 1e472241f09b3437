import { expect, it } from 'vitest';
import { testGpu } from '../test/gpu.ts';
import { stressSynthetic, type StressEvent, type SyntheticShape, type SyntheticTiming } from './stress.ts';

const SHAPE: SyntheticShape = { numKvHeads: 2, group: 4, headDim: 64, pageSize: 16 };

async function sweep(timing?: SyntheticTiming) {
  const context = await testGpu();
  const events: StressEvent[] = [];
  // A small eviction: SwiftShader reads ~1 GB/s, and the GPU's 128 MiB would take most of a minute here.
  await stressSynthetic(context, SHAPE, [40, 100], ['lean', 'fa2'], undefined, (event) => events.push(event), { timing, evictionBytes: 1 << 20 });
  return events.flatMap((event) => (event.kind === 'point' ? [event.point] : []));
}

it('the synthetic sweep times calls among others where asked: every kernel at every context, said so in each point', async () => {
  const points = await sweep('among-others');
  expect(points.map((p) => [p.kernel, p.context, p.timing])).toEqual([
    ['lean', 40, 'among-others'],
    ['lean', 100, 'among-others'],
    ['fa2', 40, 'among-others'],
    ['fa2', 100, 'among-others'],
  ]);
  for (const point of points) {
    expect(Number.isFinite(point.attentionMs)).toBe(true);
    expect(Number.isFinite(point.gbPerSecond)).toBe(true);
  }
});

it('on a CPU adapter the synthetic sweep times single calls by default', async () => {
  const context = await testGpu();
  const points = await sweep();
  const expected = context.adapter.isCpu ? 'single-call' : 'among-others';
  expect(points.map((p) => p.timing)).toEqual(Array(4).fill(expected));
  for (const point of points) expect(point.attentionMs).toBeGreaterThan(0);
});
