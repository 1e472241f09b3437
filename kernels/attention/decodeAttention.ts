import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer, createUniformBuffer, writeBuffer } from '../gpu/buffers.ts';
import { cachedComputePipeline } from '../gpu/pipelineCache.ts';
import { uniformView } from '../gpu/uniforms.ts';
import { validateLayout, type PagedKvLayout } from './pagedKv.ts';
import { defaultGrid, WorkPlan, type AttentionKernel } from './plan.ts';
import { buildAttentionVariant, causalQueriesPerHead, type AttentionVariant } from './variant.ts';

/**
 * What one plan holds, sizing the plan buffers once: decode batches of up to `maxSequences` sequences, or prefill
 * chunks of up to `maxChunk` causal queries, in blocks of `queriesPerHead` that share each K and V read (default
 * causalQueriesPerHead; 1 re-reads the KV for every query, the baseline the benchmark compares against).
 */
export type AttentionCapacity = { maxSequences: number } | { maxChunk: number; queriesPerHead?: number };

export type DecodeAttentionOptions = AttentionCapacity & {
  layout: PagedKvLayout;
  /** Query heads per KV head. */
  group: number;
  kernel?: AttentionKernel;
  /** LeanAttention grid; see calibrateGrid. */
  grid?: number;
  /** FlashDecoding splits per head; by default FlashAttention's heuristic per batch (flashDecodingSplits). */
  splits?: number;
  /** Staged kernel: tokens per tile. */
  tile?: number;
  /** Run the streamed kernel where the adapter's subgroups allow it (default true); false runs the staged one. */
  streamed?: boolean;
  /**
   * Whose defaults fill the grid and the tuning the options leave out: a GPU's or a CPU adapter's (default: the
   * adapter's own kind; the kernel tests run a GPU's on the CPU adapter too).
   */
  defaultsFor?: 'gpu' | 'cpu';
} & AttentionTuning;

/** Streamed kernel tuning (benchmarks): invocations per workgroup, tokens per stream per step, lanes per K row. */
export interface AttentionTuning {
  workgroup?: number;
  unroll?: number;
  lanes?: number;
}

/** The GPU buffers one attention call reads and writes (per layer in a model: built once, reused every step). */
export interface AttentionIo {
  /** [query token][query head][headDim] f32 (decode: one query token per sequence). */
  queries: GPUBuffer;
  keys: GPUBuffer;
  values: GPUBuffer;
  pageTable: GPUBuffer;
  /** [query token][query head][headDim] f32. */
  out: GPUBuffer;
}

/** Bind groups for one AttentionIo; remade by `encode` when a plan outgrew the range buffers they bind. */
export interface AttentionBindings {
  io: AttentionIo;
  attention: GPUBindGroup;
  merge: GPUBindGroup;
  /** The range buffers' generation the bind groups were made for. */
  generation: number;
}

/**
 * A CPU adapter (SwiftShader) runs one workgroup on each core at a time, its invocations a subgroup of 4 after
 * another, and spends about half a millisecond on a dispatch of any size: there, one workgroup per core (a head is
 * split, and merged, only where the cores outnumber the heads), of 32 invocations that each load one token a step. On
 * SwiftShader (2 cores), the built-in pydoc-chat-6m's attention took 3.6 / 9.9 / 27.4 ms a step at 256 / 1k / 3k
 * tokens with these against 69.4 / 174.9 / 401.6 ms with a GPU's (grid 256, workgroups of 128, 4 tokens a step;
 * `bench-decode --quick`, BENCHMARKS.md, 2026-12-04).
 */
const CPU_TUNING = { workgroup: 32, unroll: 1 } as const satisfies AttentionTuning;

/** Words per work head record: firstTile, firstQuery, queryCount, kvHead, length, pageTableOffset (work_heads.wgsl). */
const HEAD_RECORD_WORDS = 6;

/**
 * Attention over a paged KV cache with a choice of schedule (LeanAttention, FlashDecoding, FA2-style): decode
 * for a batch of sequences (`planBatch`), or the causal attention of a prefill chunk (`planCausalChunk`).
 * Planning decides the work partition and uploads it; `encode` only records dispatches. Pipelines and plan
 * buffers are made once; nothing is allocated per step while batches stay within the capacity, except when a
 * FlashDecoding plan needs more ranges than any before it (its split count depends on the batch).
 */
export class DecodeAttention {
  readonly variant: AttentionVariant;
  readonly grid: number;
  readonly splits: number | undefined;
  /** Query blocks one plan holds: sequences (decode) or ceil(maxChunk / variant.queries). */
  readonly maxBlocks: number;
  kernel: AttentionKernel;

  private readonly device: GPUDevice;
  private readonly attentionPipeline: GPUComputePipeline;
  private readonly mergePipeline: GPUComputePipeline;
  private readonly params: GPUBuffer;
  private readonly heads: GPUBuffer;
  private readonly splitHeads: GPUBuffer;
  /** Buffers sized by the number of ranges (workgroups) a plan may have; they grow with `generation`. */
  private ranges!: GPUBuffer;
  private partials!: GPUBuffer;
  private rangeCapacity = 0;
  private generation = 0;
  private readonly plan = new WorkPlan();
  private readonly tilesPerHead: Uint32Array<ArrayBuffer>;
  private readonly headRecords: Uint32Array<ArrayBuffer>;
  private planned = false;
  // What the uploaded ranges were planned from: a decode step whose heads keep their tile counts (all but one step
  // in a tile's worth) reuses them and uploads only the head records, so the host's part of a step does not grow
  // with the grid.
  private readonly plannedTiles: Uint32Array<ArrayBuffer>;
  private plannedHeads = 0;
  private plannedKernel: AttentionKernel | undefined;

  constructor(
    context: GpuContext,
    readonly options: DecodeAttentionOptions,
  ) {
    const { layout, group } = options;
    validateLayout(layout);
    this.device = context.device;
    this.kernel = options.kernel ?? 'lean';
    const cpuDefaults = (options.defaultsFor ?? (context.adapter.isCpu ? 'cpu' : 'gpu')) === 'cpu';
    this.grid = options.grid ?? defaultGrid({ isCpu: cpuDefaults, hostCores: context.adapter.hostCores });
    this.splits = options.splits;
    const tuning: AttentionTuning = cpuDefaults ? CPU_TUNING : {};
    const request = {
      headDim: layout.headDim,
      group,
      kvDtype: layout.dtype,
      subgroupMinSize: (options.streamed ?? true) ? context.features.subgroupMinSize : 0,
      maxWorkgroupStorage: context.limits.maxComputeWorkgroupStorageSize,
      pageSize: layout.pageSize,
      workgroup: options.workgroup ?? tuning.workgroup,
      unroll: options.unroll ?? tuning.unroll,
      lanes: options.lanes,
    };
    const queries = 'maxChunk' in options ? (options.queriesPerHead ?? causalQueriesPerHead(request)) : 1;
    this.variant = buildAttentionVariant({ ...request, queries, tile: options.tile });
    this.maxBlocks = 'maxChunk' in options ? Math.ceil(options.maxChunk / queries) : options.maxSequences;
    const maxHeads = this.maxBlocks * layout.numKvHeads;

    const device = this.device;
    this.attentionPipeline = cachedComputePipeline(device, this.variant.key, this.variant.attentionCode);
    this.mergePipeline = cachedComputePipeline(device, this.variant.mergeKey, this.variant.mergeCode);

    const params = uniformView(this.variant.attentionCode, 'params');
    params.set({ numKvHeads: layout.numKvHeads, pageSize: layout.pageSize, scale: 1 / Math.sqrt(layout.headDim) });
    this.params = createUniformBuffer(device, 'attention params', params.arrayBuffer.byteLength);
    writeBuffer(device, this.params, new Uint8Array(params.arrayBuffer));

    // FlashDecoding's split count is known per batch: its buffers start at one split's worth and grow in upload.
    const maxRanges = WorkPlan.maxRanges(maxHeads, { grid: this.grid, splits: this.splits ?? 1 });
    this.tilesPerHead = new Uint32Array(maxHeads);
    this.plannedTiles = new Uint32Array(maxHeads);
    this.headRecords = new Uint32Array(HEAD_RECORD_WORDS * (maxHeads + 1));
    this.heads = createStorageBuffer(device, 'attention heads', this.headRecords.byteLength);
    this.splitHeads = createStorageBuffer(device, 'attention split heads', 16 * maxHeads);
    this.allocateRanges(maxRanges);
  }

  /** (Re)makes the buffers sized by the range count: ranges and partial states (2 slots per range). */
  private allocateRanges(ranges: number): void {
    if (this.rangeCapacity > 0) for (const buffer of [this.ranges, this.partials]) buffer.destroy();
    const stateBytes = this.variant.queries * this.options.group * (this.options.layout.headDim + 2) * 4;
    this.ranges = createStorageBuffer(this.device, 'attention ranges', 16 * ranges);
    this.partials = createStorageBuffer(this.device, 'attention partials', 2 * ranges * stateBytes);
    this.rangeCapacity = ranges;
    this.generation++;
  }

  /** Bind groups for one set of buffers: make them once, reuse them every step. */
  createBindings(io: AttentionIo): AttentionBindings {
    return { io, ...this.bindGroups(io), generation: this.generation };
  }

  private bindGroups(io: AttentionIo): Pick<AttentionBindings, 'attention' | 'merge'> {
    const attention = this.device.createBindGroup({
      label: `${this.variant.key} bindings`,
      layout: this.attentionPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: io.queries } },
        { binding: 2, resource: { buffer: io.keys } },
        { binding: 3, resource: { buffer: io.values } },
        { binding: 4, resource: { buffer: io.pageTable } },
        { binding: 5, resource: { buffer: this.heads } },
        { binding: 6, resource: { buffer: this.ranges } },
        { binding: 7, resource: { buffer: io.out } },
        { binding: 8, resource: { buffer: this.partials } },
      ],
    });
    const merge = this.device.createBindGroup({
      label: 'merge_partials bindings',
      layout: this.mergePipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: this.heads } },
        { binding: 2, resource: { buffer: this.splitHeads } },
        { binding: 3, resource: { buffer: this.partials } },
        { binding: 4, resource: { buffer: io.out } },
      ],
    });
    return { attention, merge };
  }

  /**
   * Plans a decode batch: `lengths[s]` tokens of context for sequence s (each ≥ 1), whose page table starts at
   * `pageTableOffsets[s]` in the page table buffer; query s is row s of `queries`. Uploads the plan; call again
   * when lengths change.
   */
  planBatch(lengths: ArrayLike<number>, pageTableOffsets: ArrayLike<number>, kernel: AttentionKernel = this.kernel): void {
    const sequences = lengths.length;
    if (sequences > this.maxBlocks) {
      throw new Error(`batch of ${sequences} sequences exceeds this attention's capacity of ${this.maxBlocks}`);
    }
    for (let s = 0; s < sequences; s++) {
      if (!(lengths[s] >= 1)) throw new Error(`sequence ${s} has context length ${lengths[s]}: decode needs at least 1`);
    }
    for (let s = 0; s < sequences; s++) this.setBlock(s, s, 1, lengths[s], pageTableOffsets[s]);
    this.upload(sequences, kernel);
  }

  /**
   * Plans the causal attention of a prefill chunk: `count` query tokens at positions [position, position + count)
   * of one sequence (rows 0 … count − 1 of `queries`), whose KV (the chunk's own included) is already in the pool.
   * Query t attends to the first position + t + 1 tokens. The engine's prefill runs CausalChunkAttention instead;
   * this path stays as the baseline bench:attention compares it with.
   */
  planCausalChunk(position: number, count: number, pageTableOffset: number, kernel: AttentionKernel = this.kernel): void {
    if (!(count >= 1)) throw new Error(`a causal chunk needs at least one query, got ${count}`);
    const queries = this.variant.queries;
    const blocks = Math.ceil(count / queries);
    if (blocks > this.maxBlocks) {
      throw new Error(`a chunk of ${count} queries needs ${blocks} blocks of ${queries}; this attention holds ${this.maxBlocks}`);
    }
    for (let b = 0; b < blocks; b++) {
      const queryCount = Math.min(queries, count - b * queries);
      this.setBlock(b, b * queries, queryCount, position + b * queries + queryCount, pageTableOffset);
    }
    this.upload(blocks, kernel);
  }

  /** Query block b: `queryCount` queries from row `firstQuery`, the last of which sees `length` tokens. */
  private setBlock(b: number, firstQuery: number, queryCount: number, length: number, pageTableOffset: number): void {
    const { numKvHeads } = this.options.layout;
    const tiles = Math.ceil(length / this.variant.tile);
    for (let kvHead = 0; kvHead < numKvHeads; kvHead++) {
      const h = b * numKvHeads + kvHead;
      this.tilesPerHead[h] = tiles;
      const record = HEAD_RECORD_WORDS * h;
      this.headRecords[record + 1] = firstQuery;
      this.headRecords[record + 2] = queryCount;
      this.headRecords[record + 3] = kvHead;
      this.headRecords[record + 4] = length;
      this.headRecords[record + 5] = pageTableOffset;
    }
  }

  /** Plans the first `blocks` query blocks (set by `setBlock`) and uploads the plan. */
  private upload(blocks: number, kernel: AttentionKernel): void {
    const heads = blocks * this.options.layout.numKvHeads;
    this.kernel = kernel;
    const queue = this.device.queue;
    const tiles = this.tilesPerHead.subarray(0, heads);
    const samePlan = kernel === this.plannedKernel && heads === this.plannedHeads && tiles.every((t, h) => t === this.plannedTiles[h]);
    if (!samePlan) {
      const plan = this.plan.build(tiles, { kernel, grid: this.grid, splits: this.splits });
      if (plan.rangeCount > this.rangeCapacity) this.allocateRanges(plan.rangeCount);
      // firstTile comes from the plan; the kernel reads heads[h + 1].firstTile as head h's end, so the record after
      // the last head holds the total.
      for (let h = 0; h <= heads; h++) this.headRecords[HEAD_RECORD_WORDS * h] = plan.headFirstTile[h];
      queue.writeBuffer(this.ranges, 0, plan.ranges, 0, 4 * plan.rangeCount);
      if (plan.splitHeadCount > 0) queue.writeBuffer(this.splitHeads, 0, plan.splitHeads, 0, 4 * plan.splitHeadCount);
      this.plannedTiles.set(tiles);
      this.plannedHeads = heads;
      this.plannedKernel = kernel;
    }
    queue.writeBuffer(this.heads, 0, this.headRecords, 0, HEAD_RECORD_WORDS * (heads + 1));
    this.planned = true;
  }

  destroy(): void {
    for (const buffer of [this.params, this.heads, this.ranges, this.splitHeads, this.partials]) buffer.destroy();
  }

  /** The current plan (for benchmarks and tests that inspect the partition). */
  get currentPlan(): WorkPlan {
    return this.plan;
  }

  /** Records the attention dispatch and, when some head was split, the merge dispatch, in one compute pass. */
  encode(encoder: GPUCommandEncoder, bindings: AttentionBindings, timestampWrites?: GPUComputePassTimestampWrites): void {
    if (!this.planned) throw new Error('DecodeAttention.encode before planBatch: plan the batch first');
    const pass = encoder.beginComputePass({ label: `${this.kernel} attention`, timestampWrites });
    this.encodeInPass(pass, bindings);
    pass.end();
  }

  /**
   * The same dispatches inside a pass the caller owns; returns how many it recorded. `only` records one of the two
   * (benchmarks time each alone: the merge alone reads the partials an earlier attention dispatch left).
   */
  encodeInPass(pass: GPUComputePassEncoder, bindings: AttentionBindings, only?: 'attention' | 'merge'): number {
    if (bindings.generation !== this.generation) Object.assign(bindings, this.bindGroups(bindings.io), { generation: this.generation });
    let dispatches = 0;
    if (only !== 'merge') {
      pass.setPipeline(this.attentionPipeline);
      pass.setBindGroup(0, bindings.attention);
      pass.dispatchWorkgroups(this.plan.rangeCount);
      dispatches++;
    }
    if (only !== 'attention' && this.plan.splitHeadCount > 0) {
      pass.setPipeline(this.mergePipeline);
      pass.setBindGroup(0, bindings.merge);
      // One merge workgroup per (split head, row).
      pass.dispatchWorkgroups(this.plan.splitHeadCount * this.variant.queries * this.options.group);
      dispatches++;
    }
    return dispatches;
  }
}
