// Weights stored as f16, two per u32, bound as vec4<u32> words: 8 consecutive values are one word.
struct Oct {
  low: vec4<f32>,
  high: vec4<f32>,
}

fn loadOct(octIndex: u32) -> Oct {
  let word = weights[octIndex];
  return Oct(
    vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y)),
    vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w)),
  );
}
