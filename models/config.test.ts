import { describe, expect, it } from 'vitest';
import { parseModelConfig } from './config.ts';

const BASE = {
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  vocab_size: 512,
};

const LLAMA3 = { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };

describe('config.json', () => {
  it('reads the classic and the rope_parameters forms', () => {
    expect(parseModelConfig({ ...BASE, rope_theta: 1e6 })).toMatchObject({ ropeTheta: 1e6, ropeScaling: { type: 'default' }, headDim: 16 });
    expect(parseModelConfig({ ...BASE, rope_parameters: LLAMA3 })).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32 } });
  });

  // Each of these used to load and turn every output into NaN, or to fail later with an error naming no file.
  it.each([
    ['rope_theta 0', { rope_theta: 0 }, 'invalid-config', /"rope_theta" must be a positive number \(found 0\)/],
    ['a negative rms_norm_eps', { rms_norm_eps: -1e-5 }, 'invalid-config', /"rms_norm_eps" must be a positive number/],
    ['llama3 scaling whose frequency factors are equal', { rope_parameters: { ...LLAMA3, high_freq_factor: 1 } }, 'invalid-config', /"high_freq_factor" \(1\) above "low_freq_factor" \(1\)/],
    ['a zero scaling factor', { rope_scaling: { type: 'linear', factor: 0 } }, 'invalid-config', /"factor" must be a positive number/],
    ['rope_scaling that is not an object', { rope_scaling: 5 }, 'invalid-config', /"rope_scaling" must be an object \(found 5\)/],
    ['a model_type that is not a string', { model_type: 7 }, 'invalid-config', /"model_type" must be a string such as "llama" \(found 7\)/],
    ['an unknown activation', { hidden_act: 'gelu' }, 'unsupported-model', /activation "gelu" is not supported/],
    ['an unknown RoPE type', { rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'unsupported-model', /RoPE scaling type "yarn" is not supported/],
  ])('rejects %s, naming config.json', (_, change, code, message) => {
    let error: { code?: string; message: string } | undefined;
    try {
      parseModelConfig({ ...BASE, ...change });
    } catch (caught) {
      error = caught as { code?: string; message: string };
    }
    expect(error?.code).toBe(code);
    expect(error?.message).toMatch(/^config\.json: /);
    expect(error?.message).toMatch(message);
  });
});
