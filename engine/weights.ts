import type { ModelConfig } from '../models/config.ts';
import { createStorageBuffer, writeBuffer } from '../kernels/gpu/buffers.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../kernels/gpu/half.ts';
import type { WeightDtype } from '../kernels/model/boundKernel.ts';
import { toRopePairedOrder } from '../kernels/model/ropeKv.ts';
import { EngineError } from '../errors/engineError.ts';
import type { TensorInfo } from './loader/safetensors.ts';

/** A matrix on the GPU in its stored precision; kernels unpack it as they read. */
export interface MatrixWeight {
  buffer: GPUBuffer;
  dtype: WeightDtype;
  rows: number;
  columns: number;
}

/**
 * A layer's weights. Matrices that read the same input share one buffer, so that one kernel reads them together:
 * q, k and v (rows in that order) over the normed hidden state, gate and up over the post-attention norm.
 */
export interface LayerWeights {
  inputNorm: GPUBuffer;
  /**
   * [q; k; v]: numHeads · headDim + 2 · numKvHeads · headDim rows, head after head. The q and k heads' rows are in
   * rope-paired order (ropePairedDim): row 2i of a head is dimension i and row 2i + 1 is dimension i + headDim/2,
   * the pair one rotation turns, so that the GEMV that computes them rotates them in its epilogue; the v heads'
   * rows are in dimension order. rope_kv.wgsl and the rotary epilogue write q, k and v out in dimension order.
   */
  qkv: MatrixWeight;
  /** The q, k and v biases, concatenated in the same order and layout (Qwen2). */
  qkvBias?: GPUBuffer;
  o: MatrixWeight;
  postAttentionNorm: GPUBuffer;
  /** [gate; up]: 2 · intermediateSize rows. */
  gateUp: MatrixWeight;
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
  const plan: { name: string; shape: number[] }[] = [];
  const weightFiles = () => [...new Set([...tensors.values()].map((tensor) => tensor.file.name))].join(', ') || 'the safetensors files';
  // Each tensor is checked as it is planned, so a config.json claiming absurdly many layers fails at the first
  // layer the weights lack, before the plan grows.
  const want = (name: string, shape: number[]) => {
    const tensor = tensors.get(name);
    if (!tensor) {
      throw new EngineError('missing-tensor', `tensor "${name}" is missing from ${weightFiles()}: the weights do not match config.json; download the model again`);
    }
    if (tensor.shape.join(',') !== shape.join(',')) {
      throw new EngineError(
        'invalid-safetensors',
        `tensor "${name}" in ${tensor.file.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`,
      );
    }
    plan.push({ name, shape });
  };
  const hasLmHead = tensors.has('lm_head.weight');
  if (!config.tieWordEmbeddings && !hasLmHead) {
    throw new EngineError('missing-tensor', `config.json says "tie_word_embeddings" is false, but ${weightFiles()} hold no "lm_head.weight" tensor`);
  }
  want('model.embed_tokens.weight', [vocabSize, h]);
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}.`;
    want(`${p}input_layernorm.weight`, [h]);
    want(`${p}self_attn.q_proj.weight`, [numHeads * headDim, h]);
    want(`${p}self_attn.k_proj.weight`, [numKvHeads * headDim, h]);
    want(`${p}self_attn.v_proj.weight`, [numKvHeads * headDim, h]);
    want(`${p}self_attn.o_proj.weight`, [h, numHeads * headDim]);
    if (config.qkvBias) {
      want(`${p}self_attn.q_proj.bias`, [numHeads * headDim]);
      want(`${p}self_attn.k_proj.bias`, [numKvHeads * headDim]);
      want(`${p}self_attn.v_proj.bias`, [numKvHeads * headDim]);
    }
    want(`${p}post_attention_layernorm.weight`, [h]);
    want(`${p}mlp.gate_proj.weight`, [inter, h]);
    want(`${p}mlp.up_proj.weight`, [inter, h]);
    want(`${p}mlp.down_proj.weight`, [h, inter]);
  }
  want('model.norm.weight', [h]);
  if (hasLmHead) want('lm_head.weight', [vocabSize, h]);

  // The q and k projections (weights and biases) go up in rope-paired order (LayerWeights.qkv).
  const ropePaired = new Set<string>();
  for (let i = 0; i < numLayers; i++) {
    for (const name of ['q', 'k']) for (const part of ['weight', 'bias']) ropePaired.add(`model.layers.${i}.self_attn.${name}_proj.${part}`);
  }

  const bytesTotal = plan.reduce((sum, { name }) => sum + tensors.get(name)!.byteLength, 0);
  let bytesDone = 0;
  let tensorsDone = 0;
  const buffers: GPUBuffer[] = [];
  const progress = (tensor: TensorInfo) => {
    bytesDone += tensor.byteLength;
    tensorsDone++;
    onProgress?.({ tensorsDone, tensorsTotal: plan.length, bytesDone, bytesTotal });
  };
  /** Uploads the named matrices into one buffer, rows in order (within a head, rope-paired for q and k). */
  const matrix = async (...names: string[]): Promise<MatrixWeight> => {
    const parts = names.map((name) => tensors.get(name)!);
    const dtype = DTYPES[parts[0].dtype];
    for (const [i, part] of parts.entries()) {
      if (DTYPES[part.dtype] !== dtype) {
        throw new EngineError('unsupported-model', `tensor "${names[i]}" is ${part.dtype} but "${names[0]}" is ${parts[0].dtype}: the matrices of one layer must share a dtype`);
      }
    }
    const buffer = createStorageBuffer(device, names.join(' + '), parts.reduce((sum, part) => sum + part.byteLength, 0));
    buffers.push(buffer);
    let bufferOffset = 0;
    for (const [i, part] of parts.entries()) {
      const paired = ropePaired.has(names[i]);
      const rowBytes = part.byteLength / part.shape[0];
      // Rope-paired parts go up in whole heads.
      const chunk = paired ? Math.max(1, Math.floor(UPLOAD_CHUNK / (headDim * rowBytes))) * headDim * rowBytes : UPLOAD_CHUNK;
      for (let offset = 0; offset < part.byteLength; offset += chunk) {
        const rows = await part.file.read(part.byteOffset + offset, Math.min(chunk, part.byteLength - offset));
        writeBuffer(device, buffer, paired ? toRopePairedOrder(rows, headDim, rowBytes) : rows, bufferOffset + offset);
      }
      bufferOffset += part.byteLength;
      progress(part);
    }
    return { buffer, dtype, rows: parts.reduce((sum, part) => sum + part.shape[0], 0), columns: parts[0].shape[1] };
  };
  /** Uploads the named vectors, as f32, into one buffer (the q and k biases in rope-paired order). */
  const vector = async (...names: string[]): Promise<GPUBuffer> => {
    const values: Float32Array[] = [];
    for (const name of names) {
      const tensor = tensors.get(name)!;
      const value = toFloat32(await tensor.file.read(tensor.byteOffset, tensor.byteLength), tensor.dtype);
      values.push(ropePaired.has(name) ? new Float32Array(toRopePairedOrder(new Uint8Array(value.buffer), headDim, 4).buffer) : value);
      progress(tensor);
    }
    const joined = new Float32Array(values.reduce((sum, v) => sum + v.length, 0));
    values.reduce((offset, v) => (joined.set(v, offset), offset + v.length), 0);
    const buffer = createStorageBuffer(device, names.join(' + '), joined);
    buffers.push(buffer);
    return buffer;
  };

  const embedding = await matrix('model.embed_tokens.weight');
  const layers: LayerWeights[] = [];
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}.`;
    const attention = (part: string) => ['q', 'k', 'v'].map((name) => `${p}self_attn.${name}_proj.${part}`);
    layers.push({
      inputNorm: await vector(`${p}input_layernorm.weight`),
      qkv: await matrix(...attention('weight')),
      qkvBias: config.qkvBias ? await vector(...attention('bias')) : undefined,
      o: await matrix(`${p}self_attn.o_proj.weight`),
      postAttentionNorm: await vector(`${p}post_attention_layernorm.weight`),
      gateUp: await matrix(`${p}mlp.gate_proj.weight`, `${p}mlp.up_proj.weight`),
      down: await matrix(`${p}mlp.down_proj.weight`),
    });
  }
  const finalNorm = await vector('model.norm.weight');
  const lmHead = hasLmHead ? await matrix('lm_head.weight') : embedding;
  return { embedding, layers, finalNorm, lmHead, buffers, bytes: bytesTotal };
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
