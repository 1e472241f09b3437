import type { ModelConfig } from '../models/config.ts';
import { createStorageBuffer } from '../kernels/gpu/buffers.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import type { LayerWeights, MatrixWeight, ModelWeights } from './weights.ts';

/** f16 weights of random values made on the GPU, for benchmarking a named shape without downloading it. */
export function randomWeights(device: GPUDevice, config: ModelConfig, seed = 1): ModelWeights {
  const buffers: GPUBuffer[] = [];
  let bytes = 0;
  let nextSeed = seed;
  const matrix = (rows: number, columns: number): MatrixWeight => {
    const byteLength = rows * columns * 2;
    const buffer = createStorageBuffer(device, 'random matrix', byteLength);
    // Small values keep activations finite through many layers.
    fillRandom(device, buffer, byteLength / 4, 'f16', nextSeed++);
    buffers.push(buffer);
    bytes += byteLength;
    return { buffer, dtype: 'f16', rows, columns };
  };
  const ones = (length: number) => {
    const buffer = createStorageBuffer(device, 'norm', new Float32Array(length).fill(1 / Math.sqrt(length)));
    buffers.push(buffer);
    bytes += length * 4;
    return buffer;
  };
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize } = config;
  const embedding = matrix(vocabSize, h);
  const layers: LayerWeights[] = Array.from({ length: config.numLayers }, () => ({
    inputNorm: ones(h),
    qkv: matrix((numHeads + 2 * numKvHeads) * headDim, h),
    o: matrix(h, numHeads * headDim),
    postAttentionNorm: ones(h),
    gateUp: matrix(2 * inter, h),
    down: matrix(h, inter),
  }));
  return { embedding, layers, finalNorm: ones(h), lmHead: config.tieWordEmbeddings ? embedding : matrix(vocabSize, h), buffers, bytes };
}
