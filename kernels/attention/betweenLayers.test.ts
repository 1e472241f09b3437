import { expect, it } from 'vitest';
import { testGpu } from '../../test/gpu.ts';
import { createStorageBuffer, readBuffer, writeBuffer } from '../gpu/buffers.ts';
import { RandomFill } from '../gpu/fillRandom.ts';
import { createCacheEviction } from '../bandwidth/streamRead.ts';
import { betweenLayers } from './betweenLayers.ts';

it('betweenLayers reads past the caches and writes the queries again with the values they held', async () => {
  const context = await testGpu();
  const { device } = context;
  const floats = 2 * 4 * 64;
  const queries = createStorageBuffer(device, 'queries', floats * 4);
  const writeQueries = new RandomFill(device, queries, floats, 'f32', 7);
  writeQueries.submit(device);
  const filled = new Float32Array(await readBuffer(device, queries));
  expect(filled.every((x) => x >= -1 && x < 1)).toBe(true);
  expect(new Set(filled).size).toBeGreaterThan(floats / 2);

  // Poisoned: only the rewrite can bring the values back.
  writeBuffer(device, queries, new Float32Array(floats).fill(Number.NaN));
  const eviction = createCacheEviction(context, 1024 ** 2);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  betweenLayers(eviction, writeQueries)(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  expect(new Float32Array(await readBuffer(device, queries))).toEqual(filled);

  eviction.destroy();
  writeQueries.destroy();
  queries.destroy();
});
