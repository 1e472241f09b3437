// KV stored as f16, read 16 bytes (8 halves) at a time and accumulated in f32.
const DIMS_PER_VECTOR: u32 = 8u;
const QUADS_PER_VECTOR: u32 = 2u;

fn vectorQuads(word: vec4<u32>) -> array<vec4<f32>, QUADS_PER_VECTOR> {
  return array(
    vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y)),
    vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w)),
  );
}
