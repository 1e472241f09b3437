// Decode attention benchmark: LeanAttention vs FlashDecoding vs FA2-style on one adapter, in one run.
//   npm run bench:attention [-- --quick] [-- --json] [-- --grid N] [-- --repeats N] [-- --recalibrate]
//                           [-- --toggles enable-dawn-features=...]   (diagnosis only: Dawn instance toggles)
//                           [-- --prefill-only]   (sections 5 and 6 alone: the prefill figures in a short run)
//                           [-- --choices-only]   (the open design choices alone, at d=128 and d=64, 1k/64k/256k, and GQA 8 at 64k)
//                           [-- --short-choices 1k,4k]   (the kernels a short context could run, d=128 and d=64, warm and cold)
//                           [-- --lengths 1k,64k [--head-dim 64]] (the main table's single-sequence rows at these lengths alone)
//                           [-- --pass-timing 1k,64k]   (what a timed pass adds to a call: its stamps, the run before it,
//                                                   calls a pass, a dispatch before the call, passes a call, each run
//                                                   submitted alone)
//                           [-- --eviction-mib 512]   (what the column among others reads before each call: 128 MiB by
//                                                   default; a model's layer streams more, its weights)
//                           [-- --batches-only]   (the main table's batches of several sequences or odd head counts alone,
//                                                   then the batch just past one wave against one sequence as long, each
//                                                   dispatch alone)
// 1. The floor: the adapter's read bandwidth, from a streaming-read kernel.
// 2. The LeanAttention grid, calibrated on the adapter with the kernel the engine runs (timestamps unquantized).
// 3. Each schedule for B=1, Hq=32, Hkv=8, D=128, f16 KV over a list of context lengths, a ragged batch of 8
//    sequences, and three batches where FlashDecoding's one split count cannot fit the GPU (5 KV heads; 3 sequences;
//    heads just past one wave of the grid, which it does not split).
//    The staged kernel (the portable one, and this project's kernel before the streamed one) runs beside them.
// 4. Design choices, each as a ratio in this run: staged vs streamed, unroll, workgroup size, the calibrated grid.
// 5. The causal attention of one prefill chunk deep into a context, in query blocks of 1, 2 and 4 queries sharing
//    each K and V read.
// 6. The prefill kernel (causal_chunk_attention.wgsl, what the engine runs for prefill) on chunks of 64, 512 and
//    1,024 tokens (the engine's chunk on a GPU) after 4k and 32k, beside the decode kernel the engine ran before (its
//    causal blocks), as a ratio, with its TFLOP/s (4·Hq·d flops per visible key of each query).
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { measureReadBandwidth } from '../kernels/bandwidth/measureBandwidth.ts';
import { createStorageBuffer } from '../kernels/gpu/buffers.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import { CALLS_AMONG_OTHERS, measureAmongOthers, measurePasses, type Measurement, type PassOptions } from '../kernels/gpu/timing.ts';
import { createCacheEviction, CACHE_EVICTION_BYTES } from '../kernels/bandwidth/streamRead.ts';
import { calibrateGrid } from '../kernels/attention/calibrate.ts';
import { CausalChunkAttention } from '../kernels/attention/causalChunkAttention.ts';
import { causalTileName } from '../kernels/attention/causalChunkVariant.ts';
import { DecodeAttention, type DecodeAttentionOptions } from '../kernels/attention/decodeAttention.ts';
import type { PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import { ATTENTION_KERNELS, KERNEL_LABELS, type AttentionKernel } from '../kernels/attention/plan.ts';
import { causalQueriesPerHead } from '../kernels/attention/variant.ts';
import { createSyntheticKv, kvBytesRead, syntheticKvFits } from '../kernels/attention/syntheticKv.ts';
import { fileCalibrationStore } from '../cli/calibrationFile.ts';
import { runProgram } from '../cli/exit.ts';
import { parseFlags, parseSize } from '../cli/flags.ts';
import { toggleFlags } from './benchFlags.ts';
import { formatTable } from '../cli/table.ts';

const K = 1024;
const FULL_LENGTHS = [1, 4, 16, 64, 128, 256, 512].map((n) => n * K);
const QUICK_LENGTHS = [1, 4, 16].map((n) => n * K);
const FULL_RAGGED = [1 * K, 3 * K, 8 * K, 16 * K, 40 * K, 64 * K, 128 * K, 256 * K];
const QUICK_RAGGED = FULL_RAGGED.map((n) => n / 16);

const PREFILL_CHUNK = 64;
const FULL_PREFILL_POSITIONS = [4 * K, 32 * K];
const QUICK_PREFILL_POSITIONS = [1 * K, 4 * K];
const FULL_PREFILL_KERNEL_CHUNKS = [64, 512, 1024];
const QUICK_PREFILL_KERNEL_CHUNKS = [16, 64];

/**
 * Calls per timed pass in the back-to-back column: how bench/cuda_sdpa.py times cuDNN (CUDA events around 50 calls),
 * so that column and cuDNN's compare like for like. A single call's column pays the pass's own cost (its two
 * timestamps and the pass boundary) once per call; in a model, attention runs inside a pass with the layer's other
 * dispatches.
 */
const BACK_TO_BACK_CALLS = 50;
/**
 * `--quick`'s calls per back-to-back pass: a run that checks the harness (on a CPU adapter a call at 16k takes ~0.2 s,
 * and 50 of them per pass made that column most of a 14-minute run).
 */
const QUICK_BACK_TO_BACK_CALLS = 4;

const LAYOUT: PagedKvLayout = { headDim: 128, numKvHeads: 8, pageSize: 16, dtype: 'f16' };
const GROUP = 4;
/** 40 query heads over 5 KV heads (group 8): FlashDecoding's ≤ 128 splits of 5 heads cannot fill the GPU. */
const FIVE_KV_HEADS: PagedKvLayout = { ...LAYOUT, numKvHeads: 5 };

type KernelChoice = Pick<DecodeAttentionOptions, 'streamed' | 'workgroup' | 'unroll' | 'lanes'>;

interface Batch {
  name: string;
  layout: PagedKvLayout;
  group: number;
  lengths: number[];
  /** How the pool hands out pages (default shuffled, as a long-running pool would). */
  pageOrder?: 'shuffled' | 'in order';
}

interface Row {
  batch: string;
  schedule: string;
  kernel: AttentionKernel;
  variant: string;
  workgroups: number;
  ms: number;
  gbPerS: number;
  percentOfFloor: number;
  /** This row's time over LeanAttention's (streamed kernel) on the same batch: above 1, Lean is faster. */
  leanSpeedup: number;
  /** LeanAttention and FlashDecoding: ms per call of Setup.backToBackCalls calls in one timed pass. */
  backToBackMs?: number;
  /** LeanAttention and FlashDecoding: ms per call among others, each after a cache eviction (measureAmongOthers). */
  amongOthersMs?: number;
  /** Of the bytes read, % of the floor, among others. */
  amongOthersPercentOfFloor?: number;
  /** This row's time among others over LeanAttention's on the same batch. */
  amongOthersLeanSpeedup?: number;
}

interface Setup {
  context: GpuContext;
  floor: number;
  repeats: number;
  /** Calls per timed pass in the back-to-back column. */
  backToBackCalls: number;
  /** Calibrated LeanAttention grid per (layout, group, kernel choice). */
  grid(layout: PagedKvLayout, group: number, choice: KernelChoice): Promise<number>;
  /** Reads more than the GPU's caches hold: what a model's other kernels do between two layers' attention. */
  evictCaches(pass: GPUComputePassEncoder): void;
  /** `dispatches` dispatches of an empty kernel (512 workgroups, then 32): what a pass's fixed cost is measured with. */
  encodeEmpty(pass: GPUComputePassEncoder, dispatches: 0 | 1 | 2): void;
}

/** `bytes` read in `ms` as a percentage of the floor. */
function percentOfFloor(setup: Setup, bytes: number, ms: number): number {
  return (100 * bytes) / (ms * 1e6) / setup.floor;
}

/** Times one schedule of one kernel over a batch whose KV and queries already exist. */
async function timeAttention(
  setup: Setup,
  batch: Batch,
  io: { kv: ReturnType<typeof createSyntheticKv>; queries: GPUBuffer; out: GPUBuffer },
  options: Omit<DecodeAttentionOptions, 'layout' | 'group' | 'maxSequences' | 'maxChunk'>,
  {
    only,
    cold,
    calls = 1,
    passes,
    separateSubmissions,
    lead,
    callBefore,
    fromCallBeforeEnd,
    amongOthers,
  }: Pick<Choice, 'only' | 'cold'> & Pick<PassOptions, 'passes' | 'separateSubmissions'> & {
    calls?: number;
    /** Each call among others, after a cache eviction, less the evictions (measureAmongOthers): of the other options, only `only` applies. */
    amongOthers?: boolean;
    /** Recorded at the start of every pass, before its calls. */
    lead?: (pass: GPUComputePassEncoder) => void;
    /** One more call ahead of every run, in an untimed pass of its own (instead of `cold`'s eviction). */
    callBefore?: boolean;
    /** With `callBefore`: the run timed from the end of that pass (two end stamps, no begin stamp). */
    fromCallBeforeEnd?: boolean;
  } = {},
): Promise<{ ms: number; overlapMs?: number; variant: string; workgroups: number }> {
  const attention = new DecodeAttention(setup.context, { layout: batch.layout, group: batch.group, maxSequences: batch.lengths.length, ...options });
  attention.planBatch(batch.lengths, io.kv.pageTableOffsets);
  const bindings = attention.createBindings({ queries: io.queries, keys: io.kv.keys, values: io.kv.values, pageTable: io.kv.pageTable, out: io.out });
  // The merge alone reads partials: one attention pass leaves them.
  if (only === 'merge') await measurePasses(setup.context, 1, (pass) => attention.encodeInPass(pass, bindings));
  const encodeCall = (pass: GPUComputePassEncoder) => attention.encodeInPass(pass, bindings, only);
  const { ms, overlapMs } = amongOthers
    ? await measureAmongOthers(setup.context, setup.repeats, encodeCall, setup.evictCaches)
    : await measurePasses(
        setup.context,
        setup.repeats,
        (pass) => {
          lead?.(pass);
          for (let call = 0; call < calls; call++) encodeCall(pass);
        },
        { beforeRun: cold ? setup.evictCaches : callBefore ? encodeCall : undefined, separateSubmissions, passes, fromBeforeRunEnd: fromCallBeforeEnd },
      );
  // measureAmongOthers gives a call's time; a timed run here holds `calls` calls in each of its passes.
  const callsTimed = amongOthers ? 1 : calls * (passes ?? 1);
  const result = { ms: ms / callsTimed, overlapMs, variant: attention.variant.key, workgroups: attention.currentPlan.rangeCount };
  attention.destroy();
  return result;
}

/** Runs `body` with the batch's synthetic KV, random queries and an output buffer, then frees them. */
async function withBatch<T>(setup: Setup, batch: Batch, body: (io: Parameters<typeof timeAttention>[2]) => Promise<T>): Promise<T> {
  const { device } = setup.context;
  const kv = createSyntheticKv(setup.context, batch.layout, batch.lengths, 1, batch.pageOrder);
  const floats = batch.lengths.length * batch.layout.numKvHeads * batch.group * batch.layout.headDim;
  const queries = createStorageBuffer(device, 'queries', floats * 4);
  fillRandom(device, queries, floats, 'f32', 11);
  const out = createStorageBuffer(device, 'out', floats * 4);
  try {
    return await body({ kv, queries, out });
  } finally {
    kv.destroy();
    queries.destroy();
    out.destroy();
  }
}

/** The three schedules on the streamed kernel, and LeanAttention on the staged kernel, over one batch. */
async function benchBatch(setup: Setup, batch: Batch): Promise<Row[]> {
  const bytes = kvBytesRead(batch.layout, batch.lengths);
  const grid = await setup.grid(batch.layout, batch.group, {});
  const stagedGrid = await setup.grid(batch.layout, batch.group, { streamed: false });
  return withBatch(setup, batch, async (io) => {
    const runs: { schedule: string; kernel: AttentionKernel; options: Parameters<typeof timeAttention>[3] }[] = [
      ...ATTENTION_KERNELS.map((kernel) => ({ schedule: KERNEL_LABELS[kernel], kernel, options: { kernel, grid } })),
      { schedule: `${KERNEL_LABELS.lean} (staged kernel)`, kernel: 'lean' as const, options: { kernel: 'lean' as const, grid: stagedGrid, streamed: false } },
    ];
    const rows: Row[] = [];
    for (const run of runs) {
      const { ms, variant, workgroups } = await timeAttention(setup, batch, io, run.options);
      const gbPerS = bytes / (ms * 1e6);
      // LeanAttention and FlashDecoding on the streamed kernel are also timed among other calls, as in a model.
      const inSequence = run.kernel !== 'fa2' && run.options.streamed !== false;
      const backToBackMs = inSequence ? (await timeAttention(setup, batch, io, run.options, { calls: setup.backToBackCalls })).ms : undefined;
      const amongOthersMs = inSequence ? (await timeAttention(setup, batch, io, run.options, { amongOthers: true })).ms : undefined;
      const amongOthersPercentOfFloor = amongOthersMs === undefined ? undefined : percentOfFloor(setup, bytes, amongOthersMs);
      rows.push({ batch: batch.name, schedule: run.schedule, kernel: run.kernel, variant, workgroups, ms, gbPerS, percentOfFloor: percentOfFloor(setup, bytes, ms), leanSpeedup: 1, backToBackMs, amongOthersMs, amongOthersPercentOfFloor });
    }
    for (const row of rows) {
      row.leanSpeedup = row.ms / rows[0].ms;
      if (row.amongOthersMs !== undefined) row.amongOthersLeanSpeedup = row.amongOthersMs / rows[0].amongOthersMs!;
    }
    return rows;
  });
}

interface ChoiceRow {
  batch: string;
  choice: string;
  variant: string;
  grid: number;
  ms: number;
  percentOfFloor: number;
  /** The baseline choice's time over this one's. */
  speedup: number;
}

/** `only`: one of the two dispatches alone; `cold`: each run after a read that evicts the caches. */
type Choice = { name: string; choice: KernelChoice; grid?: number; only?: 'attention' | 'merge'; cold?: boolean };

/** The choices of the full run's design-choice table. */
function allChoices(setup: Setup): Choice[] {
  return [
    { name: 'staged kernel (before), calibrated grid', choice: { streamed: false } },
    { name: 'streamed, unroll 1', choice: { unroll: 1 } },
    { name: 'streamed, unroll 2', choice: { unroll: 2 } },
    { name: 'streamed, 8 lanes per row, unroll 4 (default)', choice: {} },
    { name: 'streamed, unroll 8', choice: { unroll: 8 } },
    { name: 'streamed, 16 lanes per row', choice: { lanes: 16 } },
    { name: 'streamed, workgroup 64', choice: { workgroup: 64 } },
    // 256 invocations of rows of 4 lanes (SwiftShader's subgroups) outgrow workgroup memory.
    ...(setup.context.features.subgroupMinSize >= 16 ? [{ name: 'streamed, workgroup 256', choice: { workgroup: 256 } }] : []),
    { name: 'streamed, grid 256 (the old fixed grid)', choice: {}, grid: 256 },
    // Small grids: at short contexts the calibrated grid leaves each workgroup one tile and every head split.
    ...[16, 32, 64, 128].map((grid) => ({ name: `streamed, grid ${grid}`, choice: {}, grid })),
  ];
}

/** Where a call's time goes: each of its two dispatches alone, beside the whole call. */
const DISPATCHES_ALONE: Choice[] = [
  { name: 'streamed, default, attention dispatch alone', choice: {}, only: 'attention' },
  { name: 'streamed, default, merge dispatch alone', choice: {}, only: 'merge' },
];

/** `--choices-only`: the choices still open, on the shapes where they matter (d=128 and the 1B model's d=64). */
function openChoices(setup: Setup, batch: Batch): Choice[] {
  const wide = batch.layout.headDim >= 128;
  return [
    { name: 'streamed, default', choice: {} },
    // Other lanes per K row than the default 8: at d=128 16 (half the registers per invocation), at d=64 4 (each lane
    // owns one query row whole).
    { name: `streamed, ${wide ? 16 : 4} lanes per row`, choice: { lanes: wide ? 16 : 4 } },
    // At d=128, 16 lanes leave registers for 8 tokens a stream: twice the loads in flight of 16 lanes at unroll 4.
    // And fewer: more resident invocations each with fewer loads in flight, which the streaming read prefers
    // (bench:bandwidth: 16 warps an SM of 4 loads each outread 8 warps of 8).
    ...(wide
      ? [
          { name: 'streamed, 16 lanes per row, unroll 8', choice: { lanes: 16, unroll: 8 } },
          { name: 'streamed, 16 lanes per row, unroll 2', choice: { lanes: 16, unroll: 2 } },
          { name: 'streamed, 16 lanes per row, unroll 1', choice: { lanes: 16, unroll: 1 } },
        ]
      : []),
    { name: 'streamed, unroll 2', choice: { unroll: 2 } },
    { name: 'streamed, unroll 8', choice: { unroll: 8 } },
    { name: 'streamed, workgroup 64', choice: { workgroup: 64 } },
    ...(setup.context.features.subgroupMinSize >= 16 ? [{ name: 'streamed, workgroup 256', choice: { workgroup: 256 } }] : []),
    // Where the time goes: each of the two dispatches alone; at short contexts, the smaller kernels too.
    ...DISPATCHES_ALONE,
    ...(batch.lengths[0] <= 4 * K
      ? [
          { name: 'streamed, unroll 1', choice: { unroll: 1 } },
          { name: 'streamed, unroll 1, workgroup 64', choice: { unroll: 1, workgroup: 64 } },
          ...[32, 64].map((grid) => ({ name: `streamed, grid ${grid}`, choice: {}, grid })),
          // As in a model: the caches evicted before each run (the model's projections stream their weights between).
          { name: 'cold: streamed, default', choice: {}, cold: true },
          { name: 'cold: streamed, default, attention dispatch alone', choice: {}, only: 'attention' as const, cold: true },
          { name: 'cold: streamed, unroll 2', choice: { unroll: 2 }, cold: true },
          { name: 'cold: streamed, unroll 1', choice: { unroll: 1 }, cold: true },
          { name: 'cold: streamed, workgroup 64', choice: { workgroup: 64 }, cold: true },
          { name: 'cold: streamed, unroll 1, workgroup 64', choice: { unroll: 1, workgroup: 64 }, cold: true },
          ...[32, 64, 512].map((grid) => ({ name: `cold: streamed, grid ${grid}`, choice: {}, grid, cold: true })),
        ]
      : []),
  ];
}

/**
 * `--short-choices 1k,4k`: the kernels a short context could run instead of the default, warm and cold (the caches
 * evicted before each run, as between two layers of a model): fewer tokens a stream per step, and at d=128 twice the
 * lanes per K row (half the query and output registers per invocation).
 */
function shortContextChoices(batch: Batch): Choice[] {
  const wide = batch.layout.headDim >= 128;
  const choices: Choice[] = [
    { name: 'streamed, default', choice: {} },
    { name: 'streamed, unroll 1', choice: { unroll: 1 } },
    { name: 'streamed, unroll 2', choice: { unroll: 2 } },
    ...(wide
      ? [
          { name: 'streamed, 16 lanes per row', choice: { lanes: 16 } },
          { name: 'streamed, 16 lanes per row, unroll 1', choice: { lanes: 16, unroll: 1 } },
          { name: 'streamed, 16 lanes per row, unroll 2', choice: { lanes: 16, unroll: 2 } },
        ]
      : []),
  ];
  return [...choices, ...choices.map((c) => ({ ...c, name: `cold: ${c.name}`, cold: true }))];
}

/**
 * `--choices-only`, GQA 8 (the 5-KV-head batch): lanes per K row and unroll, where q and o take twice the registers
 * (the default at d=128: 16 lanes, unroll 4).
 */
function groupOf8Choices(): Choice[] {
  return [
    { name: 'streamed, default', choice: {} },
    { name: 'streamed, 16 lanes per row, unroll 2', choice: { lanes: 16, unroll: 2 } },
    { name: 'streamed, 8 lanes per row, unroll 2', choice: { lanes: 8, unroll: 2 } },
    { name: 'streamed, 8 lanes per row, unroll 4', choice: { lanes: 8, unroll: 4 } },
    { name: 'streamed, unroll 1', choice: { unroll: 1 } },
    ...DISPATCHES_ALONE,
  ];
}

/** What each design choice buys: LeanAttention under other kernels, tunings and grids, as ratios in this run. */
async function benchChoices(setup: Setup, batch: Batch, choices: Choice[]): Promise<ChoiceRow[]> {
  const bytes = kvBytesRead(batch.layout, batch.lengths);
  // Calibrate first (it makes KV pools of its own), then time every choice on one pool, as the main table does.
  const grids: number[] = [];
  for (const { choice, grid } of choices) grids.push(grid ?? (await setup.grid(batch.layout, batch.group, choice)));
  return withBatch(setup, batch, async (io) => {
    const rows: ChoiceRow[] = [];
    for (const [i, { name, choice, only, cold }] of choices.entries()) {
      const grid = grids[i];
      const { ms, variant } = await timeAttention(setup, batch, io, { kernel: 'lean', grid, ...choice }, { only, cold });
      rows.push({ batch: batch.name, choice: name, variant, grid, ms, percentOfFloor: percentOfFloor(setup, bytes, ms), speedup: 1 });
    }
    for (const row of rows) row.speedup = rows[0].ms / row.ms;
    return rows;
  });
}

interface PrefillRow {
  position: number;
  queriesPerHead: number;
  variant: string;
  workgroups: number;
  ms: number;
  /** Time with one query per work head / this row's time. */
  speedup: number;
}

/** One chunk of PREFILL_CHUNK causal queries after `position` tokens, in query blocks of 1, 2 and 4 per work head. */
async function benchPrefill(setup: Setup, position: number): Promise<PrefillRow[]> {
  const { context } = setup;
  const { device } = context;
  const kv = createSyntheticKv(context, LAYOUT, [position + PREFILL_CHUNK]);
  const queryFloats = PREFILL_CHUNK * LAYOUT.numKvHeads * GROUP * LAYOUT.headDim;
  const queries = createStorageBuffer(device, 'queries', queryFloats * 4);
  fillRandom(device, queries, queryFloats, 'f32', 12);
  const out = createStorageBuffer(device, 'out', queryFloats * 4);
  const grid = await setup.grid(LAYOUT, GROUP, {});
  const rows: PrefillRow[] = [];
  for (const queriesPerHead of [1, 2, 4]) {
    const attention = new DecodeAttention(context, { layout: LAYOUT, group: GROUP, maxChunk: PREFILL_CHUNK, queriesPerHead, grid, kernel: 'lean' });
    attention.planCausalChunk(position, PREFILL_CHUNK, kv.pageTableOffsets[0]);
    const bindings = attention.createBindings({ queries, keys: kv.keys, values: kv.values, pageTable: kv.pageTable, out });
    const { ms } = await measurePasses(context, setup.repeats, (pass) => attention.encodeInPass(pass, bindings));
    rows.push({ position, queriesPerHead: attention.variant.queries, variant: attention.variant.key, workgroups: attention.currentPlan.rangeCount, ms, speedup: 1 });
    attention.destroy();
  }
  for (const row of rows) row.speedup = rows[0].ms / row.ms;
  kv.destroy();
  queries.destroy();
  out.destroy();
  return rows;
}

interface PrefillKernelRow {
  chunk: number;
  position: number;
  tile: string;
  splits: number;
  workgroups: number;
  ms: number;
  tflops: number;
  /** The decode kernel's time on the same chunk, with the causal blocks the engine gave it before. */
  decodeKernelMs: number;
  /** decodeKernelMs / ms. */
  speedup: number;
}

/** One chunk of `chunk` causal queries after `position` tokens: the prefill kernel, then the decode kernel on the same buffers. */
async function benchPrefillKernel(setup: Setup, position: number, chunk: number): Promise<PrefillKernelRow> {
  const { context } = setup;
  const { device } = context;
  const kv = createSyntheticKv(context, LAYOUT, [position + chunk]);
  const queryFloats = chunk * LAYOUT.numKvHeads * GROUP * LAYOUT.headDim;
  const queries = createStorageBuffer(device, 'queries', queryFloats * 4);
  fillRandom(device, queries, queryFloats, 'f32', 13);
  const out = createStorageBuffer(device, 'out', queryFloats * 4);
  const io = { queries, keys: kv.keys, values: kv.values, pageTable: kv.pageTable, out };

  const prefill = new CausalChunkAttention(context, { layout: LAYOUT, group: GROUP, maxChunk: chunk });
  prefill.planCausalChunk(position, chunk, kv.pageTableOffsets[0]);
  const prefillBindings = prefill.createBindings(io);
  const { ms } = await measurePasses(context, setup.repeats, (pass) => prefill.encodeInPass(pass, prefillBindings));
  const plan = prefill.currentPlan;
  prefill.destroy();

  const grid = await setup.grid(LAYOUT, GROUP, {});
  const decode = new DecodeAttention(context, { layout: LAYOUT, group: GROUP, maxChunk: chunk, grid, kernel: 'lean' });
  decode.planCausalChunk(position, chunk, kv.pageTableOffsets[0]);
  const decodeBindings = decode.createBindings(io);
  const decodeKernel = await measurePasses(context, setup.repeats, (pass) => decode.encodeInPass(pass, decodeBindings));
  decode.destroy();
  kv.destroy();
  queries.destroy();
  out.destroy();

  // Query t sees position + t + 1 keys: Σ_t = chunk · position + chunk · (chunk + 1) / 2.
  const visibleKeys = chunk * position + (chunk * (chunk + 1)) / 2;
  const flops = 4 * LAYOUT.numKvHeads * GROUP * LAYOUT.headDim * visibleKeys;
  return {
    chunk,
    position,
    tile: causalTileName(prefill.tile),
    splits: plan.splits,
    workgroups: plan.workgroups,
    ms,
    tflops: flops / (ms * 1e9),
    decodeKernelMs: decodeKernel.ms,
    speedup: decodeKernel.ms / ms,
  };
}

/**
 * The fixed cost of what every decode attention call encodes: one pass with `dispatches` (1 or 2) dispatches of an
 * empty kernel; with none, what the pass's two timestamps measure of themselves.
 */
async function benchEmptyPass(setup: Setup, dispatches: 0 | 1 | 2, options?: PassOptions): Promise<Measurement> {
  return measurePasses(setup.context, setup.repeats, (pass) => setup.encodeEmpty(pass, dispatches), options);
}

interface PassTimingRow {
  what: string;
  /** Per call (or per pass, for the empty passes), timed as every table here times: runs back to back in one submission. */
  ms: number;
  /** How long a run's begin stamp came before the end stamp of the run before it (median). */
  overlapMs: number;
  /** The same, each run in a submission of its own. */
  separateMs: number;
}

/** Calls a pass (or passes of a call each) in `--pass-timing`'s LeanAttention rows: what a pass adds once, against what a call adds. */
const PASS_TIMING_CALLS = 8;

/**
 * `--pass-timing`: what a timed pass adds to a single call's time. Each workload timed as the tables time it (its
 * overlap with the run before says whether a begin stamp waits for it), and again with each run submitted alone once
 * the one before is done. For LeanAttention at each length: a call in its own pass (the tables' single call), calls
 * back to back in one pass, a call after an empty dispatch in its pass (less that pass alone), calls in passes of
 * their own between one begin and one end stamp, and a call timed right after an untimed one (the GPU busy when its
 * begin stamp is written, as a layer's attention is inside a timed decode step).
 */
async function benchPassTiming(setup: Setup, lengths: number[]): Promise<PassTimingRow[]> {
  const rows: PassTimingRow[] = [];
  const emptyDispatchPass: number[] = [];
  for (const dispatches of [0, 1, 2] as const) {
    const inOne = await benchEmptyPass(setup, dispatches);
    const alone = await benchEmptyPass(setup, dispatches, { separateSubmissions: true });
    if (dispatches === 1) emptyDispatchPass.push(inOne.ms, alone.ms);
    const what = dispatches === 0 ? 'a pass with no dispatch (its timestamps alone)' : `a pass with ${dispatches} empty dispatch${dispatches === 1 ? '' : 'es'}`;
    rows.push({ what, ms: inOne.ms, overlapMs: inOne.overlapMs ?? 0, separateMs: alone.ms });
  }
  const grid = await setup.grid(LAYOUT, GROUP, {});
  const emptyDispatch = (pass: GPUComputePassEncoder) => setup.encodeEmpty(pass, 1);
  const shapes: { what: string; options: Parameters<typeof timeAttention>[4]; less?: number[] }[] = [
    { what: 'a call in a pass of its own (the single call)', options: {} },
    { what: `${PASS_TIMING_CALLS} calls in one pass, a call`, options: { calls: PASS_TIMING_CALLS } },
    { what: 'a call after an empty dispatch in its pass, less that pass alone', options: { lead: emptyDispatch }, less: emptyDispatchPass },
    { what: `${PASS_TIMING_CALLS} passes of a call each between two stamps, a call`, options: { passes: PASS_TIMING_CALLS } },
    { what: 'a call in its own pass after an untimed call in the pass before', options: { callBefore: true } },
    { what: 'the same, timed from the end of the pass before (two end stamps)', options: { callBefore: true, fromCallBeforeEnd: true } },
  ];
  for (const n of lengths) {
    const batch: Batch = { name: `N=${lengthName(n)}`, layout: LAYOUT, group: GROUP, lengths: [n] };
    if (!syntheticKvFits(setup.context, batch.layout, batch.lengths)) continue;
    await withBatch(setup, batch, async (io) => {
      for (const shape of shapes) {
        const inOne = await timeAttention(setup, batch, io, { kernel: 'lean', grid }, shape.options);
        const alone = await timeAttention(setup, batch, io, { kernel: 'lean', grid }, { ...shape.options, separateSubmissions: true });
        const [less, lessAlone] = shape.less ?? [0, 0];
        rows.push({ what: `LeanAttention ${batch.name}: ${shape.what}`, ms: inOne.ms - less, overlapMs: inOne.overlapMs ?? 0, separateMs: alone.ms - lessAlone });
      }
    });
  }
  return rows;
}

const lengthName = (n: number) => (n >= K ? `${n / K}k` : `${n}`);
const microseconds = (ms: number) => +(ms * 1000).toFixed(1);

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const json = flags.has('json');
  const repeats = Number(flags.get('repeats') ?? (quick ? 5 : 20));
  const toggles = toggleFlags(flags);
  const log = (line: string) => (json ? process.stderr.write(`${line}\n`) : console.log(line));

  const context = await createNodeGpuContext(toggles);
  log(`adapter: ${context.adapter.description} (${context.adapter.vendor}); timestamp-query: ${context.features.timestampQuery}; subgroups: ${context.features.subgroups} (${context.features.subgroupMinSize}–${context.features.subgroupMaxSize})`);
  if (toggles.length) log(`DIAGNOSTIC RUN with Dawn toggles ${toggles.join(' ')}: not what Chrome runs`);

  const { gbps: floor, bytes: bandwidthBytes } = await measureReadBandwidth(context, { quick, repeats });
  log(`streaming read (the floor): ${floor.toPrecision(3)} GB/s over ${(bandwidthBytes / 1024 ** 2).toFixed(0)} MiB`);

  const fixedGrid = Number(flags.get('grid') ?? 0);
  const calibrations = new Map<string, Promise<number>>();
  const emptyPipeline = context.device.createComputePipeline({
    label: 'empty kernel',
    layout: 'auto',
    compute: { module: context.device.createShaderModule({ code: '@compute @workgroup_size(128) fn main() {}' }), entryPoint: 'main' },
  });
  // A CPU adapter's --quick run reads 8 MiB.
  const evictionMib = flags.has('eviction-mib') ? Number(flags.get('eviction-mib')) : undefined;
  if (evictionMib !== undefined && !(Number.isInteger(evictionMib) && evictionMib >= 1)) {
    throw new Error(`--eviction-mib takes a whole number of MiB, like 512 (got "${flags.get('eviction-mib')}")`);
  }
  const evictionBytes = evictionMib !== undefined ? evictionMib * 1024 ** 2 : quick ? 8 * 1024 ** 2 : CACHE_EVICTION_BYTES;
  const eviction = createCacheEviction(context, evictionBytes);
  log(`cache eviction before each call among others: ${evictionBytes / 1024 ** 2} MiB`);
  const setup: Setup = {
    context,
    floor,
    repeats,
    backToBackCalls: quick ? QUICK_BACK_TO_BACK_CALLS : BACK_TO_BACK_CALLS,
    evictCaches: (pass) => eviction.encode(pass),
    encodeEmpty(pass, dispatches) {
      if (dispatches === 0) return;
      pass.setPipeline(emptyPipeline);
      pass.dispatchWorkgroups(512);
      if (dispatches === 2) pass.dispatchWorkgroups(32);
    },
    grid(layout, group, choice) {
      if (fixedGrid) return Promise.resolve(fixedGrid);
      const key = JSON.stringify([layout, group, choice]);
      if (!calibrations.has(key)) {
        calibrations.set(
          key,
          calibrateGrid(context, { layout, group, kernelOptions: choice, contextLength: quick ? 8 * K : 64 * K, store: fileCalibrationStore(), force: flags.has('recalibrate') }).then((c) => {
            log(`grid for ${c.key.split('#')[1]}: ${c.grid}  [${c.timings.map((t) => `${t.grid}: ${microseconds(t.ms)} µs`).join(', ')}]`);
            return c.grid;
          }),
        );
      }
      return calibrations.get(key)!;
    },
  };

  const ragged = quick ? QUICK_RAGGED : FULL_RAGGED;
  const misfit = quick ? 4 * K : 64 * K;
  // FlashDecoding splits no head once the heads alone fill 80% of the workgroups the GPU runs at once: a batch whose
  // heads just pass one such wave leaves its last few heads a wave of their own.
  const pastOneWave = Math.ceil((1.06 * (await setup.grid(LAYOUT, GROUP, {}))) / LAYOUT.numKvHeads);
  const pastOneWaveLength = quick ? 1 * K : 8 * K;
  // The batches where a split count chosen per batch may not fit the GPU (the paper's comparison).
  const misfitBatches: Batch[] = [
    { name: `ragged 8×[${ragged.map(lengthName).join(',')}]`, layout: LAYOUT, group: GROUP, lengths: ragged },
    { name: `Hq40/Hkv5 N=${lengthName(misfit)}`, layout: FIVE_KV_HEADS, group: 8, lengths: [misfit] },
    { name: `3 seqs × ${lengthName(misfit)}`, layout: LAYOUT, group: GROUP, lengths: [misfit, misfit, misfit] },
    { name: `${pastOneWave} seqs × ${lengthName(pastOneWaveLength)}`, layout: LAYOUT, group: GROUP, lengths: Array(pastOneWave).fill(pastOneWaveLength) },
  ];
  const batches: Batch[] = [
    ...(quick ? QUICK_LENGTHS : FULL_LENGTHS).map((n) => ({ name: `N=${lengthName(n)}`, layout: LAYOUT, group: GROUP, lengths: [n] })),
    ...misfitBatches,
    // The same context with its pages in order, and with pages of 256 tokens: what the page layout costs.
    { name: `${lengthName(misfit)}, pages in order`, layout: LAYOUT, group: GROUP, lengths: [misfit], pageOrder: 'in order' },
    { name: `${lengthName(misfit)}, pages of 256 tokens`, layout: { ...LAYOUT, pageSize: 256 }, group: GROUP, lengths: [misfit] },
  ];
  /** A flag's comma-separated sizes (`--lengths 1k,64k`), undefined where the flag is absent. */
  const sizeList = (name: string): number[] | undefined => {
    const value = flags.get(name);
    if (typeof value !== 'string') return undefined;
    const sizes = value.split(',').map(parseSize);
    if (sizes.some((n) => !(n >= 1))) throw new Error(`--${name} takes sizes like 1k,64k (got "${value}")`);
    return sizes;
  };
  const onlyLengths = sizeList('lengths');
  // `--head-dim 64`: those rows at the head dim of the 1B-class models (Llama 3.2 1B, SmolLM, TinyLlama).
  const lengthsLayout = { ...LAYOUT, headDim: Number(flags.get('head-dim') ?? LAYOUT.headDim) };
  if (onlyLengths) {
    const name = (n: number) => `N=${lengthName(n)}${lengthsLayout.headDim === LAYOUT.headDim ? '' : `, d=${lengthsLayout.headDim}`}`;
    batches.splice(0, batches.length, ...onlyLengths.map((n) => ({ name: name(n), layout: lengthsLayout, group: GROUP, lengths: [n] })));
  }
  const batchesOnly = flags.has('batches-only');
  if (batchesOnly) batches.splice(0, batches.length, ...misfitBatches);
  // Some rows of the main table alone: no design choices, no prefill sections.
  const tableRowsOnly = onlyLengths !== undefined || batchesOnly;
  const prefillOnly = flags.has('prefill-only');
  const openChoicesOnly = flags.has('choices-only');
  const shortLengths = sizeList('short-choices') ?? [];
  const passTimingLengths = sizeList('pass-timing');
  // `--pass-timing` and the choices: their own sections alone.
  const choicesOnly = openChoicesOnly || shortLengths.length > 0 || passTimingLengths !== undefined;
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const batch of prefillOnly || choicesOnly ? [] : batches) {
    if (syntheticKvFits(context, batch.layout, batch.lengths)) rows.push(...(await benchBatch(setup, batch)));
    else skipped.push(batch.name);
  }

  const emptyPassMs = (await benchEmptyPass(setup, 2)).ms;
  const emptyDispatchMs = (await benchEmptyPass(setup, 1)).ms;
  const passTimingRows = passTimingLengths ? await benchPassTiming(setup, passTimingLengths) : [];

  const choiceRows: ChoiceRow[] = [];
  for (const n of prefillOnly || choicesOnly || tableRowsOnly ? [] : quick ? [4 * K] : [1 * K, 4 * K, 16 * K, 64 * K]) {
    choiceRows.push(...(await benchChoices(setup, { name: `N=${lengthName(n)}`, layout: LAYOUT, group: GROUP, lengths: [n] }, allChoices(setup))));
  }
  /** One context at d=128 and at d=64, each under the choices `choicesFor` lists for it. */
  const benchBothHeadDims = async (n: number, choicesFor: (batch: Batch) => Choice[]) => {
    for (const layout of [LAYOUT, { ...LAYOUT, headDim: 64 }]) {
      const batch = { name: `N=${lengthName(n)}, d=${layout.headDim}`, layout, group: GROUP, lengths: [n] };
      if (syntheticKvFits(context, layout, batch.lengths)) choiceRows.push(...(await benchChoices(setup, batch, choicesFor(batch))));
    }
  };
  for (const n of openChoicesOnly ? (quick ? [4 * K] : [1 * K, 64 * K, 256 * K]) : []) await benchBothHeadDims(n, (batch) => openChoices(setup, batch));
  for (const n of shortLengths) await benchBothHeadDims(n, shortContextChoices);
  if (batchesOnly) {
    // The batch just past one wave against one sequence of as many tokens: what its heads cost beyond their bytes, and
    // in which dispatch.
    const pastOneWaveBatch = misfitBatches[misfitBatches.length - 1];
    const tokens = pastOneWaveBatch.lengths.reduce((a, b) => a + b, 0);
    const oneSequence = { name: `N=${lengthName(tokens)} (one sequence)`, layout: LAYOUT, group: GROUP, lengths: [tokens] };
    for (const batch of [pastOneWaveBatch, oneSequence]) {
      if (syntheticKvFits(context, batch.layout, batch.lengths)) choiceRows.push(...(await benchChoices(setup, batch, [{ name: 'streamed, default', choice: {} }, ...DISPATCHES_ALONE])));
    }
  }
  const groupOf8 = misfitBatches.find((batch) => batch.group === 8)!;
  if (openChoicesOnly && syntheticKvFits(context, groupOf8.layout, groupOf8.lengths)) choiceRows.push(...(await benchChoices(setup, groupOf8, groupOf8Choices())));

  const prefillRows: PrefillRow[] = [];
  for (const position of choicesOnly ? [] : quick ? QUICK_PREFILL_POSITIONS : FULL_PREFILL_POSITIONS) {
    if (syntheticKvFits(context, LAYOUT, [position + PREFILL_CHUNK])) prefillRows.push(...(await benchPrefill(setup, position)));
    else skipped.push(`prefill after ${lengthName(position)}`);
  }

  const prefillKernelRows: PrefillKernelRow[] = [];
  for (const position of choicesOnly ? [] : quick ? QUICK_PREFILL_POSITIONS : FULL_PREFILL_POSITIONS) {
    for (const chunk of quick ? QUICK_PREFILL_KERNEL_CHUNKS : FULL_PREFILL_KERNEL_CHUNKS) {
      if (syntheticKvFits(context, LAYOUT, [position + chunk])) prefillKernelRows.push(await benchPrefillKernel(setup, position, chunk));
      else skipped.push(`prefill kernel, ${chunk} after ${lengthName(position)}`);
    }
  }

  if (json) {
    console.log(JSON.stringify({ adapter: context.adapter, toggles, floorGBps: floor, emptyPassMs, emptyDispatchMs, passTimingRows, skipped, rows, choiceRows, prefillRows, prefillKernelRows }, null, 2));
    return;
  }
  if (!prefillOnly) {
    console.log('');
    console.log(
      formatTable(
        ['batch', 'schedule', 'workgroups', 'median µs', 'GB/s', '% of floor', 'Lean speedup', `back-to-back µs (${setup.backToBackCalls} calls a pass)`, `among others µs (${CALLS_AMONG_OTHERS} calls a pass, caches evicted)`, '% of floor, among others', 'Lean speedup, among others'],
        rows.map((r) => [
          r.batch,
          r.schedule,
          r.workgroups,
          microseconds(r.ms),
          +r.gbPerS.toPrecision(4),
          +r.percentOfFloor.toFixed(1),
          `${r.leanSpeedup.toFixed(2)}x`,
          r.backToBackMs === undefined ? '' : microseconds(r.backToBackMs),
          r.amongOthersMs === undefined ? '' : microseconds(r.amongOthersMs),
          r.amongOthersPercentOfFloor === undefined ? '' : +r.amongOthersPercentOfFloor.toFixed(1),
          r.amongOthersLeanSpeedup === undefined ? '' : `${r.amongOthersLeanSpeedup.toFixed(2)}x`,
        ]),
      ),
    );
    const single = rows.filter((r) => r.batch.startsWith('N='));
    const meanSpeedup = (schedule: string) => {
      const speedups = single.filter((r) => r.schedule === schedule).map((r) => r.leanSpeedup);
      return speedups.reduce((a, b) => a + b, 0) / Math.max(1, speedups.length);
    };
    console.log(`\nkernels: ${[...new Set(rows.map((r) => r.variant))].join(', ')}`);
    if (single.length) console.log(`Lean over FA2-style, mean over N: ${meanSpeedup(KERNEL_LABELS.fa2).toFixed(2)}x; over FlashDecoding: ${meanSpeedup(KERNEL_LABELS.fd).toFixed(2)}x; over the staged kernel: ${meanSpeedup(`${KERNEL_LABELS.lean} (staged kernel)`).toFixed(2)}x`);
    console.log(`fixed cost of one pass with two empty dispatches (512 and 32 workgroups): ${microseconds(emptyPassMs)} µs; with one (512): ${microseconds(emptyDispatchMs)} µs`);
    if (rows.length) {
      console.log("a single call's time includes what its own timestamps cost it (on the H200 6–11 µs: --pass-timing); back to back, a call reads what the call before left in the caches");
      console.log("among others: each call after a read that evicts the caches (a model's projections between two layers' attention), less those reads: a layer's attention in a model's step");
    }
    if (passTimingRows.length) {
      console.log(`\nwhat a timed pass adds to a call: µs as the tables time it (${setup.repeats} runs back to back in one submission), how long each run's begin stamp came before the end stamp of the run before it, and µs with each run in a submission of its own (medians)`);
      console.log(
        formatTable(
          ['run', 'µs', 'overlap with the run before', 'µs, submitted alone'],
          passTimingRows.map((r) => [r.what, microseconds(r.ms), microseconds(r.overlapMs), microseconds(r.separateMs)]),
        ),
      );
    }
    if (choiceRows.length) {
      console.log('\ndesign choices: LeanAttention under each choice, speedup over the first row of its batch');
      console.log(
        formatTable(
          ['batch', 'choice', 'grid', 'median µs', '% of floor', 'speedup'],
          choiceRows.map((r) => [r.batch, r.choice, r.grid, microseconds(r.ms), +r.percentOfFloor.toFixed(1), `${r.speedup.toFixed(2)}x`]),
        ),
      );
    }
  }
  if (choicesOnly || tableRowsOnly) return;
  const engineBlock = causalQueriesPerHead({ headDim: LAYOUT.headDim, group: GROUP, kvDtype: LAYOUT.dtype, subgroupMinSize: context.features.subgroupMinSize, maxWorkgroupStorage: context.limits.maxComputeWorkgroupStorageSize, pageSize: LAYOUT.pageSize });
  console.log(`\nprefill: causal attention of one ${PREFILL_CHUNK}-token chunk, decode kernel, LeanAttention schedule (before the prefill kernel, the engine ran ${engineBlock} ${engineBlock === 1 ? 'query' : 'queries'} per work head here)`);
  console.log(
    formatTable(
      ['chunk after', 'queries per work head', 'workgroups', 'median µs', 'speedup over 1 query per head'],
      prefillRows.map((r) => [lengthName(r.position), r.queriesPerHead, r.workgroups, microseconds(r.ms), `${r.speedup.toFixed(2)}x`]),
    ),
  );
  console.log(`\nprefill kernel (causal_chunk_attention, what the engine runs) against the decode kernel with ${engineBlock} ${engineBlock === 1 ? 'query' : 'queries'} per work head (before), same run`);
  console.log(
    formatTable(
      ['chunk', 'after', 'tile', 'splits', 'workgroups', 'median µs', 'TFLOP/s', 'decode kernel µs', 'speedup'],
      prefillKernelRows.map((r) => [r.chunk, lengthName(r.position), r.tile, r.splits, r.workgroups, microseconds(r.ms), +r.tflops.toPrecision(3), microseconds(r.decodeKernelMs), `${r.speedup.toFixed(2)}x`]),
    ),
  );
  if (skipped.length) console.log(`skipped (does not fit this adapter's buffer limits): ${skipped.join(', ')}`);
}

runProgram(main);
