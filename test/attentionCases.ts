// The attention kernel cases, shared by the unit tests (decodeAttention.test.ts, on the CI adapter) and by
// bench/checkAttention.ts (the same float64 checks on whatever GPU runs the benchmark, in the same call).
import type { GpuContext } from '../kernels/gpu/context.ts';
import { withGpuErrorScope } from '../kernels/gpu/context.ts';
import { createStorageBuffer, readFloat32 } from '../kernels/gpu/buffers.ts';
import { DecodeAttention, type AttentionIo, type DecodeAttentionOptions } from '../kernels/attention/decodeAttention.ts';
import { CausalChunkAttention, type CausalChunkAttentionOptions } from '../kernels/attention/causalChunkAttention.ts';
import type { PagedKvLayout } from '../kernels/attention/pagedKv.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { bindCausalMatrixUnits } from '../kernels/attention/causalMatrixUnits.ts';
import { dispatch } from '../kernels/model/boundKernel.ts';
import { StepUniform } from '../kernels/model/stepUniform.ts';
import { causalWindows, decodeWindows, makePagedKv, randomFloat32, referenceAttention, type PagedKvFixture } from './pagedKvFixture.ts';

export interface Shape {
  name: string;
  layout: PagedKvLayout;
  group: number;
  lengths: number[];
}

// Ragged batches, context lengths that are not multiples of the tile or the page, length 1, GQA 1/4/8,
// head dims 64 and 128, f16 and f32 pools.
export const SHAPES: Shape[] = [
  { name: 'd128 g4 f16 p16, lengths 1/17/1000/4097', layout: { headDim: 128, numKvHeads: 2, pageSize: 16, dtype: 'f16' }, group: 4, lengths: [1, 17, 1000, 4097] },
  { name: 'd64 g8 f16 p32, lengths 33/200/5', layout: { headDim: 64, numKvHeads: 1, pageSize: 32, dtype: 'f16' }, group: 8, lengths: [33, 200, 5] },
  { name: 'd64 g1 f32 p16, lengths 100/1/64/65', layout: { headDim: 64, numKvHeads: 3, pageSize: 16, dtype: 'f32' }, group: 1, lengths: [100, 1, 64, 65] },
  { name: 'd128 g1 f32 p32, lengths 300/2', layout: { headDim: 128, numKvHeads: 2, pageSize: 32, dtype: 'f32' }, group: 1, lengths: [300, 2] },
  { name: 'd128 g8 f16 p16, one sequence of 2500', layout: { headDim: 128, numKvHeads: 1, pageSize: 16, dtype: 'f16' }, group: 8, lengths: [2500] },
  { name: 'd64 g4 f32 p16, lengths 7/129', layout: { headDim: 64, numKvHeads: 2, pageSize: 16, dtype: 'f32' }, group: 4, lengths: [7, 129] },
];

export interface Schedule {
  name: string;
  kernel: AttentionKernel;
  grid?: number;
  splits?: number;
}

export const SCHEDULES: Schedule[] = [
  { name: 'lean, grid 1 (one workgroup walks every head)', kernel: 'lean', grid: 1 },
  { name: 'lean, grid 7', kernel: 'lean', grid: 7 },
  { name: 'lean, grid 64', kernel: 'lean', grid: 64 },
  { name: 'fd, 3 splits', kernel: 'fd', splits: 3 },
  { name: 'fa2', kernel: 'fa2' },
];

export interface Run {
  attention: DecodeAttention;
  out: Float32Array;
  /** Rows past the last query kept their NaN poison: nothing wrote outside its rows. */
  spareRowsKept: boolean;
}

/** What a run attends with: decode over the fixture's sequences, or one causal chunk of sequence 0. */
export type Queries = { kind: 'decode' } | { kind: 'causal'; position: number; count: number };

// Rows of `out` past the last query: they must keep their poison (nothing writes outside its rows).
const SPARE_ROWS = 3;

export async function runAttention(
  context: GpuContext,
  fixture: PagedKvFixture,
  queries: Float32Array,
  group: number,
  options: Pick<DecodeAttentionOptions, 'grid' | 'splits' | 'streamed' | 'workgroup' | 'unroll' | 'lanes' | 'defaultsFor'> & { kernel: AttentionKernel },
  what: Queries = { kind: 'decode' },
): Promise<Run> {
  const attention = new DecodeAttention(context, {
    layout: fixture.layout,
    group,
    // The variants a GPU runs, on whatever adapter runs the tests, unless a case asks for a CPU adapter's.
    defaultsFor: 'gpu',
    ...(what.kind === 'causal' ? { maxChunk: what.count } : { maxSequences: fixture.lengths.length }),
    ...options,
  });
  const written = await runWithPoisonedOut(context, fixture, queries, group, (io, encoder) => {
    if (what.kind === 'causal') attention.planCausalChunk(what.position, what.count, fixture.pageTableOffsets[0]);
    else attention.planBatch(fixture.lengths, fixture.pageTableOffsets);
    attention.encode(encoder, attention.createBindings(io));
  });
  attention.destroy();
  return { attention, ...written };
}

export interface CausalChunkRun {
  attention: CausalChunkAttention;
  out: Float32Array;
  spareRowsKept: boolean;
}

/** One causal chunk of sequence 0 through the prefill kernel (causalChunkAttention.ts). */
export async function runCausalChunk(
  context: GpuContext,
  fixture: PagedKvFixture,
  queries: Float32Array,
  group: number,
  chunk: { position: number; count: number },
  options: Pick<CausalChunkAttentionOptions, 'tile' | 'splits'> = {},
): Promise<CausalChunkRun> {
  const attention = await withGpuErrorScope(context.device, 'causal chunk attention pipelines', () =>
    new CausalChunkAttention(context, { layout: fixture.layout, group, maxChunk: chunk.count, ...options }),
  );
  const written = await runWithPoisonedOut(context, fixture, queries, group, (io, encoder) => {
    attention.planCausalChunk(chunk.position, chunk.count, fixture.pageTableOffsets[0]);
    attention.encode(encoder, attention.createBindings(io));
  });
  attention.destroy();
  return { attention, ...written };
}

/** Runs `encode` on the fixture's buffers with `out` poisoned with NaN, SPARE_ROWS rows past the queries included. */
export async function runWithPoisonedOut(
  context: GpuContext,
  fixture: PagedKvFixture,
  queries: Float32Array,
  group: number,
  encode: (io: AttentionIo, encoder: GPUCommandEncoder) => void,
): Promise<Omit<Run, 'attention'>> {
  const { device } = context;
  const rowFloats = group * fixture.layout.numKvHeads * fixture.layout.headDim;
  const poisoned = new Float32Array(queries.length + SPARE_ROWS * rowFloats).fill(NaN);
  const io = {
    queries: createStorageBuffer(device, 'queries', queries),
    keys: createStorageBuffer(device, 'keys', fixture.keyWords),
    values: createStorageBuffer(device, 'values', fixture.valueWords),
    pageTable: createStorageBuffer(device, 'page table', fixture.pageTable),
    out: createStorageBuffer(device, 'out', poisoned),
  };
  await withGpuErrorScope(device, 'attention', () => {
    const encoder = device.createCommandEncoder();
    encode(io, encoder);
    device.queue.submit([encoder.finish()]);
  });
  const written = await readFloat32(device, io.out, poisoned.length);
  for (const buffer of Object.values(io)) buffer.destroy();
  return { out: written.slice(0, queries.length), spareRowsKept: written.subarray(queries.length).every(Number.isNaN) };
}

/** One causal chunk of sequence 0 through the matrix-unit kernel (causalMatrixUnits.ts), poisoned as runAttention. */
export async function runCausalMatrixUnits(context: GpuContext, fixture: PagedKvFixture, queries: Float32Array, group: number, position: number, count: number): Promise<Omit<Run, 'attention'>> {
  const { device } = context;
  const rowFloats = group * fixture.layout.numKvHeads * fixture.layout.headDim;
  const poisoned = new Float32Array(queries.length + SPARE_ROWS * rowFloats).fill(NaN);
  const step = new StepUniform(device);
  const io = {
    step: step.buffer,
    queries: createStorageBuffer(device, 'queries', queries),
    keys: createStorageBuffer(device, 'keys', fixture.keyWords),
    values: createStorageBuffer(device, 'values', fixture.valueWords),
    pageTable: createStorageBuffer(device, 'page table', fixture.pageTable),
    out: createStorageBuffer(device, 'out', poisoned),
  };
  await withGpuErrorScope(device, 'matrix-unit causal attention', () => {
    step.write({ tokenCount: count, position, pageTableOffset: fixture.pageTableOffsets[0], lastRow: count - 1 });
    const kernel = bindCausalMatrixUnits(context, 'causal attention (matrix units)', fixture.layout, group, io);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(pass, kernel, { tokenCount: count });
    pass.end();
    device.queue.submit([encoder.finish()]);
  });
  const written = await readFloat32(device, io.out, poisoned.length);
  for (const buffer of Object.values(io)) buffer.destroy();
  return { out: written.slice(0, queries.length), spareRowsKept: written.subarray(queries.length).every(Number.isNaN) };
}

export function makeCase(shape: Shape) {
  const fixture = makePagedKv(shape.layout, shape.lengths);
  const queryHeads = shape.layout.numKvHeads * shape.group;
  // Queries in [-3, 3] make the attention peaked enough for the test to notice a wrong token.
  const queries = randomFloat32(shape.lengths.length * queryHeads * shape.layout.headDim).map((x) => 3 * x);
  return { fixture, queries, expected: referenceAttention(fixture, queries, shape.group, decodeWindows(shape.lengths)) };
}

export interface CausalShape {
  name: string;
  layout: PagedKvLayout;
  group: number;
  /** The chunk's queries are at positions position … position + count − 1; the KV holds position + count tokens. */
  position: number;
  count: number;
}

// Prefill chunks: starting at 0 and deep into a context, positions and counts that are not multiples of the tile,
// the page or the query block, a single query, GQA 1/4/8, head dims 64 and 128, f16 and f32 pools.
export const CAUSAL_SHAPES: CausalShape[] = [
  { name: 'd128 g4 f16 p16, 37 queries after 1000', layout: { headDim: 128, numKvHeads: 2, pageSize: 16, dtype: 'f16' }, group: 4, position: 1000, count: 37 },
  { name: 'd64 g8 f16 p32, 64 queries from 0', layout: { headDim: 64, numKvHeads: 1, pageSize: 32, dtype: 'f16' }, group: 8, position: 0, count: 64 },
  { name: 'd64 g1 f32 p16, 20 queries after 65', layout: { headDim: 64, numKvHeads: 3, pageSize: 16, dtype: 'f32' }, group: 1, position: 65, count: 20 },
  { name: 'd128 g1 f32 p32, 5 queries after 3', layout: { headDim: 128, numKvHeads: 2, pageSize: 32, dtype: 'f32' }, group: 1, position: 3, count: 5 },
  { name: 'd128 g8 f16 p16, 9 queries after 2500', layout: { headDim: 128, numKvHeads: 1, pageSize: 16, dtype: 'f16' }, group: 8, position: 2500, count: 9 },
  { name: 'd64 g4 f32 p16, 1 query after 130', layout: { headDim: 64, numKvHeads: 2, pageSize: 16, dtype: 'f32' }, group: 4, position: 130, count: 1 },
];

/** `asComputed` maps each query value to what the kernel computes with (the matrix units round it to f16). */
export function makeCausalCase(shape: CausalShape, asComputed: (q: number) => number = (q) => q) {
  const fixture = makePagedKv(shape.layout, [shape.position + shape.count]);
  const queryHeads = shape.layout.numKvHeads * shape.group;
  const queries = randomFloat32(shape.count * queryHeads * shape.layout.headDim).map((x) => 3 * x);
  const what: Queries = { kind: 'causal', position: shape.position, count: shape.count };
  return { fixture, queries, what, expected: referenceAttention(fixture, queries.map(asComputed), shape.group, causalWindows(shape.position, shape.count)) };
}

// Grid 1 (one workgroup walking every head) is slow on a CPU adapter and adds no path the decode cases lack.
export const CAUSAL_SCHEDULES = SCHEDULES.filter((schedule) => schedule.grid !== 1);

// The prefill kernel's cases: the causal chunks above, and chunks of more rows than a tile holds (several row
// blocks of one KV head, the last one ragged).
export const PREFILL_SHAPES: CausalShape[] = [
  ...CAUSAL_SHAPES,
  { name: 'd64 g1 f16 p16, 70 queries after 33', layout: { headDim: 64, numKvHeads: 2, pageSize: 16, dtype: 'f16' }, group: 1, position: 33, count: 70 },
  { name: 'd128 g8 f32 p32, 23 queries after 500', layout: { headDim: 128, numKvHeads: 1, pageSize: 32, dtype: 'f32' }, group: 8, position: 500, count: 23 },
];
