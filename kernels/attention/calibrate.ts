import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer } from '../gpu/buffers.ts';
import { fillRandom } from '../gpu/fillRandom.ts';
import { measurePasses, median, WARM_UP_MS } from '../gpu/timing.ts';
import { DecodeAttention, type DecodeAttentionOptions } from './decodeAttention.ts';
import type { PagedKvLayout } from './pagedKv.ts';
import { createSyntheticKv } from './syntheticKv.ts';

/**
 * WebGPU does not say how many compute units a GPU has, so LeanAttention's grid (one equal share of the tiles per
 * workgroup, enough workgroups to fill the GPU) is found by timing: the kernel runs over a long synthetic context
 * at a few grid sizes, the fastest few run again, and the fastest median wins. The choice is cached per adapter and kernel variant.
 */
export const GRID_CANDIDATES = [32, 64, 128, 256, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192];

/** A CPU adapter runs one workgroup per core at a time (see defaultGrid): grids of 1 up to 4 a core. */
function cpuGridCandidates(hostCores: number): number[] {
  const grids = [];
  for (let grid = 1; grid <= 4 * hostCores; grid *= 2) grids.push(grid);
  return grids;
}

/** The fastest grids of the first pass, timed LEADER_RETIMINGS more times each before one is chosen. */
const LEADERS_RETIMED = 3;
const LEADER_RETIMINGS = 2;

/**
 * How long the GPU is kept busy before the first timing. From a GPU idle since its process began, measurePasses'
 * 50 ms left the H200 slow through a whole calibration (grid 256 read 0.164 ms, and 0.059 ms in the same machine's
 * next calibration, after a benchmark), which then chose a grid that cost 9% at 32k.
 */
const CALIBRATION_WARM_UP_MS = 1000;

export interface GridTiming {
  grid: number;
  /** The median of the grid's timings (one, or 1 + LEADER_RETIMINGS for the first pass's leaders). */
  ms: number;
}

export interface GridCalibration {
  /** `adapter key # variant key`: what the choice is valid for. */
  key: string;
  grid: number;
  timings: GridTiming[];
  contextLength: number;
  method: 'timestamp-query' | 'wall-clock';
}

/** Where calibrations persist between runs (localStorage in a browser, a file in Node, memory in tests). */
export interface CalibrationStore {
  load(key: string): GridCalibration | undefined;
  save(calibration: GridCalibration): void;
}

export function memoryCalibrationStore(): CalibrationStore {
  const entries = new Map<string, GridCalibration>();
  return { load: (key) => entries.get(key), save: (c) => void entries.set(c.key, c) };
}

/** Calibrations kept in Cache Storage under a private URL: available in pages and workers alike. */
export function cacheStorageCalibrationStore(cacheName = 'lean-decode-calibration'): CalibrationStore & { ready: Promise<void> } {
  const memory = memoryCalibrationStore();
  const url = (key: string) => `https://lean-decode.invalid/calibration/${encodeURIComponent(key)}`;
  const ready = (async () => {
    if (typeof caches === 'undefined') return;
    const cache = await caches.open(cacheName);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      if (response) memory.save((await response.json()) as GridCalibration);
    }
  })();
  return {
    ready,
    load: (key) => memory.load(key),
    save(calibration) {
      memory.save(calibration);
      if (typeof caches !== 'undefined') {
        void caches.open(cacheName).then((cache) => cache.put(url(calibration.key), new Response(JSON.stringify(calibration))));
      }
    },
  };
}

export interface CalibrateOptions {
  layout: PagedKvLayout;
  group: number;
  /** Which kernel and tuning to calibrate (default: what DecodeAttention picks for the adapter). */
  kernelOptions?: Pick<DecodeAttentionOptions, 'streamed' | 'workgroup' | 'unroll' | 'lanes'>;
  /** Context of the timed sequence; long enough that every candidate grid has work. */
  contextLength?: number;
  candidates?: number[];
  repeats?: number;
  store?: CalibrationStore;
  /** Ignore a stored calibration and time again. */
  force?: boolean;
}

/** The calibrated LeanAttention grid for this adapter and shape (from the store when known). */
export async function calibrateGrid(context: GpuContext, options: CalibrateOptions): Promise<GridCalibration> {
  const { layout, group } = options;
  const probe = new DecodeAttention(context, { layout, group, maxSequences: 1, grid: 1, ...options.kernelOptions });
  const key = `${context.adapter.key}#${probe.variant.key}/p${layout.pageSize}/h${layout.numKvHeads}`;
  probe.destroy();
  const stored = options.force ? undefined : options.store?.load(key);
  if (stored) return stored;

  const contextLength = options.contextLength ?? 32_768;
  const candidates = options.candidates ?? (context.adapter.isCpu ? cpuGridCandidates(context.adapter.hostCores) : GRID_CANDIDATES);
  const kv = createSyntheticKv(context, layout, [contextLength]);
  const queryCount = layout.numKvHeads * group * layout.headDim;
  const queries = createStorageBuffer(context.device, 'calibration queries', queryCount * 4);
  fillRandom(context.device, queries, queryCount, 'f32', 7);
  const out = createStorageBuffer(context.device, 'calibration out', queryCount * 4);

  let method: GridCalibration['method'] = 'wall-clock';
  let warmUpMs = CALIBRATION_WARM_UP_MS;
  /** One timing of `grid`; undefined where the context has fewer tiles than the grid has workgroups. */
  const time = async (grid: number): Promise<number | undefined> => {
    const attention = new DecodeAttention(context, { layout, group, maxSequences: 1, grid, kernel: 'lean', ...options.kernelOptions });
    try {
      attention.planBatch([contextLength], kv.pageTableOffsets);
      if (attention.currentPlan.rangeCount < grid) return undefined;
      const bindings = attention.createBindings({ queries, keys: kv.keys, values: kv.values, pageTable: kv.pageTable, out });
      const measured = await measurePasses(context, options.repeats ?? 5, (pass) => attention.encodeInPass(pass, bindings), { warmUpMs });
      warmUpMs = WARM_UP_MS;
      method = measured.method;
      return measured.ms;
    } finally {
      attention.destroy();
    }
  };
  const samples = new Map<number, number[]>();
  for (const grid of candidates) {
    const ms = await time(grid);
    if (ms === undefined) break;
    samples.set(grid, [ms]);
  }
  // One slow second (on the H200, every grid read up to 2.7x slower in one calibration) must not pick the grid: the
  // leaders of the first pass are timed again, in turns, and each keeps the median of its timings.
  const leaders = [...samples].sort((a, b) => a[1][0] - b[1][0]).slice(0, LEADERS_RETIMED).map(([grid]) => grid);
  for (let round = 0; round < LEADER_RETIMINGS; round++) {
    for (const grid of leaders) samples.get(grid)!.push((await time(grid))!);
  }
  kv.destroy();
  queries.destroy();
  out.destroy();
  if (samples.size === 0) throw new Error(`calibration context ${contextLength} is too short for any candidate grid`);

  const timings: GridTiming[] = [...samples].map(([grid, ms]) => ({ grid, ms: median(ms) }));
  const best = timings.reduce((a, b) => (b.ms < a.ms ? b : a));
  const calibration: GridCalibration = { key, grid: best.grid, timings, contextLength, method };
  options.store?.save(calibration);
  return calibration;
}
