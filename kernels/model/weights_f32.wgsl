// Weights stored as f32, bound as vec4<u32> words: 8 consecutive values are two words.
struct Oct {
  low: vec4<f32>,
  high: vec4<f32>,
}

fn loadOct(octIndex: u32) -> Oct {
  return Oct(bitcast<vec4<f32>>(weights[2u * octIndex]), bitcast<vec4<f32>>(weights[2u * octIndex + 1u]));
}
