// Weights stored as f16, two per u32, bound as vec4<u32> words: 8 consecutive values are one word.
struct Oct {
  low: vec4<f32>,
  high: vec4<f32>,
}

// An oct as stored: what a kernel keeps in registers between a load and its use.
alias OctWords = vec4<u32>;

fn loadOctWords(octIndex: u32) -> OctWords {
  return weights[octIndex];
}

fn unpackOct(word: OctWords) -> Oct {
  return Oct(
    vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y)),
    vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w)),
  );
}

fn loadOct(octIndex: u32) -> Oct {
  return unpackOct(loadOctWords(octIndex));
}
