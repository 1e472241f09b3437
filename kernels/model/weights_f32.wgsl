// Weights stored as f32, bound as vec4<u32> words: 8 consecutive values are two words.
struct Oct {
  low: vec4<f32>,
  high: vec4<f32>,
}

// An oct as stored: what a kernel keeps in registers between a load and its use.
struct OctWords {
  low: vec4<u32>,
  high: vec4<u32>,
}

fn loadOctWords(octIndex: u32) -> OctWords {
  return OctWords(weights[2u * octIndex], weights[2u * octIndex + 1u]);
}

fn unpackOct(words: OctWords) -> Oct {
  return Oct(bitcast<vec4<f32>>(words.low), bitcast<vec4<f32>>(words.high));
}

fn loadOct(octIndex: u32) -> Oct {
  return unpackOct(loadOctWords(octIndex));
}
