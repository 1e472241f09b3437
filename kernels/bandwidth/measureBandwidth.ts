import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer, largestStorageBinding } from '../gpu/buffers.ts';
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
  const limit = largestStorageBinding(context.limits);
  return Math.min(wanted, limit - (limit % 16));
}

/** Workgroups a CPU adapter's read runs: a few per core. */
const CPU_GRID = 16;

/** One shape of the streaming read: workgroups, invocations each, 16-byte loads each invocation has in flight. */
export interface StreamReadShape {
  grid: number;
  workgroup: number;
  loads: number;
}

/** The most workgroups a read of `bytes` can use: one 16-byte word per load of every invocation at least. */
export function maxReadGrid(context: GpuContext, bytes: number, workgroup: number, loads: number): number {
  return Math.max(1, Math.floor(Math.min(context.limits.maxComputeWorkgroupsPerDimension, bytes / 16 / workgroup / loads)));
}

/**
 * The shapes timed for the floor (the best counts): on a GPU a moderate grid and the largest, each with one load in
 * flight per invocation and with four (on the H200, CUDA, 1,056 × 128 invocations × 4 loads read 4.46 TB/s against
 * 3.79 with one: GPU.md). A CPU adapter pays for every workgroup: on SwiftShader (2 cores) 32 MiB read 0.18–0.23
 * GB/s on 16 workgroups of 16 invocations, 0.09–0.13 on 1,024, and 0.002 on 8,192 of 256 (13 s a pass), so it
 * times the small grid alone.
 */
function floorShapes(context: GpuContext, bytes: number): StreamReadShape[] {
  const workgroup = streamReadWorkgroup(context.adapter.isCpu);
  if (context.adapter.isCpu) return [{ grid: Math.min(CPU_GRID, maxReadGrid(context, bytes, workgroup, 1)), workgroup, loads: 1 }];
  return [1, 4].flatMap((loads) => {
    const maxGrid = maxReadGrid(context, bytes, workgroup, loads);
    return [...new Set([Math.min(1024, maxGrid), maxGrid])].map((grid) => ({ grid, workgroup, loads }));
  });
}

/**
 * A buffer of `bytes` random words for the streaming read. Throws where the buffer cannot be made, rather than
 * timing a pass over an invalid one.
 */
export async function createReadSource(context: GpuContext, bytes: number): Promise<GPUBuffer> {
  const { device } = context;
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
  return source;
}

/** GB/s of the streaming read of `bytes` of `source` in one shape: the median pass of `repeats`. */
export async function timeStreamRead(context: GpuContext, source: GPUBuffer, bytes: number, shape: StreamReadShape, repeats: number): Promise<number> {
  const kernel = new StreamRead(context.device, source, bytes, shape.grid, shape.workgroup, shape.loads);
  const { ms } = await measurePasses(context, repeats, (pass) => kernel.encode(pass));
  kernel.sums.destroy();
  return bytes / (ms * 1e6);
}

/**
 * The adapter's achievable read bandwidth in GB/s: the streaming-read kernel over `readBandwidthBytes`, in each of
 * `floorShapes`, keeping the best. Every decode figure is judged against it.
 */
export async function measureReadBandwidth(context: GpuContext, options: { quick: boolean; repeats: number }): Promise<{ gbps: number; bytes: number }> {
  const bytes = readBandwidthBytes(context, options.quick);
  const source = await createReadSource(context, bytes);
  let best = 0;
  for (const shape of floorShapes(context, bytes)) best = Math.max(best, await timeStreamRead(context, source, bytes, shape, options.repeats));
  source.destroy();
  return { gbps: best, bytes };
}
