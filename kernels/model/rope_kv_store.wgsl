// Rotation and paged KV stores, shared by rope_kv.wgsl and the GEMV's rotary epilogue (linear_rope_kv.wgsl). The
// including kernel declares HEAD_DIM, KV_F16, pageTable, keyPool and valuePool.

// Hugging Face's rotate_half: dimension i pairs with i + D/2 and turns by `angle` (cos, sin):
//   x'_i = x_i · cos − x_{i+D/2} · sin,   x'_{i+D/2} = x_{i+D/2} · cos + x_i · sin.
// Returns (x'_i, x'_{i+D/2}).
fn rotate(x: f32, partner: f32, angle: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(x * angle.x - partner * angle.y, partner * angle.x + x * angle.y);
}

// The first word of a K or V row in its pool: the token at `position` of the sequence whose page table starts at
// `pageTableOffset`, KV head `kvHead` of `kvHeads`, pages of `pageSize` tokens.
fn kvRowWord(pageTableOffset: u32, position: u32, kvHead: u32, kvHeads: u32, pageSize: u32) -> u32 {
  let page = pageTable[pageTableOffset + position / pageSize];
  let slot = position % pageSize;
  let rowWords = select(HEAD_DIM, HEAD_DIM / 2u, KV_F16);
  return ((page * kvHeads + kvHead) * pageSize + slot) * rowWords;
}

// Writes dims (d, d + 1) of a K or V row into the pool at row word offset `rowWord`; d is even, so in an f16 pool
// the pair is one whole word.
fn storePair(isKey: bool, rowWord: u32, d: u32, pair: vec2<f32>) {
  if (KV_F16) {
    let word = pack2x16float(pair);
    if (isKey) { keyPool[rowWord + d / 2u] = word; } else { valuePool[rowWord + d / 2u] = word; }
  } else {
    let words = bitcast<vec2<u32>>(pair);
    if (isKey) {
      keyPool[rowWord + d] = words.x;
      keyPool[rowWord + d + 1u] = words.y;
    } else {
      valuePool[rowWord + d] = words.x;
      valuePool[rowWord + d + 1u] = words.y;
    }
  }
}
