import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer, createUniformBuffer } from '../gpu/buffers.ts';
import { cachedComputePipeline } from '../gpu/pipelineCache.ts';
import { uniformView } from '../gpu/uniforms.ts';
import type { StructuredView } from 'webgpu-utils';
import type { AttentionIo } from './decodeAttention.ts';
import { validateLayout, type PagedKvLayout } from './pagedKv.ts';
import { buildCausalChunkVariant, causalTile, MERGE_WORKGROUP, type CausalChunkVariant, type CausalTile } from './causalChunkVariant.ts';

export interface CausalChunkAttentionOptions {
  layout: PagedKvLayout;
  /** Query heads per KV head. */
  group: number;
  /** Query tokens a chunk has at most. */
  maxChunk: number;
  /** Overrides the adapter's tile (benchmarks and tests compare tiles). */
  tile?: CausalTile;
  /** Splits of every row block's keys; by default as many as fill the GPU (see splitsFor). */
  splits?: number;
}

export interface CausalChunkBindings {
  io: AttentionIo;
  attention: GPUBindGroup;
  merge: GPUBindGroup;
}

/** Workgroups a chunk should give a GPU before its keys are split: about two per SM of a large one (the H200 has 132). */
const GPU_FILL_WORKGROUPS = 256;
/** Keys a split walks at least: below that its fixed costs (Q staging, the merge) outweigh the parallelism. */
const MIN_SPLIT_KEYS = 1024;
/** Splits at most: bounds the partial states a plan may need. */
const MAX_SPLITS = 32;

/**
 * The causal attention of a prefill chunk, FlashAttention-2 style (causal_chunk_attention.wgsl): one workgroup per
 * block of query rows of one KV head, its keys walked in tiles shared by the block's query tokens and the GQA
 * group's heads; a block's keys are split over several workgroups (and merged in a second dispatch, in a fixed
 * order) only when the chunk alone would leave the GPU idle. Decode schedules (LeanAttention, FlashDecoding,
 * FA2-style) do not apply: every row block already is a workgroup. Pipelines and buffers are made once; a plan
 * writes one uniform.
 */
export class CausalChunkAttention {
  readonly variant: CausalChunkVariant;
  readonly tile: CausalTile;
  private readonly device: GPUDevice;
  private readonly attentionPipeline: GPUComputePipeline;
  private readonly mergePipeline: GPUComputePipeline;
  private readonly chunkView: StructuredView;
  private readonly chunk: GPUBuffer;
  private readonly partialOut: GPUBuffer;
  private readonly partialStats: GPUBuffer;
  private readonly fillWorkgroups: number;
  private planned: { count: number; splits: number } | undefined;

  constructor(
    context: GpuContext,
    readonly options: CausalChunkAttentionOptions,
  ) {
    const { layout, group, maxChunk } = options;
    validateLayout(layout);
    if (!Number.isInteger(group) || group < 1) throw new Error(`GQA group size ${group} must be a positive integer`);
    if (!Number.isInteger(maxChunk) || maxChunk < 1) throw new Error(`a prefill chunk of ${maxChunk} tokens: it needs at least one`);
    this.device = context.device;
    this.tile = options.tile ?? causalTile(context.adapter.isCpu, layout.headDim, context.limits);
    // A CPU adapter runs few workgroups at once: splitting only adds work there.
    this.fillWorkgroups = context.adapter.isCpu ? 1 : GPU_FILL_WORKGROUPS;
    this.variant = buildCausalChunkVariant(layout, group, this.tile);
    this.attentionPipeline = cachedComputePipeline(this.device, this.variant.key, this.variant.attentionCode);
    this.mergePipeline = cachedComputePipeline(this.device, this.variant.mergeKey, this.variant.mergeCode);

    this.chunkView = uniformView(this.variant.attentionCode, 'chunk');
    this.chunk = createUniformBuffer(this.device, 'causal chunk', this.chunkView.arrayBuffer.byteLength);
    // Partial states for the most split rows any chunk of up to maxChunk tokens plans.
    let splitRows = 0;
    for (let count = 1; count <= maxChunk; count++) splitRows = Math.max(splitRows, this.maxSplits(count) * count);
    const rowStates = splitRows * layout.numKvHeads * group;
    this.partialOut = createStorageBuffer(this.device, 'causal chunk partial out', rowStates * layout.headDim * 4);
    this.partialStats = createStorageBuffer(this.device, 'causal chunk partial stats', rowStates * 8);
  }

  /** Workgroups one split of a `count`-token chunk takes: row blocks × KV heads. */
  private blocks(count: number): number {
    return Math.ceil((count * this.options.group) / this.tile.rows) * this.options.layout.numKvHeads;
  }

  /** The most splits a `count`-token chunk may get, whatever its position. */
  private maxSplits(count: number): number {
    return this.options.splits ?? Math.min(MAX_SPLITS, Math.ceil(this.fillWorkgroups / this.blocks(count)));
  }

  /**
   * Splits for a chunk of `count` tokens whose last sees `keys` keys: enough workgroups to fill the GPU, each split
   * walking at least MIN_SPLIT_KEYS keys (the option, when given).
   */
  splitsFor(count: number, keys: number): number {
    if (this.options.splits !== undefined) return this.options.splits;
    return Math.max(1, Math.min(this.maxSplits(count), Math.floor(keys / MIN_SPLIT_KEYS)));
  }

  /**
   * Plans the causal attention of a prefill chunk: `count` query tokens at positions [position, position + count)
   * of one sequence (rows 0 … count − 1 of `queries`), whose KV (the chunk's own included) is already in the pool
   * from page table entry `pageTableOffset` on. Query t attends to the first position + t + 1 tokens.
   */
  planCausalChunk(position: number, count: number, pageTableOffset: number): void {
    const { maxChunk, layout } = this.options;
    if (!(count >= 1 && count <= maxChunk)) throw new Error(`a causal chunk of ${count} queries: this attention takes 1 to ${maxChunk}`);
    const splits = this.splitsFor(count, position + count);
    if (!(Number.isInteger(splits) && splits >= 1)) throw new Error(`splits ${splits} must be a positive integer`);
    const rowBlocks = this.blocks(count) / layout.numKvHeads;
    if (rowBlocks * splits > this.device.limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(`${rowBlocks} row blocks × ${splits} splits exceed the device's ${this.device.limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`);
    }
    this.chunkView.set({ position, count, pageTableOffset, splits, numKvHeads: layout.numKvHeads, scale: 1 / Math.sqrt(layout.headDim) });
    this.device.queue.writeBuffer(this.chunk, 0, this.chunkView.arrayBuffer);
    this.planned = { count, splits };
  }

  /** Bind groups for one set of buffers: make them once, reuse them every chunk. */
  createBindings(io: AttentionIo): CausalChunkBindings {
    const attention = this.device.createBindGroup({
      label: `${this.variant.key} bindings`,
      layout: this.attentionPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.chunk } },
        { binding: 1, resource: { buffer: io.queries } },
        { binding: 2, resource: { buffer: io.keys } },
        { binding: 3, resource: { buffer: io.values } },
        { binding: 4, resource: { buffer: io.pageTable } },
        { binding: 5, resource: { buffer: io.out } },
        { binding: 6, resource: { buffer: this.partialOut } },
        { binding: 7, resource: { buffer: this.partialStats } },
      ],
    });
    const merge = this.device.createBindGroup({
      label: `${this.variant.mergeKey} bindings`,
      layout: this.mergePipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.chunk } },
        { binding: 1, resource: { buffer: this.partialOut } },
        { binding: 2, resource: { buffer: this.partialStats } },
        { binding: 3, resource: { buffer: io.out } },
      ],
    });
    return { io, attention, merge };
  }

  /** The planned chunk's splits and attention workgroups (benchmark rows print them). */
  get currentPlan(): { splits: number; workgroups: number } {
    const { count, splits } = this.plan();
    return { splits, workgroups: this.blocks(count) * splits };
  }

  private plan(): { count: number; splits: number } {
    if (!this.planned) throw new Error('CausalChunkAttention used before planCausalChunk: plan the chunk first');
    return this.planned;
  }

  /** Records the attention dispatch (and the merge, when the keys were split) in a pass of its own. */
  encode(encoder: GPUCommandEncoder, bindings: CausalChunkBindings, timestampWrites?: GPUComputePassTimestampWrites): void {
    const pass = encoder.beginComputePass({ label: 'causal chunk attention', timestampWrites });
    this.encodeInPass(pass, bindings);
    pass.end();
  }

  /** The same dispatches inside a pass the caller owns; returns how many it recorded. */
  encodeInPass(pass: GPUComputePassEncoder, bindings: CausalChunkBindings): number {
    const { count, splits } = this.plan();
    const { layout, group } = this.options;
    pass.setPipeline(this.attentionPipeline);
    pass.setBindGroup(0, bindings.attention);
    pass.dispatchWorkgroups(Math.ceil((count * group) / this.tile.rows) * splits, layout.numKvHeads);
    if (splits === 1) return 1;
    pass.setPipeline(this.mergePipeline);
    pass.setBindGroup(0, bindings.merge);
    pass.dispatchWorkgroups(Math.ceil((count * layout.numKvHeads * group * layout.headDim) / 4 / MERGE_WORKGROUP));
    return 2;
  }

  destroy(): void {
    for (const buffer of [this.chunk, this.partialOut, this.partialStats]) buffer.destroy();
  }
}
