import type { PagedKvLayout } from '../attention/pagedKv.ts';
import { bindGroup, modelPipeline, shapeUniform, type BoundKernel } from './boundKernel.ts';
import ropeKvWgsl from './rope_kv.wgsl?raw';

export function bindRopeKv(
  device: GPUDevice,
  b: {
    label: string;
    layout: PagedKvLayout;
    queryHeads: number;
    step: GPUBuffer;
    /** [tokens][q heads | k heads | v heads], the fused projection's output. */
    qkv: GPUBuffer;
    /** [tokens][q heads]: the rotated queries. */
    q: GPUBuffer;
    rope: GPUBuffer;
    pageTable: GPUBuffer;
    keyPool: GPUBuffer;
    valuePool: GPUBuffer;
  },
): BoundKernel {
  const { headDim, dtype, numKvHeads, pageSize } = b.layout;
  const { code, pipeline } = modelPipeline(device, `rope_kv/d${headDim}/${dtype}kv`, ropeKvWgsl, {
    HEAD_DIM: headDim,
    KV_F16: dtype === 'f16' ? 'true' : 'false',
  });
  const shape = shapeUniform(device, code, b.label, { queryHeads: b.queryHeads, kvHeads: numKvHeads, pageSize });
  const buffers = [shape, b.step, b.qkv, b.q, b.rope, b.pageTable, b.keyPool, b.valuePool];
  return {
    label: b.label,
    pipeline,
    bindGroup: bindGroup(device, b.label, pipeline, buffers),
    grid: (step) => [step.tokenCount, b.queryHeads + numKvHeads],
  };
}
