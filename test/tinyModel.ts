import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { float32ToFloat16Bits } from '../kernels/gpu/half.ts';
import { seededRandom } from '../kernels/gpu/seededRandom.ts';
import { SHARED_MODELS } from './sharedModels.ts';

/** Writes a safetensors file: 8-byte header length, JSON header, data. */
export function encodeSafetensors(tensors: { name: string; dtype: 'F32' | 'F16'; shape: number[]; data: Float32Array }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.dtype === 'F32' ? new Uint8Array(t.data.buffer.slice(0)) : new Uint8Array(Uint16Array.from(t.data, float32ToFloat16Bits).buffer);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  return withHeader(header, parts);
}

/** A safetensors file from a header object and data parts, as given (for files that lie). */
export function withHeader(header: unknown, parts: Uint8Array[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const total = 8 + json.byteLength + parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export interface TinyModelSpec {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  dtype: 'F32' | 'F16';
  modelType?: string;
  tie?: boolean;
  seed?: number;
}

/**
 * A random-weight Llama-family model folder made in memory, with the tokenizer of ../shared/models/tiny-llama
 * (vocabulary 512): config.json, tokenizer files and model.safetensors as Blobs.
 */
export function makeTinyModel(spec: TinyModelSpec): Map<string, Blob> {
  return new Map([...makeTinyModelBytes(spec)].map(([path, bytes]) => [path, new Blob([bytes as Uint8Array<ArrayBuffer>])]));
}

/** makeTinyModel's files as bytes (for tests that change them). */
export function makeTinyModelBytes(spec: TinyModelSpec): Map<string, Uint8Array> {
  const random = seededRandom(spec.seed ?? 12345);
  const matrix = (rows: number, columns: number, scale: number) => Float32Array.from({ length: rows * columns }, () => (random() * 2 - 1) * scale);
  const { hiddenSize: h, intermediateSize: inter, numLayers, numHeads, numKvHeads, headDim, vocabSize, dtype } = spec;
  const tensors: { name: string; dtype: 'F32' | 'F16'; shape: number[]; data: Float32Array }[] = [];
  const add = (name: string, shape: number[], data: Float32Array) => tensors.push({ name, dtype, shape, data });
  add('model.embed_tokens.weight', [vocabSize, h], matrix(vocabSize, h, 1));
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}.`;
    add(`${p}input_layernorm.weight`, [h], Float32Array.from({ length: h }, () => 0.5 + random()));
    add(`${p}self_attn.q_proj.weight`, [numHeads * headDim, h], matrix(numHeads * headDim, h, 2 / Math.sqrt(h)));
    add(`${p}self_attn.k_proj.weight`, [numKvHeads * headDim, h], matrix(numKvHeads * headDim, h, 2 / Math.sqrt(h)));
    add(`${p}self_attn.v_proj.weight`, [numKvHeads * headDim, h], matrix(numKvHeads * headDim, h, 1 / Math.sqrt(h)));
    add(`${p}self_attn.o_proj.weight`, [h, numHeads * headDim], matrix(h, numHeads * headDim, 1 / Math.sqrt(numHeads * headDim)));
    add(`${p}post_attention_layernorm.weight`, [h], Float32Array.from({ length: h }, () => 0.5 + random()));
    add(`${p}mlp.gate_proj.weight`, [inter, h], matrix(inter, h, 1 / Math.sqrt(h)));
    add(`${p}mlp.up_proj.weight`, [inter, h], matrix(inter, h, 1 / Math.sqrt(h)));
    add(`${p}mlp.down_proj.weight`, [h, inter], matrix(h, inter, 1 / Math.sqrt(inter)));
  }
  add('model.norm.weight', [h], Float32Array.from({ length: h }, () => 0.5 + random()));
  if (!spec.tie) add('lm_head.weight', [vocabSize, h], matrix(vocabSize, h, 1 / Math.sqrt(h)));
  const config = {
    model_type: spec.modelType ?? 'llama',
    hidden_size: h,
    intermediate_size: inter,
    num_hidden_layers: numLayers,
    num_attention_heads: numHeads,
    num_key_value_heads: numKvHeads,
    head_dim: headDim,
    vocab_size: vocabSize,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 4096,
    tie_word_embeddings: spec.tie ?? false,
    hidden_act: 'silu',
    eos_token_id: 2,
  };
  const shared = join(SHARED_MODELS, 'tiny-llama');
  const text = new TextEncoder();
  return new Map<string, Uint8Array>([
    ['config.json', text.encode(JSON.stringify(config))],
    ['tokenizer.json', new Uint8Array(readFileSync(join(shared, 'tokenizer.json')))],
    ['tokenizer_config.json', new Uint8Array(readFileSync(join(shared, 'tokenizer_config.json')))],
    ['model.safetensors', encodeSafetensors(tensors)],
  ]);
}

/**
 * Splits a model's `model.safetensors` into `shardCount` files named as Hugging Face names them
 * (`model-00001-of-00002.safetensors`, ...), tensors in their order, with the `model.safetensors.index.json` that
 * maps each tensor to its shard.
 */
export function shardModel(files: Map<string, Uint8Array>, shardCount: number): Map<string, Uint8Array> {
  const single = files.get('model.safetensors');
  if (!single) throw new Error('the model has no model.safetensors to shard');
  const headerLength = Number(new DataView(single.buffer, single.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(single.subarray(8, 8 + headerLength))) as Record<string, { data_offsets: [number, number] }>;
  const dataStart = 8 + headerLength;
  const names = Object.keys(header).filter((name) => name !== '__metadata__');
  const perShard = Math.ceil(names.length / shardCount);
  const out = new Map([...files].filter(([path]) => path !== 'model.safetensors'));
  const weightMap: Record<string, string> = {};
  const pad = (n: number) => String(n).padStart(5, '0');
  for (let shard = 0; shard < shardCount; shard++) {
    const shardName = `model-${pad(shard + 1)}-of-${pad(shardCount)}.safetensors`;
    const shardHeader: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const name of names.slice(shard * perShard, (shard + 1) * perShard)) {
      const [begin, end] = header[name].data_offsets;
      shardHeader[name] = { ...header[name], data_offsets: [offset, offset + end - begin] };
      parts.push(single.subarray(dataStart + begin, dataStart + end));
      offset += end - begin;
      weightMap[name] = shardName;
    }
    out.set(shardName, withHeader(shardHeader, parts));
  }
  const index = { metadata: { total_size: single.byteLength - dataStart }, weight_map: weightMap };
  out.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify(index, null, 2)));
  return out;
}
