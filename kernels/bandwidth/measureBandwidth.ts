import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer } from '../gpu/buffers.ts';
import { fillRandom } from '../gpu/fillRandom.ts';
import { measurePasses } from '../gpu/timing.ts';
import { StreamRead, STREAM_READ_WORKGROUP_SIZE } from './streamRead.ts';

/**
 * The adapter's achievable read bandwidth in GB/s: the streaming-read kernel over `bytes`, at a moderate grid and at
 * the largest, keeping the better. Every decode figure is judged against it.
 */
export async function measureReadBandwidth(context: GpuContext, bytes: number, repeats: number): Promise<number> {
  const { device } = context;
  const source = createStorageBuffer(device, 'bandwidth source', bytes);
  fillRandom(device, source, bytes / 4, 'f32', 3);
  const maxGrid = Math.max(1, Math.floor(Math.min(context.limits.maxComputeWorkgroupsPerDimension, bytes / 16 / STREAM_READ_WORKGROUP_SIZE)));
  let best = 0;
  for (const grid of new Set([Math.min(1024, maxGrid), maxGrid])) {
    const kernel = new StreamRead(device, source, bytes, grid);
    const { ms } = await measurePasses(context, repeats, (pass) => kernel.encode(pass));
    best = Math.max(best, bytes / (ms * 1e6));
    kernel.sums.destroy();
  }
  source.destroy();
  return best;
}
