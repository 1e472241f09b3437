import pydocChatConfig from '../public/models/pydoc-chat-6m/config.json?raw';
import { parseModelConfig, type ModelConfig } from './config.ts';

/** Named model shapes for benchmarks on random weights (one table, as gpt-fast keeps its configs). */
export const MODEL_SHAPES: Record<string, ModelConfig> = {
  'llama-3.2-1b': {
    architecture: 'llama',
    hiddenSize: 2048,
    intermediateSize: 8192,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64,
    vocabSize: 128256,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    maxPositionEmbeddings: 131072 + 1024,
    tieWordEmbeddings: true,
    qkvBias: false,
    eosTokenIds: [128001, 128008, 128009],
  },
  // The 8B class at d=128 (Llama 3.1 8B; Mistral 7B and Qwen2 7B share its head dim): decode attention inside a model
  // at the head dim of bench:attention's table (the 1B shape's heads are d=64).
  'llama-3.1-8b': {
    architecture: 'llama',
    hiddenSize: 4096,
    intermediateSize: 14336,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 128,
    vocabSize: 128256,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    maxPositionEmbeddings: 131072,
    tieWordEmbeddings: false,
    qkvBias: false,
    eosTokenIds: [128001, 128008, 128009],
  },
  // The built-in model: the shape every test that loads a model decodes on SwiftShader, read from its own config.
  'pydoc-chat-6m': parseModelConfig(JSON.parse(pydocChatConfig)),
  // Small enough for a CPU adapter (SwiftShader): the same code paths at a size that runs in seconds.
  'tiny-bench': {
    architecture: 'llama',
    hiddenSize: 256,
    intermediateSize: 512,
    numLayers: 2,
    numHeads: 8,
    numKvHeads: 2,
    headDim: 64,
    vocabSize: 1024,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: { type: 'default' },
    maxPositionEmbeddings: 65536,
    tieWordEmbeddings: true,
    qkvBias: false,
    eosTokenIds: [],
  },
};
