// Weights stored as bf16, two per u32, bound as vec4<u32> words: 8 consecutive values are one word.
// A bf16 value is the top half of the f32 with the same bits.
struct Oct {
  low: vec4<f32>,
  high: vec4<f32>,
}

// An oct as stored: what a kernel keeps in registers between a load and its use.
alias OctWords = vec4<u32>;

fn bf16Pair(word: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}

fn loadOctWords(octIndex: u32) -> OctWords {
  return weights[octIndex];
}

fn unpackOct(word: OctWords) -> Oct {
  return Oct(vec4<f32>(bf16Pair(word.x), bf16Pair(word.y)), vec4<f32>(bf16Pair(word.z), bf16Pair(word.w)));
}

fn loadOct(octIndex: u32) -> Oct {
  return unpackOct(loadOctWords(octIndex));
}
