import { parseModelConfig, ropeInverseFrequencies, type ModelConfig } from '../models/config.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../kernels/gpu/half.ts';
import { readJson, readOptionalJson, readTensorIndex, type ModelFiles } from '../engine/loader/modelFiles.ts';

/** A float64 CPU forward pass of a Llama-family model, straight from the paper's math: the engine's yardstick. */
export class CpuReferenceModel {
  private constructor(
    readonly config: ModelConfig,
    private readonly tensors: Map<string, Float64Array>,
  ) {}

  static async load(files: ModelFiles): Promise<CpuReferenceModel> {
    const config = parseModelConfig(await readJson(files, 'config.json'), await readOptionalJson(files, 'generation_config.json'));
    const tensors = new Map<string, Float64Array>();
    for (const [name, info] of await readTensorIndex(files)) {
      const raw = await info.file.read(info.byteOffset, info.byteLength);
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const count = info.byteLength / (info.dtype === 'F32' ? 4 : 2);
      const values = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        values[i] =
          info.dtype === 'F32'
            ? view.getFloat32(4 * i, true)
            : info.dtype === 'F16'
              ? float16BitsToFloat32(view.getUint16(2 * i, true))
              : bfloat16BitsToFloat32(view.getUint16(2 * i, true));
      }
      tensors.set(name, values);
    }
    return new CpuReferenceModel(config, tensors);
  }

  private weight(name: string): Float64Array {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new Error(`reference model has no tensor ${name}`);
    return tensor;
  }

  /** Logits after the last of `tokens` (a full causal forward over all of them). */
  lastLogits(tokens: number[]): Float64Array {
    const c = this.config;
    const { hiddenSize: h, numHeads, numKvHeads, headDim: d } = c;
    const group = numHeads / numKvHeads;
    const n = tokens.length;
    const embedding = this.weight('model.embed_tokens.weight');
    const x = tokens.map((t) => embedding.slice(t * h, (t + 1) * h));
    const inv = ropeInverseFrequencies(c);

    const rmsNorm = (v: Float64Array, w: Float64Array) => {
      let sum = 0;
      for (const value of v) sum += value * value;
      const scale = 1 / Math.sqrt(sum / v.length + c.rmsNormEps);
      return v.map((value, i) => value * scale * w[i]);
    };
    const linear = (v: Float64Array, w: Float64Array, rows: number, bias?: Float64Array) => {
      const out = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let sum = bias ? bias[r] : 0;
        for (let k = 0; k < v.length; k++) sum += w[r * v.length + k] * v[k];
        out[r] = sum;
      }
      return out;
    };
    const rope = (v: Float64Array, heads: number, position: number) => {
      const half = d / 2;
      for (let head = 0; head < heads; head++) {
        for (let i = 0; i < half; i++) {
          const a = v[head * d + i];
          const b = v[head * d + i + half];
          const cos = Math.cos(position * inv[i]);
          const sin = Math.sin(position * inv[i]);
          v[head * d + i] = a * cos - b * sin;
          v[head * d + i + half] = b * cos + a * sin;
        }
      }
    };

    for (let layer = 0; layer < c.numLayers; layer++) {
      const p = `model.layers.${layer}.`;
      const bias = (name: string) => (c.qkvBias ? this.weight(`${p}self_attn.${name}_proj.bias`) : undefined);
      const qs: Float64Array[] = [];
      const ks: Float64Array[] = [];
      const vs: Float64Array[] = [];
      for (let t = 0; t < n; t++) {
        const normed = rmsNorm(x[t], this.weight(`${p}input_layernorm.weight`));
        const q = linear(normed, this.weight(`${p}self_attn.q_proj.weight`), numHeads * d, bias('q'));
        const k = linear(normed, this.weight(`${p}self_attn.k_proj.weight`), numKvHeads * d, bias('k'));
        rope(q, numHeads, t);
        rope(k, numKvHeads, t);
        qs.push(q);
        ks.push(k);
        vs.push(linear(normed, this.weight(`${p}self_attn.v_proj.weight`), numKvHeads * d, bias('v')));
      }
      for (let t = 0; t < n; t++) {
        const attention = new Float64Array(numHeads * d);
        for (let head = 0; head < numHeads; head++) {
          const kvHead = Math.floor(head / group);
          const scores = new Float64Array(t + 1);
          let max = -Infinity;
          for (let s = 0; s <= t; s++) {
            let dot = 0;
            for (let i = 0; i < d; i++) dot += qs[t][head * d + i] * ks[s][kvHead * d + i];
            scores[s] = dot / Math.sqrt(d);
            max = Math.max(max, scores[s]);
          }
          let total = 0;
          for (let s = 0; s <= t; s++) total += (scores[s] = Math.exp(scores[s] - max));
          for (let s = 0; s <= t; s++) {
            for (let i = 0; i < d; i++) attention[head * d + i] += (scores[s] / total) * vs[s][kvHead * d + i];
          }
        }
        const o = linear(attention, this.weight(`${p}self_attn.o_proj.weight`), h);
        for (let i = 0; i < h; i++) x[t][i] += o[i];
        const normed = rmsNorm(x[t], this.weight(`${p}post_attention_layernorm.weight`));
        const gate = linear(normed, this.weight(`${p}mlp.gate_proj.weight`), c.intermediateSize);
        const up = linear(normed, this.weight(`${p}mlp.up_proj.weight`), c.intermediateSize);
        const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
        const down = linear(act, this.weight(`${p}mlp.down_proj.weight`), h);
        for (let i = 0; i < h; i++) x[t][i] += down[i];
      }
    }
    const last = rmsNorm(x[n - 1], this.weight('model.norm.weight'));
    const head = this.tensors.get('lm_head.weight') ?? embedding;
    return linear(last, head, c.vocabSize);
  }
}
