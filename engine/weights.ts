import type { ModelConfig } from '../models/config.ts';
import { createStorageBuffer, writeBuffer } from '../kernels/gpu/buffers.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../kernels/gpu/half.ts';
import type { WeightDtype } from '../kernels/model/boundKernel.ts';
import { EngineError } from './errors.ts';
import type { TensorInfo } from './loader/safetensors.ts';

/** A matrix on the GPU in its stored precision; kernels unpack it as they read. */
export interface MatrixWeight {
  buffer: GPUBuffer;
  dtype: WeightDtype;
  rows: number;
  columns: number;
}

export interface LayerWeights {
  inputNorm: GPUBuffer;
  q: MatrixWeight;
  k: MatrixWeight;
  v: MatrixWeight;
  o: MatrixWeight;
  qBias?: GPUBuffer;
  kBias?: GPUBuffer;
  vBias?: GPUBuffer;
  postAttentionNorm: GPUBuffer;
  gate: MatrixWeight;
  up: MatrixWeight;
  down: MatrixWeight;
}

export interface ModelWeights {
  embedding: MatrixWeight;
  layers: LayerWeights[];
  finalNorm: GPUBuffer;
  /** The embedding itself when embeddings are tied. */
  lmHead: MatrixWeight;
  buffers: GPUBuffer[];
  bytes: number;
}

export interface UploadProgress {
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

const DTYPES: Record<TensorInfo['dtype'], WeightDtype> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
// Large tensors go up in pieces so that no more than this is held in JavaScript at once.
const UPLOAD_CHUNK = 64 * 1024 * 1024;

/** Uploads every tensor the config needs, checking names and shapes, and reporting progress tensor by tensor. */
export async function uploadWeights(
  device: GPUDevice,
  config: ModelConfig,
  tensors: Map<string, TensorInfo>,
  onProgress?: (progress: UploadProgress) => void,
): Promise<ModelWeights> {
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize, numLayers } = config;
  const plan: { name: string; shape: number[]; kind: 'matrix' | 'vector' }[] = [];
  const want = (name: string, shape: number[], kind: 'matrix' | 'vector') => plan.push({ name, shape, kind });
  want('model.embed_tokens.weight', [vocabSize, h], 'matrix');
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}.`;
    want(`${p}input_layernorm.weight`, [h], 'vector');
    want(`${p}self_attn.q_proj.weight`, [numHeads * headDim, h], 'matrix');
    want(`${p}self_attn.k_proj.weight`, [numKvHeads * headDim, h], 'matrix');
    want(`${p}self_attn.v_proj.weight`, [numKvHeads * headDim, h], 'matrix');
    want(`${p}self_attn.o_proj.weight`, [h, numHeads * headDim], 'matrix');
    if (config.qkvBias) {
      want(`${p}self_attn.q_proj.bias`, [numHeads * headDim], 'vector');
      want(`${p}self_attn.k_proj.bias`, [numKvHeads * headDim], 'vector');
      want(`${p}self_attn.v_proj.bias`, [numKvHeads * headDim], 'vector');
    }
    want(`${p}post_attention_layernorm.weight`, [h], 'vector');
    want(`${p}mlp.gate_proj.weight`, [inter, h], 'matrix');
    want(`${p}mlp.up_proj.weight`, [inter, h], 'matrix');
    want(`${p}mlp.down_proj.weight`, [h, inter], 'matrix');
  }
  want('model.norm.weight', [h], 'vector');
  const hasLmHead = tensors.has('lm_head.weight');
  if (!config.tieWordEmbeddings || hasLmHead) {
    if (!hasLmHead) {
      throw new EngineError('missing-tensor', 'the model has untied embeddings but no "lm_head.weight" tensor');
    }
    want('lm_head.weight', [vocabSize, h], 'matrix');
  }

  for (const { name, shape } of plan) {
    const tensor = tensors.get(name);
    if (!tensor) {
      throw new EngineError('missing-tensor', `tensor "${name}" is missing from the safetensors files: the weights do not match config.json`);
    }
    if (tensor.shape.join(',') !== shape.join(',')) {
      throw new EngineError(
        'invalid-safetensors',
        `tensor "${name}" has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`,
      );
    }
  }

  const bytesTotal = plan.reduce((sum, { name }) => sum + tensors.get(name)!.byteLength, 0);
  let bytesDone = 0;
  const uploaded = new Map<string, GPUBuffer | MatrixWeight>();
  const buffers: GPUBuffer[] = [];
  for (const [index, { name, shape, kind }] of plan.entries()) {
    const tensor = tensors.get(name)!;
    if (kind === 'vector') {
      const raw = await tensor.file.read(tensor.byteOffset, tensor.byteLength);
      const buffer = createStorageBuffer(device, name, toFloat32(raw, tensor.dtype));
      buffers.push(buffer);
      uploaded.set(name, buffer);
    } else {
      const buffer = createStorageBuffer(device, name, tensor.byteLength);
      for (let offset = 0; offset < tensor.byteLength; offset += UPLOAD_CHUNK) {
        const length = Math.min(UPLOAD_CHUNK, tensor.byteLength - offset);
        writeBuffer(device, buffer, await tensor.file.read(tensor.byteOffset + offset, length), offset);
      }
      buffers.push(buffer);
      uploaded.set(name, { buffer, dtype: DTYPES[tensor.dtype], rows: shape[0], columns: shape[1] });
    }
    bytesDone += tensor.byteLength;
    onProgress?.({ tensorsDone: index + 1, tensorsTotal: plan.length, bytesDone, bytesTotal });
  }

  const matrix = (name: string) => uploaded.get(name) as MatrixWeight;
  const vector = (name: string) => uploaded.get(name) as GPUBuffer;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}.`;
    layers.push({
      inputNorm: vector(`${p}input_layernorm.weight`),
      q: matrix(`${p}self_attn.q_proj.weight`),
      k: matrix(`${p}self_attn.k_proj.weight`),
      v: matrix(`${p}self_attn.v_proj.weight`),
      o: matrix(`${p}self_attn.o_proj.weight`),
      qBias: config.qkvBias ? vector(`${p}self_attn.q_proj.bias`) : undefined,
      kBias: config.qkvBias ? vector(`${p}self_attn.k_proj.bias`) : undefined,
      vBias: config.qkvBias ? vector(`${p}self_attn.v_proj.bias`) : undefined,
      postAttentionNorm: vector(`${p}post_attention_layernorm.weight`),
      gate: matrix(`${p}mlp.gate_proj.weight`),
      up: matrix(`${p}mlp.up_proj.weight`),
      down: matrix(`${p}mlp.down_proj.weight`),
    });
  }
  const embedding = matrix('model.embed_tokens.weight');
  return {
    embedding,
    layers,
    finalNorm: vector('model.norm.weight'),
    lmHead: uploaded.has('lm_head.weight') ? matrix('lm_head.weight') : embedding,
    buffers,
    bytes: bytesTotal,
  };
}

/** A small tensor (a norm weight, a bias) as f32. */
function toFloat32(raw: Uint8Array, dtype: TensorInfo['dtype']): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const count = raw.byteLength / (dtype === 'F32' ? 4 : 2);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(4 * i, true);
    else if (dtype === 'F16') out[i] = float16BitsToFloat32(view.getUint16(2 * i, true));
    else out[i] = bfloat16BitsToFloat32(view.getUint16(2 * i, true));
  }
  return out;
}
