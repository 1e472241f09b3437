import { expect, it } from 'vitest';
import { testGpu } from '../../test/gpu.ts';
import { createStorageBuffer } from './buffers.ts';
import { measureAmongOthers } from './timing.ts';

it('measureAmongOthers times passes of the work between calls with and without the calls, taking turns, each call after that work', async () => {
  const context = await testGpu();
  const { device } = context;
  // Something to dispatch, so that every recorded pass does work on the GPU.
  const buffer = createStorageBuffer(device, 'touched', 256);
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> a: array<u32>; @compute @workgroup_size(1) fn main() { a[0] += 1u; }' }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const recorded = new Map<GPUComputePassEncoder, string[]>();
  const record = (name: string) => (pass: GPUComputePassEncoder) => {
    recorded.set(pass, [...(recorded.get(pass) ?? []), name]);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
  };
  const measurement = await measureAmongOthers(context, 3, record('call'), record('between'), 3);
  expect(Number.isFinite(measurement.ms)).toBe(true);
  expect(measurement.method).toBe(context.features.timestampQuery ? 'timestamp-query' : 'wall-clock');
  const kinds = new Set([...recorded.values()].map((events) => events.join(' ')));
  expect(kinds).toEqual(new Set(['between call between call between call', 'between between between']));
  // Warm-up runs and the 3 timed runs of each, taking turns: with the calls, then without.
  const order = [...recorded.values()].map((events) => events.includes('call'));
  expect(order.length).toBeGreaterThan(6);
  order.forEach((withCalls, i) => expect(withCalls).toBe(i % 2 === 0));
  buffer.destroy();
});
