// KV stored as f16, read 16 bytes (8 halves) at a time and widened by moving bits instead of by a conversion
// instruction: a half's sign goes to bit 31 and its exponent and mantissa up 13 bits, which is an f32 of the same
// value × 2^−112 (the exponent biases differ by 127 − 15). The kernel scales q and the softmax weights p by
// KV_SCALE = 2^112 to undo it: powers of two, so no rounding changes. A half below 2^−14 (subnormal) widens to an
// f32 subnormal, which the GPU may flush to zero: an error under 6.1e-5 in that element.
const DIMS_PER_VECTOR: u32 = 8u;
const QUADS_PER_VECTOR: u32 = 2u;
const KV_SCALE: f32 = 0x1p112f;

fn vectorQuads(word: vec4<u32>) -> array<vec4<f32>, QUADS_PER_VECTOR> {
  let low = ((word & vec4(0x8000u)) << vec4(16u)) | ((word & vec4(0x7fffu)) << vec4(13u));
  let high = (word & vec4(0x80000000u)) | ((word >> vec4(3u)) & vec4(0x0fffe000u));
  return array(
    bitcast<vec4<f32>>(vec4(low.x, high.x, low.y, high.y)),
    bitcast<vec4<f32>>(vec4(low.z, high.z, low.w, high.w)),
  );
}
