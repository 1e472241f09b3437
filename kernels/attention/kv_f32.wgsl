// KV stored as f32 (bit patterns in u32 words): the exact option, for tests.
const ROW_WORDS: u32 = HEAD_DIM;

// Dimensions [4·quad, 4·quad + 4) of the staged key row starting at word `rowStart`.
fn stagedKeyQuad(rowStart: u32, quad: u32) -> vec4<f32> {
  let start = rowStart + 4u * quad;
  return bitcast<vec4<f32>>(vec4<u32>(keyTile[start], keyTile[start + 1u], keyTile[start + 2u], keyTile[start + 3u]));
}

// Dimensions (2·pair, 2·pair + 1) of the value row starting at word `rowStart` of the pool.
fn valuePair(rowStart: u32, pair: u32) -> vec2<f32> {
  return bitcast<vec2<f32>>(vec2<u32>(values[rowStart + 2u * pair], values[rowStart + 2u * pair + 1u]));
}
