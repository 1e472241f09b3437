import type { GpuContext } from '../gpu/context.ts';
import { bindGroup, modelPipeline, type BoundKernel } from '../model/boundKernel.ts';
import type { PagedKvLayout } from './pagedKv.ts';
import causalMatrixUnitsWgsl from './causal_attention_matrix_units.wgsl?raw';

/** Query rows per workgroup (4 subgroups of 16) and the 16 × 16 × 16 operation the kernel is written for. */
const ROWS = 64;
const MATRIX = 16;
const SUBGROUP_SIZE = 32;

/** The buffers a prefill chunk's causal attention reads and writes, and the Step uniform that says which chunk. */
export interface CausalMatrixUnitsIo {
  step: GPUBuffer;
  /** [token][query head][headDim] f32. */
  queries: GPUBuffer;
  keys: GPUBuffer;
  values: GPUBuffer;
  pageTable: GPUBuffer;
  /** [token][query head][headDim] f32. */
  out: GPUBuffer;
}

/** Keys per tile: 64 where K, V, P and the scores fit the device's workgroup memory, else 32. */
function keyTile(layout: PagedKvLayout, limits: GPUSupportedLimits): number | undefined {
  const bytes = (tile: number) => 2 * (2 * tile * (layout.headDim + 8) + ROWS * (tile + 8)) + 4 * ROWS * tile;
  const fits = (tile: number) => bytes(tile) <= limits.maxComputeWorkgroupStorageSize && (layout.headDim / MATRIX) % (tile / MATRIX) === 0;
  return [64, 32].find(fits);
}

/** Why the matrix-unit kernel cannot run this layout on `context` (or undefined when it can). */
export function causalMatrixUnitsProblem(context: GpuContext, layout: PagedKvLayout, group: number): string | undefined {
  const shape = context.features.matrixUnits;
  if (!shape) return 'the adapter has no f16 × f16 → f32 subgroup matrices';
  if (shape.M !== MATRIX || shape.N !== MATRIX || shape.K !== MATRIX || shape.subgroupSize !== SUBGROUP_SIZE) {
    return `the kernel is written for 16 × 16 × 16 matrices and subgroups of 32 (the adapter: ${shape.M} × ${shape.N} × ${shape.K}, ${shape.subgroupSize})`;
  }
  if (layout.dtype !== 'f16') return 'the KV cache is f32: the portable kernel keeps its precision';
  if (layout.headDim % MATRIX) return `head dim ${layout.headDim} is not a multiple of 16`;
  if (ROWS % group) return `a GQA group of ${group} does not divide the workgroup's ${ROWS} query rows`;
  if (!keyTile(layout, context.limits)) return 'the tiles do not fit the device\'s workgroup memory';
  return undefined;
}

/**
 * The causal attention of a prefill chunk on the matrix units (causal_attention_matrix_units.wgsl): one dispatch,
 * its grid from the Step uniform's token count, no plan.
 */
export function bindCausalMatrixUnits(context: GpuContext, label: string, layout: PagedKvLayout, group: number, io: CausalMatrixUnitsIo): BoundKernel {
  const problem = causalMatrixUnitsProblem(context, layout, group);
  if (problem) throw new Error(`${label}: the matrix-unit causal attention cannot run: ${problem}`);
  const tile = keyTile(layout, context.limits)!;
  const { headDim, numKvHeads, pageSize } = layout;
  const loads = (count: number) => {
    if (count % (4 * SUBGROUP_SIZE)) throw new Error(`${label}: ${count} loads do not share out over ${4 * SUBGROUP_SIZE} invocations`);
    return count / (4 * SUBGROUP_SIZE);
  };
  const { pipeline } = modelPipeline(
    context.device,
    `causal-mma/d${headDim}/g${group}/kv${numKvHeads}/p${pageSize}/t${tile}`,
    causalMatrixUnitsWgsl,
    { HEAD_DIM: headDim, GROUP: group, NUM_KV_HEADS: numKvHeads, PAGE_SIZE: pageSize, KEY_TILE: tile, SCALE: 1 / Math.sqrt(headDim) },
    {
      QUERY_LOADS: loads((ROWS * headDim) / 4),
      TILE_LOADS: loads((tile * headDim) / 8),
      WORDS_PER_VECTOR: 4,
      VALUES_PER_QUAD: 4,
      DIM_BLOCKS: headDim / MATRIX,
      KEY_BLOCKS: tile / MATRIX,
      OUT_SWEEPS: headDim / tile,
      HALF_TILE: tile / 2,
      HALF_BLOCK: MATRIX / 2,
    },
  );
  const tokensPerBlock = ROWS / group;
  return {
    label,
    pipeline,
    bindGroup: bindGroup(context.device, label, pipeline, [io.step, io.queries, io.keys, io.values, io.pageTable, io.out]),
    grid: (step) => [Math.ceil(step.tokenCount / tokensPerBlock), numKvHeads],
  };
}
