import type { GpuContext } from '../kernels/gpu/context.ts';
import { EngineError } from '../errors/engineError.ts';
import { createStorageBuffer, largestStorageBinding } from '../kernels/gpu/buffers.ts';
import { pageBytes, pagesPerBinding, type PagedKvLayout } from '../kernels/attention/pagedKv.ts';

export interface KvCacheOptions {
  layout: PagedKvLayout;
  numLayers: number;
  /** Pages in the pool, shared by every sequence. */
  numPages: number;
  /** Longest context of one sequence, in tokens. */
  maxContext: number;
  maxSequences: number;
}

/** Bytes of K and V, over all layers, that one page of tokens takes. */
export function bytesPerPage(layout: PagedKvLayout, numLayers: number): number {
  return 2 * numLayers * pageBytes(layout);
}

const MiB = 1024 * 1024;

/**
 * The KV cache's share of GPU memory, over all layers, when the caller names none: twice the largest storage
 * binding the adapter allows, between 256 MiB and 4 GiB. WebGPU does not say how much memory a GPU has, only how
 * large one buffer may be, and that limit follows the device's class (128–256 MiB on phones, 1–4 GiB on laptop and
 * desktop GPUs); a page that takes far more than the GPU has makes the browser lose its device.
 */
export function kvBudgetFromLimits(limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>): number {
  return Math.min(4096 * MiB, Math.max(256 * MiB, 2 * largestStorageBinding(limits)));
}

/**
 * How many pages a budget buys: `budgetBytes` over all layers, no more than one storage binding per layer pool
 * allows, and no more than `maxSequences` full contexts need.
 */
export function poolPagesFor(context: GpuContext, layout: PagedKvLayout, numLayers: number, budgetBytes: number, maxContext: number, maxSequences: number): number {
  const byBinding = pagesPerBinding(context.limits, layout);
  const byBudget = Math.floor(budgetBytes / bytesPerPage(layout, numLayers));
  const byNeed = maxSequences * Math.ceil(maxContext / layout.pageSize);
  return Math.max(1, Math.min(byBinding, byBudget, byNeed));
}

interface Sequence {
  slot: number;
  pages: number[];
  length: number;
}

/**
 * The paged KV cache: per layer one K pool and one V pool of `numPages` pages, a page table per sequence (a row of
 * the page table buffer), and the free list. Pages are taken when a sequence grows past a page boundary and given
 * back when it shrinks or ends; a request the pool cannot meet fails before anything changes.
 */
export class KvCache {
  readonly keyPools: GPUBuffer[] = [];
  readonly valuePools: GPUBuffer[] = [];
  readonly pageTable: GPUBuffer;
  readonly maxPagesPerSequence: number;
  private readonly freePages: number[];
  private readonly freeSlots: number[];
  private readonly sequences = new Map<number, Sequence>();
  private nextId = 1;
  private readonly device: GPUDevice;

  constructor(
    context: GpuContext,
    readonly options: KvCacheOptions,
  ) {
    const { layout, numLayers, numPages, maxContext, maxSequences } = options;
    this.device = context.device;
    this.maxPagesPerSequence = Math.ceil(maxContext / layout.pageSize);
    const poolBytes = numPages * pageBytes(layout);
    for (let layer = 0; layer < numLayers; layer++) {
      this.keyPools.push(createStorageBuffer(this.device, `K pool layer ${layer}`, poolBytes));
      this.valuePools.push(createStorageBuffer(this.device, `V pool layer ${layer}`, poolBytes));
    }
    this.pageTable = createStorageBuffer(this.device, 'page table', new Uint32Array(maxSequences * this.maxPagesPerSequence));
    this.freePages = Array.from({ length: numPages }, (_, i) => numPages - 1 - i);
    this.freeSlots = Array.from({ length: maxSequences }, (_, i) => maxSequences - 1 - i);
  }

  get pagesTotal(): number {
    return this.options.numPages;
  }

  get pagesUsed(): number {
    return this.options.numPages - this.freePages.length;
  }

  createSequence(): number {
    const slot = this.freeSlots.pop();
    if (slot === undefined) {
      throw new EngineError('kv-pool-full', `all ${this.options.maxSequences} sequence slots of the KV cache are in use: end a conversation first`);
    }
    const id = this.nextId++;
    this.sequences.set(id, { slot, pages: [], length: 0 });
    return id;
  }

  private sequence(id: number): Sequence {
    const sequence = this.sequences.get(id);
    if (!sequence) throw new EngineError('invalid-argument', `KV cache has no sequence ${id}`);
    return sequence;
  }

  length(id: number): number {
    return this.sequence(id).length;
  }

  /** Where the sequence's page table starts in the page table buffer. */
  pageTableOffset(id: number): number {
    return this.sequence(id).slot * this.maxPagesPerSequence;
  }

  /** Makes room for `length` tokens: takes pages as needed and writes them to the page table. */
  reserve(id: number, length: number): void {
    const sequence = this.sequence(id);
    const { pageSize } = this.options.layout;
    if (length > this.options.maxContext) {
      throw new EngineError(
        'context-overflow',
        `${length} tokens exceed the context of ${this.options.maxContext}: shorten the conversation or start a new one`,
      );
    }
    const needed = Math.ceil(length / pageSize) - sequence.pages.length;
    if (needed <= 0) return;
    if (needed > this.freePages.length) {
      throw new EngineError(
        'kv-pool-full',
        `the KV cache is full: ${needed} more pages are needed and ${this.freePages.length} of ${this.pagesTotal} are free. ` +
          'Clear other conversations or load the model with a larger KV budget.',
      );
    }
    const first = sequence.pages.length;
    const taken = this.freePages.splice(this.freePages.length - needed, needed).reverse();
    sequence.pages.push(...taken);
    this.device.queue.writeBuffer(this.pageTable, 4 * (this.pageTableOffset(id) + first), new Uint32Array(taken));
  }

  /** As reserve, but false, with nothing changed, where the pool has too few free pages (other errors still throw). */
  tryReserve(id: number, length: number): boolean {
    try {
      this.reserve(id, length);
      return true;
    } catch (error) {
      if (error instanceof EngineError && error.code === 'kv-pool-full') return false;
      throw error;
    }
  }

  /** Records that the KV of the first `length` tokens is written (after reserve). */
  setLength(id: number, length: number): void {
    const sequence = this.sequence(id);
    if (length > sequence.pages.length * this.options.layout.pageSize) {
      throw new Error(`sequence ${id}: length ${length} is beyond its reserved pages`);
    }
    sequence.length = length;
  }

  /** Keeps the first `length` tokens and returns the pages past them to the pool. */
  truncate(id: number, length: number): void {
    const sequence = this.sequence(id);
    const keepPages = Math.ceil(length / this.options.layout.pageSize);
    for (const page of sequence.pages.splice(keepPages)) this.freePages.push(page);
    sequence.length = Math.min(sequence.length, length);
  }

  release(id: number): void {
    const sequence = this.sequence(id);
    this.truncate(id, 0);
    this.freeSlots.push(sequence.slot);
    this.sequences.delete(id);
  }

  /** Checks the pool's invariants: every page is free or owned by exactly one sequence. */
  verify(): void {
    const owner = new Map<number, string>();
    const claim = (page: number, who: string) => {
      if (page < 0 || page >= this.pagesTotal) throw new Error(`${who} holds page ${page}, outside the pool`);
      const previous = owner.get(page);
      if (previous) throw new Error(`page ${page} is held by both ${previous} and ${who}`);
      owner.set(page, who);
    };
    for (const page of this.freePages) claim(page, 'the free list');
    for (const [id, sequence] of this.sequences) {
      for (const page of sequence.pages) claim(page, `sequence ${id}`);
      if (sequence.length > sequence.pages.length * this.options.layout.pageSize) {
        throw new Error(`sequence ${id} is longer than its pages`);
      }
    }
    if (owner.size !== this.pagesTotal) throw new Error(`${this.pagesTotal - owner.size} pages are lost`);
  }

  destroy(): void {
    for (const buffer of [...this.keyPools, ...this.valuePools, this.pageTable]) buffer.destroy();
  }
}
