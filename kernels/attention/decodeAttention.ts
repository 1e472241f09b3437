import type { GpuContext } from '../../engine/gpu/context.ts';
import { createStorageBuffer, createUniformBuffer, writeBuffer } from '../gpu/buffers.ts';
import { cachedComputePipeline } from '../gpu/pipelineCache.ts';
import { uniformView } from '../gpu/uniforms.ts';
import { validateLayout, type PagedKvLayout } from './pagedKv.ts';
import { WorkPlan, type AttentionKernel } from './plan.ts';
import { buildAttentionVariant, type AttentionVariant } from './variant.ts';

export interface DecodeAttentionOptions {
  layout: PagedKvLayout;
  /** Query heads per KV head. */
  group: number;
  /** The most sequences one batch holds: sizes the plan buffers once. */
  maxSequences: number;
  kernel?: AttentionKernel;
  /** LeanAttention grid; see calibrateGrid. */
  grid?: number;
  /** FlashDecoding splits per head; by default enough to fill the grid for one sequence. */
  splits?: number;
  tile?: number;
  /** Use subgroup reductions when the device has them (default true). */
  subgroups?: boolean;
}

/** The GPU buffers one attention call reads and writes (per layer in a model: built once, reused every step). */
export interface AttentionIo {
  /** [sequence][query head][headDim] f32. */
  queries: GPUBuffer;
  keys: GPUBuffer;
  values: GPUBuffer;
  pageTable: GPUBuffer;
  /** [sequence][query head][headDim] f32. */
  out: GPUBuffer;
}

export interface AttentionBindings {
  attention: GPUBindGroup;
  merge: GPUBindGroup;
}

export const DEFAULT_GRID = 256;

/**
 * Decode attention over a paged KV cache with a choice of schedule (LeanAttention, FlashDecoding, FA2-style).
 * `plan` decides the work partition for a batch and uploads it; `encode` only records dispatches. Pipelines and
 * plan buffers are made once; nothing is allocated per step while batch shapes stay within `maxSequences`.
 */
export class DecodeAttention {
  readonly variant: AttentionVariant;
  readonly grid: number;
  readonly splits: number;
  kernel: AttentionKernel;

  private readonly device: GPUDevice;
  private readonly attentionPipeline: GPUComputePipeline;
  private readonly mergePipeline: GPUComputePipeline;
  private readonly params: GPUBuffer;
  private readonly heads: GPUBuffer;
  private readonly ranges: GPUBuffer;
  private readonly splitHeads: GPUBuffer;
  private readonly mergeSlots: GPUBuffer;
  private readonly partials: GPUBuffer;
  private readonly plan = new WorkPlan();
  private readonly tilesPerHead: Uint32Array<ArrayBuffer>;
  private readonly headRecords: Uint32Array<ArrayBuffer>;
  private planned = false;

  constructor(
    context: GpuContext,
    readonly options: DecodeAttentionOptions,
  ) {
    const { layout, group, maxSequences } = options;
    validateLayout(layout);
    this.device = context.device;
    this.kernel = options.kernel ?? 'lean';
    this.grid = options.grid ?? DEFAULT_GRID;
    const maxHeads = maxSequences * layout.numKvHeads;
    this.splits = options.splits ?? Math.max(1, Math.ceil(this.grid / layout.numKvHeads));
    this.variant = buildAttentionVariant({
      headDim: layout.headDim,
      group,
      kvDtype: layout.dtype,
      subgroups: (options.subgroups ?? true) && context.features.subgroups,
      maxWorkgroupStorage: context.limits.maxComputeWorkgroupStorageSize,
      tile: options.tile,
    });

    const device = this.device;
    this.attentionPipeline = cachedComputePipeline(device, this.variant.key, this.variant.attentionCode);
    this.mergePipeline = cachedComputePipeline(device, this.variant.mergeKey, this.variant.mergeCode);

    const params = uniformView(this.variant.attentionCode, 'params');
    params.set({ numKvHeads: layout.numKvHeads, pageSize: layout.pageSize, scale: 1 / Math.sqrt(layout.headDim) });
    this.params = createUniformBuffer(device, 'attention params', params.arrayBuffer.byteLength);
    writeBuffer(device, this.params, new Uint8Array(params.arrayBuffer));

    const maxRanges = WorkPlan.maxRanges(maxHeads, { grid: this.grid, splits: this.splits });
    this.tilesPerHead = new Uint32Array(maxHeads);
    this.headRecords = new Uint32Array(5 * (maxHeads + 1));
    this.heads = createStorageBuffer(device, 'attention heads', this.headRecords.byteLength);
    this.ranges = createStorageBuffer(device, 'attention ranges', 16 * maxRanges);
    this.splitHeads = createStorageBuffer(device, 'attention split heads', 16 * maxHeads);
    this.mergeSlots = createStorageBuffer(device, 'attention merge slots', 8 * maxRanges);
    this.partials = createStorageBuffer(device, 'attention partials', 2 * maxRanges * group * (layout.headDim + 2) * 4);
  }

  /** Bind groups for one set of buffers: make them once, reuse them every step. */
  createBindings(io: AttentionIo): AttentionBindings {
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
        { binding: 0, resource: { buffer: this.splitHeads } },
        { binding: 1, resource: { buffer: this.mergeSlots } },
        { binding: 2, resource: { buffer: this.partials } },
        { binding: 3, resource: { buffer: io.out } },
      ],
    });
    return { attention, merge };
  }

  /**
   * Plans a batch: `lengths[s]` tokens of context for sequence s (each ≥ 1), whose page table starts at
   * `pageTableOffsets[s]` in the page table buffer. Uploads the plan; call again when lengths change.
   */
  planBatch(lengths: ArrayLike<number>, pageTableOffsets: ArrayLike<number>, kernel: AttentionKernel = this.kernel): void {
    const { numKvHeads } = this.options.layout;
    const sequences = lengths.length;
    if (sequences > this.options.maxSequences) {
      throw new Error(`batch of ${sequences} sequences exceeds this attention's capacity of ${this.options.maxSequences}`);
    }
    const tile = this.variant.tile;
    const heads = sequences * numKvHeads;
    for (let s = 0; s < sequences; s++) {
      if (!(lengths[s] >= 1)) throw new Error(`sequence ${s} has context length ${lengths[s]}: decode needs at least 1`);
      const tiles = Math.ceil(lengths[s] / tile);
      for (let h = 0; h < numKvHeads; h++) this.tilesPerHead[s * numKvHeads + h] = tiles;
    }
    this.kernel = kernel;
    const plan = this.plan.build(this.tilesPerHead.subarray(0, heads), {
      kernel,
      grid: this.grid,
      splits: this.splits,
    });
    for (let h = 0; h <= heads; h++) {
      const seq = Math.min(Math.floor(h / numKvHeads), sequences - 1);
      this.headRecords[5 * h] = plan.headFirstTile[h];
      this.headRecords[5 * h + 1] = seq;
      this.headRecords[5 * h + 2] = h % numKvHeads;
      this.headRecords[5 * h + 3] = lengths[seq];
      this.headRecords[5 * h + 4] = pageTableOffsets[seq];
    }
    const queue = this.device.queue;
    queue.writeBuffer(this.heads, 0, this.headRecords, 0, 5 * (heads + 1));
    queue.writeBuffer(this.ranges, 0, plan.ranges, 0, 4 * plan.rangeCount);
    if (plan.splitHeadCount > 0) {
      queue.writeBuffer(this.splitHeads, 0, plan.splitHeads, 0, 4 * plan.splitHeadCount);
      queue.writeBuffer(this.mergeSlots, 0, plan.mergeSlots, 0, plan.mergeSlotCount);
    }
    this.planned = true;
  }

  destroy(): void {
    for (const buffer of [this.params, this.heads, this.ranges, this.splitHeads, this.mergeSlots, this.partials]) buffer.destroy();
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

  /** The same dispatches inside a pass the caller owns. */
  encodeInPass(pass: GPUComputePassEncoder, bindings: AttentionBindings): void {
    pass.setPipeline(this.attentionPipeline);
    pass.setBindGroup(0, bindings.attention);
    pass.dispatchWorkgroups(this.plan.rangeCount);
    if (this.plan.splitHeadCount > 0) {
      pass.setPipeline(this.mergePipeline);
      pass.setBindGroup(0, bindings.merge);
      pass.dispatchWorkgroups(this.plan.splitHeadCount);
    }
  }
}
