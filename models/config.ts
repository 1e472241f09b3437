import { EngineError } from '../errors/engineError.ts';

/**
 * The shape of a Llama-family decoder, read from a Hugging Face `config.json` (and `generation_config.json`).
 * One small typed record: every kernel size and buffer of the engine derives from it.
 */
export type Architecture = 'llama' | 'qwen2' | 'mistral';

export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'qwen2', 'mistral'];

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Bias on the q, k and v projections (Qwen2). */
  qkvBias: boolean;
  bosTokenId?: number;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function invalid(message: string): EngineError {
  return new EngineError('invalid-config', `config.json: ${message}`);
}

function unsupported(message: string): EngineError {
  return new EngineError('unsupported-model', `config.json: ${message}`);
}

function integer(json: Json, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalid(`"${key}" must be a positive integer (found ${JSON.stringify(json[key])})`);
  }
  return value;
}

function number(json: Json, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(`"${key}" must be a number (found ${JSON.stringify(json[key])})`);
  }
  return value;
}

/** A finite number > 0: RoPE bases and scaling factors, norm epsilons (at 0 or below, outputs turn into NaN). */
function positive(json: Json, key: string, fallback?: number): number {
  const value = number(json, key, fallback);
  if (!(value > 0)) throw invalid(`"${key}" must be a positive number (found ${JSON.stringify(json[key])})`);
  return value;
}

/** An optional JSON object: absent or null gives undefined; any other non-object is an error. */
function optionalObject(json: Json, key: string): Json | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`"${key}" must be an object (found ${JSON.stringify(value)})`);
  return value as Json;
}

function tokenIds(value: unknown): number[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((id): id is number => typeof id === 'number' && Number.isInteger(id));
}

/** Reads RoPE settings in both the classic (`rope_theta`, `rope_scaling`) and the newer `rope_parameters` form. */
function parseRope(json: Json): { theta: number; scaling: RopeScaling } {
  const parameters = optionalObject(json, 'rope_parameters');
  const scalingJson = parameters ?? optionalObject(json, 'rope_scaling');
  const theta = positive(parameters && parameters.rope_theta !== undefined ? parameters : json, 'rope_theta', 10_000);
  const type = scalingJson?.rope_type ?? scalingJson?.type ?? 'default';
  switch (type) {
    case 'default':
      return { theta, scaling: { type: 'default' } };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: positive(scalingJson!, 'factor') } };
    case 'llama3': {
      const lowFreqFactor = positive(scalingJson!, 'low_freq_factor');
      const highFreqFactor = positive(scalingJson!, 'high_freq_factor');
      // The smoothing between the two wavelengths divides by their difference.
      if (!(highFreqFactor > lowFreqFactor)) {
        throw invalid(`llama3 RoPE scaling needs "high_freq_factor" (${highFreqFactor}) above "low_freq_factor" (${lowFreqFactor})`);
      }
      return {
        theta,
        scaling: {
          type: 'llama3',
          factor: positive(scalingJson!, 'factor'),
          lowFreqFactor,
          highFreqFactor,
          originalMaxPositionEmbeddings: integer(scalingJson!, 'original_max_position_embeddings'),
        },
      };
    }
    default:
      throw unsupported(`RoPE scaling type ${JSON.stringify(type)} is not supported (supported: default, linear, llama3). Pick a model without it.`);
  }
}

export function parseModelConfig(json: Json, generationConfig?: Json): ModelConfig {
  const modelType = json.model_type;
  if (typeof modelType !== 'string') throw invalid(`"model_type" must be a string such as "llama" (found ${JSON.stringify(modelType)})`);
  if (!SUPPORTED_ARCHITECTURES.includes(modelType as Architecture)) {
    throw unsupported(
      `model type "${modelType}" is not supported: lean-decode runs ${SUPPORTED_ARCHITECTURES.join(', ')} ` +
        '(Llama 2/3, TinyLlama, SmolLM, Qwen2, Mistral). Pick a model of one of these types.',
    );
  }
  const architecture = modelType as Architecture;
  const activation = json.hidden_act ?? json.hidden_activation ?? 'silu';
  if (activation !== 'silu') throw unsupported(`activation ${JSON.stringify(activation)} is not supported (only "silu")`);
  if (json.mlp_bias === true) throw unsupported('MLP biases (mlp_bias: true) are not supported');
  if (architecture !== 'qwen2' && json.attention_bias === true) {
    throw unsupported('attention output biases (attention_bias: true) are not supported');
  }
  if (json.use_sliding_window === true || (architecture === 'mistral' && typeof json.sliding_window === 'number')) {
    // A window at least as long as the context changes nothing; a shorter one needs masking the engine lacks.
    const window = json.sliding_window as number;
    const maxPositions = (json.max_position_embeddings as number) ?? 0;
    if (typeof window === 'number' && window < maxPositions) {
      throw unsupported(`sliding-window attention (window ${window} < context ${maxPositions}) is not supported`);
    }
  }

  const hiddenSize = integer(json, 'hidden_size');
  const numHeads = integer(json, 'num_attention_heads');
  const numKvHeads = integer(json, 'num_key_value_heads', numHeads);
  const headDim = json.head_dim == null ? hiddenSize / numHeads : integer(json, 'head_dim');
  if (!Number.isInteger(headDim)) throw invalid(`hidden_size ${hiddenSize} is not a multiple of ${numHeads} heads`);
  if (numHeads % numKvHeads !== 0) throw invalid(`${numHeads} attention heads are not a multiple of ${numKvHeads} KV heads`);
  const { theta, scaling } = parseRope(json);
  const eos = tokenIds(generationConfig?.eos_token_id);
  const configEos = tokenIds(json.eos_token_id);
  return {
    architecture,
    hiddenSize,
    intermediateSize: integer(json, 'intermediate_size'),
    numLayers: integer(json, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: integer(json, 'vocab_size'),
    rmsNormEps: positive(json, 'rms_norm_eps', 1e-6),
    ropeTheta: theta,
    ropeScaling: scaling,
    maxPositionEmbeddings: integer(json, 'max_position_embeddings', 4096),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    qkvBias: architecture === 'qwen2' || json.attention_bias === true,
    bosTokenId: tokenIds(generationConfig?.bos_token_id ?? json.bos_token_id)[0],
    eosTokenIds: [...new Set([...eos, ...configEos])],
  };
}

/**
 * RoPE inverse frequencies in float64, as Hugging Face computes them (`_compute_default_rope_parameters`,
 * `_compute_llama3_parameters`, linear scaling): one per pair of the head dimension.
 */
export function ropeInverseFrequencies(config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = config.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / config.ropeTheta ** ((2 * i) / config.headDim);
  const scaling = config.ropeScaling;
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  } else if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings } = scaling;
    const lowFreqWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
    const highFreqWavelen = originalMaxPositionEmbeddings / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowFreqWavelen) {
        inv[i] = inv[i] / factor;
      } else if (wavelen >= highFreqWavelen) {
        const smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}
