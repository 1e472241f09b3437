// KV stored as f32 (the exact option, for tests), read 16 bytes (4 values) at a time.
const DIMS_PER_VECTOR: u32 = 4u;
const QUADS_PER_VECTOR: u32 = 1u;

fn vectorQuads(word: vec4<u32>) -> array<vec4<f32>, QUADS_PER_VECTOR> {
  return array(bitcast<vec4<f32>>(word));
}
