// KV stored as f16, read 16 bytes (8 halves) at a time and accumulated in f32.
const DIMS_PER_VECTOR: u32 = 8u;
const QUADS_PER_VECTOR: u32 = 2u;
// What q and the softmax weights are scaled by to read the widened values at their true scale (kv_f16_bits_vectors.wgsl).
const KV_SCALE: f32 = 1.0;

fn vectorQuads(word: vec4<u32>) -> array<vec4<f32>, QUADS_PER_VECTOR> {
  return array(
    vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y)),
    vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w)),
  );
}
