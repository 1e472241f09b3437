// Decode attention benchmark: LeanAttention vs FlashDecoding vs FA2-style on one adapter, in one run.
//   npm run bench:attention [-- --quick] [-- --json] [-- --grid N] [-- --repeats N]
// First measures the adapter's read bandwidth with a streaming-read kernel (the floor), then times each kernel
// for B=1, Hq=32, Hkv=8, D=128, f16 KV over a list of context lengths, and for a ragged batch of 8 sequences.
// Then the causal attention of one prefill chunk (LeanAttention schedule) deep into a context: query blocks that
// share each K and V read against one query per work head (every query re-reading the KV).
import { createNodeGpuContext } from '../engine/gpu/node.ts';
import type { GpuContext } from '../engine/gpu/context.ts';
import { measureReadBandwidth } from '../kernels/bandwidth/measureBandwidth.ts';
import { createStorageBuffer } from '../kernels/gpu/buffers.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import { measurePasses } from '../kernels/gpu/timing.ts';
import { calibrateGrid } from '../kernels/attention/calibrate.ts';
import { DecodeAttention } from '../kernels/attention/decodeAttention.ts';
import type { PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import { ATTENTION_KERNELS, KERNEL_LABELS, type AttentionKernel } from '../kernels/attention/plan.ts';
import { createSyntheticKv, kvBytesRead, syntheticKvFits } from '../kernels/attention/syntheticKv.ts';
import { fileCalibrationStore } from '../cli/calibrationFile.ts';
import { exitAfterFlush } from '../cli/exit.ts';
import { parseFlags } from '../cli/flags.ts';
import { formatTable } from './table.ts';

const K = 1024;
const FULL_LENGTHS = [1, 4, 16, 64, 128, 256, 512].map((n) => n * K);
const QUICK_LENGTHS = [1, 4, 16].map((n) => n * K);
const FULL_RAGGED = [1 * K, 3 * K, 8 * K, 16 * K, 40 * K, 64 * K, 128 * K, 256 * K];
const QUICK_RAGGED = FULL_RAGGED.map((n) => n / 16);

const PREFILL_CHUNK = 64;
const FULL_PREFILL_POSITIONS = [4 * K, 32 * K];
const QUICK_PREFILL_POSITIONS = [1 * K, 4 * K];

const LAYOUT: PagedKvLayout = { headDim: 128, numKvHeads: 8, pageSize: 16, dtype: 'f16' };
const GROUP = 4;

interface Row {
  batch: string;
  kernel: AttentionKernel;
  variant: string;
  workgroups: number;
  ms: number;
  gbPerS: number;
  percentOfBandwidth: number;
  leanSpeedup?: number;
}

async function benchBatch(
  context: GpuContext,
  batch: string,
  lengths: number[],
  grid: number,
  bandwidth: number,
  repeats: number,
): Promise<Row[]> {
  const { device } = context;
  const kv = createSyntheticKv(context, LAYOUT, lengths);
  const queryCount = lengths.length * LAYOUT.numKvHeads * GROUP * LAYOUT.headDim;
  const queries = createStorageBuffer(device, 'queries', queryCount * 4);
  fillRandom(device, queries, queryCount, 'f32', 11);
  const out = createStorageBuffer(device, 'out', queryCount * 4);
  const bytes = kvBytesRead(LAYOUT, lengths);
  const rows: Row[] = [];
  for (const kernel of ATTENTION_KERNELS) {
    const attention = new DecodeAttention(context, { layout: LAYOUT, group: GROUP, maxSequences: lengths.length, grid, kernel });
    attention.planBatch(lengths, kv.pageTableOffsets);
    const bindings = attention.createBindings({ queries, keys: kv.keys, values: kv.values, pageTable: kv.pageTable, out });
    const { ms } = await measurePasses(context, repeats, (pass) => attention.encodeInPass(pass, bindings));
    const gbPerS = bytes / (ms * 1e6);
    rows.push({
      batch,
      kernel,
      variant: attention.variant.key,
      workgroups: attention.currentPlan.rangeCount,
      ms,
      gbPerS,
      percentOfBandwidth: (100 * gbPerS) / bandwidth,
    });
  }
  const lean = rows.find((r) => r.kernel === 'lean')!;
  for (const row of rows) row.leanSpeedup = row.ms / lean.ms;
  kv.destroy();
  queries.destroy();
  out.destroy();
  return rows;
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

/** One chunk of PREFILL_CHUNK causal queries after `position` tokens, blocked as the engine runs it and one per head. */
async function benchPrefill(context: GpuContext, position: number, grid: number, repeats: number): Promise<PrefillRow[]> {
  const { device } = context;
  const kv = createSyntheticKv(context, LAYOUT, [position + PREFILL_CHUNK]);
  const queryFloats = PREFILL_CHUNK * LAYOUT.numKvHeads * GROUP * LAYOUT.headDim;
  const queries = createStorageBuffer(device, 'queries', queryFloats * 4);
  fillRandom(device, queries, queryFloats, 'f32', 12);
  const out = createStorageBuffer(device, 'out', queryFloats * 4);
  const rows: PrefillRow[] = [];
  for (const queriesPerHead of [1, undefined]) {
    const attention = new DecodeAttention(context, { layout: LAYOUT, group: GROUP, maxChunk: PREFILL_CHUNK, queriesPerHead, grid, kernel: 'lean' });
    attention.planCausalChunk(position, PREFILL_CHUNK, kv.pageTableOffsets[0]);
    const bindings = attention.createBindings({ queries, keys: kv.keys, values: kv.values, pageTable: kv.pageTable, out });
    const { ms } = await measurePasses(context, repeats, (pass) => attention.encodeInPass(pass, bindings));
    rows.push({ position, queriesPerHead: attention.variant.queries, variant: attention.variant.key, workgroups: attention.currentPlan.rangeCount, ms, speedup: 1 });
    attention.destroy();
  }
  for (const row of rows) row.speedup = rows[0].ms / row.ms;
  kv.destroy();
  queries.destroy();
  out.destroy();
  return rows;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const json = flags.has('json');
  const repeats = Number(flags.get('repeats') ?? (quick ? 5 : 20));
  const log = (line: string) => (json ? process.stderr.write(`${line}\n`) : console.log(line));

  const context = await createNodeGpuContext();
  log(`adapter: ${context.adapter.description} (${context.adapter.vendor}); timestamp-query: ${context.features.timestampQuery}; subgroups: ${context.features.subgroups}`);

  const bandwidthBytes = quick ? 64 * 1024 * 1024 : Math.min(1024 ** 3, context.limits.maxStorageBufferBindingSize, context.limits.maxBufferSize);
  const bandwidth = await measureReadBandwidth(context, bandwidthBytes, repeats);
  log(`streaming read: ${bandwidth.toPrecision(3)} GB/s over ${(bandwidthBytes / 1024 ** 2).toFixed(0)} MiB`);

  let grid = Number(flags.get('grid') ?? 0);
  if (!grid) {
    const calibration = await calibrateGrid(context, { layout: LAYOUT, group: GROUP, contextLength: quick ? 8 * K : 64 * K, store: fileCalibrationStore(), force: flags.has('recalibrate') });
    grid = calibration.grid;
    log(`LeanAttention grid (calibrated at ${calibration.contextLength} tokens): ${grid}  [${calibration.timings.map((t) => `${t.grid}: ${t.ms.toFixed(3)} ms`).join(', ')}]`);
  }

  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const n of quick ? QUICK_LENGTHS : FULL_LENGTHS) {
    if (!syntheticKvFits(context, LAYOUT, [n])) {
      skipped.push(`N=${n / K}k`);
      continue;
    }
    rows.push(...(await benchBatch(context, `N=${n / K}k`, [n], grid, bandwidth, repeats)));
  }
  const ragged = quick ? QUICK_RAGGED : FULL_RAGGED;
  const raggedName = `ragged ${ragged.length}×[${ragged.map((n) => (n >= K ? `${n / K}k` : n)).join(',')}]`;
  if (syntheticKvFits(context, LAYOUT, ragged)) rows.push(...(await benchBatch(context, raggedName, ragged, grid, bandwidth, repeats)));
  else skipped.push(raggedName);

  const prefillRows: PrefillRow[] = [];
  for (const position of quick ? QUICK_PREFILL_POSITIONS : FULL_PREFILL_POSITIONS) {
    if (syntheticKvFits(context, LAYOUT, [position + PREFILL_CHUNK])) prefillRows.push(...(await benchPrefill(context, position, grid, repeats)));
    else skipped.push(`prefill after ${position / K}k`);
  }

  if (json) {
    console.log(JSON.stringify({ adapter: context.adapter, bandwidthGBps: bandwidth, grid, skipped, rows, prefillRows }, null, 2));
    return;
  }
  const single = rows.filter((r) => r.batch.startsWith('N='));
  console.log('');
  console.log(
    formatTable(
      ['batch', 'kernel', 'workgroups', 'median µs', 'GB/s', '% of read BW', 'Lean speedup'],
      rows.map((r) => [r.batch, KERNEL_LABELS[r.kernel], r.workgroups, +(r.ms * 1000).toFixed(1), +r.gbPerS.toPrecision(3), +r.percentOfBandwidth.toFixed(1), r.kernel === 'lean' ? '1.00x' : `${r.leanSpeedup!.toFixed(2)}x`]),
    ),
  );
  const mean = (kernel: AttentionKernel) => {
    const speedups = single.filter((r) => r.kernel === kernel).map((r) => r.leanSpeedup!);
    return speedups.reduce((a, b) => a + b, 0) / Math.max(1, speedups.length);
  };
  console.log(`\nvariant: ${rows[0]?.variant}; grid ${grid}; Lean/FA2 mean over N: ${mean('fa2').toFixed(2)}x; Lean/FD mean over N: ${mean('fd').toFixed(2)}x`);
  console.log(`\nprefill: causal attention of one ${PREFILL_CHUNK}-token chunk, LeanAttention schedule`);
  console.log(
    formatTable(
      ['chunk after', 'queries per work head', 'workgroups', 'median µs', 'speedup over 1 query per head'],
      prefillRows.map((r) => [`${r.position / K}k`, r.queriesPerHead, r.workgroups, +(r.ms * 1000).toFixed(1), `${r.speedup.toFixed(2)}x`]),
    ),
  );
  if (skipped.length) console.log(`skipped (does not fit this adapter's buffer limits): ${skipped.join(', ')}`);
}

main().then(
  () => exitAfterFlush(0),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    return exitAfterFlush(1);
  },
);
