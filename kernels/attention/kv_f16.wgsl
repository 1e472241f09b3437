// KV stored as f16 pairs packed in u32 words (read with unpack2x16float, accumulated in f32).
const ROW_WORDS: u32 = HEAD_DIM / 2u;

// Dimensions [4·quad, 4·quad + 4) of the staged key row starting at word `rowStart`.
fn stagedKeyQuad(rowStart: u32, quad: u32) -> vec4<f32> {
  let low = unpack2x16float(keyTile[rowStart + 2u * quad]);
  let high = unpack2x16float(keyTile[rowStart + 2u * quad + 1u]);
  return vec4<f32>(low, high);
}

// Dimensions (2·pair, 2·pair + 1) of the value row starting at word `rowStart` of the pool.
fn valuePair(rowStart: u32, pair: u32) -> vec2<f32> {
  return unpack2x16float(values[rowStart + pair]);
}
