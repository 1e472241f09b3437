import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer } from '../gpu/buffers.ts';
import { fillRandom } from '../gpu/fillRandom.ts';
import { measurePasses } from '../gpu/timing.ts';
import { StreamRead, streamReadWorkgroup } from './streamRead.ts';

const MIB = 1024 ** 2;
/** A quick run's read: still past a GPU's L2 (the H200's is 60 MB) and a CPU's last-level cache in most machines. */
const QUICK_BYTES = 32 * MIB;
/**
 * A CPU adapter's full read: past its caches, where 1 GiB is more than SwiftShader allocates in one buffer
 * (VK_ERROR_OUT_OF_DEVICE_MEMORY) and would take it minutes to read at its fraction of a GB/s.
 */
const CPU_BYTES = 64 * MIB;
/** A GPU's full read: long enough that launch and tail effects vanish against it. */
const GPU_BYTES = 1024 * MIB;

/** Bytes the streaming read covers on this adapter: within the device's limits, and past its caches. */
export function readBandwidthBytes(context: GpuContext, quick: boolean): number {
  const wanted = quick ? QUICK_BYTES : context.adapter.isCpu ? CPU_BYTES : GPU_BYTES;
  const limit = Math.min(context.limits.maxStorageBufferBindingSize, context.limits.maxBufferSize);
  return Math.min(wanted, limit - (limit % 16));
}

/** Workgroups a CPU adapter's read runs: a few per core. */
const CPU_GRID = 16;

/**
 * The grids timed (the better one counts): on a GPU a moderate one and the largest. A CPU adapter pays for every
 * workgroup: on SwiftShader (2 cores) 32 MiB read 0.18–0.23 GB/s on 16 workgroups of 16 invocations, 0.09–0.13 on
 * 1,024, and 0.002 on 8,192 of 256 (13 s a pass), so it times the small grid alone.
 */
function readGrids(context: GpuContext, bytes: number, workgroup: number): number[] {
  const maxGrid = Math.max(1, Math.floor(Math.min(context.limits.maxComputeWorkgroupsPerDimension, bytes / 16 / workgroup)));
  if (context.adapter.isCpu) return [Math.min(CPU_GRID, maxGrid)];
  return [...new Set([Math.min(1024, maxGrid), maxGrid])];
}

/**
 * The adapter's achievable read bandwidth in GB/s: the streaming-read kernel over `readBandwidthBytes`, at each of
 * `readGrids`, keeping the better. Every decode figure is judged against it. Throws where the source
 * buffer cannot be made, rather than timing a pass over an invalid one.
 */
export async function measureReadBandwidth(context: GpuContext, options: { quick: boolean; repeats: number }): Promise<{ gbps: number; bytes: number }> {
  const { device } = context;
  const bytes = readBandwidthBytes(context, options.quick);
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const source = createStorageBuffer(device, 'bandwidth source', bytes);
  fillRandom(device, source, bytes / 4, 'f32', 3);
  const validation = await device.popErrorScope();
  const outOfMemory = await device.popErrorScope();
  const error = validation ?? outOfMemory;
  if (error) {
    source.destroy();
    throw new Error(
      `the streaming read could not create its source buffer of ${(bytes / MIB).toFixed(0)} MiB on ${context.adapter.description} (${error.message}): ` +
        `the adapter cannot back a buffer of that size; a quick run (--quick) reads ${QUICK_BYTES / MIB} MiB`,
    );
  }
  const workgroup = streamReadWorkgroup(context.adapter.isCpu);
  let best = 0;
  for (const grid of readGrids(context, bytes, workgroup)) {
    const kernel = new StreamRead(device, source, bytes, grid, workgroup);
    const { ms } = await measurePasses(context, options.repeats, (pass) => kernel.encode(pass));
    best = Math.max(best, bytes / (ms * 1e6));
    kernel.sums.destroy();
  }
  source.destroy();
  return { gbps: best, bytes };
}
