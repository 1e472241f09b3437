// Causal attention of a prefill chunk on the GPU's matrix units (subgroup matrices: tensor cores on NVIDIA),
// FlashAttention-2 style, over the paged f16 KV cache (pagedKv.ts):
//   out[t][h] = Σ_{j ≤ position + t} softmax_j(q[t][h] · k[j] · SCALE) · v[j]
// for the chunk's tokens t (the Step uniform: tokenCount tokens from `position`) and query heads h of KV head
// h / GROUP. q is rounded to f16 and so are the softmax weights p before P·V; scores, the running max and sum and
// the output accumulate in f32.
// Grid: (ceil(tokenCount / TOKENS_PER_BLOCK), NUM_KV_HEADS). A workgroup owns ROWS = 64 query rows of one KV head,
// row r being token firstToken + r / GROUP and head kvHead · GROUP + r % GROUP, so each K and V tile it stages
// serves the whole GQA group. Subgroup s owns rows 16s … 16s + 15 and per tile of KEY_TILE keys computes
//   S = Q Kᵀ (16 × KEY_TILE, f32)  →  p = exp(S · SCALE − running max), masked past each row's own position
//   O = O · exp(old max − new max) + P V,
// with Q held in left matrices for the whole walk, S and the P·V blocks passed through workgroup memory so that
// each invocation (two per row, half the tile's keys each) can do the row's softmax and own half its O row.
diagnostic(off, chromium.subgroup_matrix_uniformity);
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const NUM_KV_HEADS: u32 = {{NUM_KV_HEADS}}u;
const NUM_HEADS: u32 = NUM_KV_HEADS * GROUP;
const PAGE_SIZE: u32 = {{PAGE_SIZE}}u;
const KEY_TILE: u32 = {{KEY_TILE}}u;
const SCALE: f32 = {{SCALE}};

// One matrix operation is 16 × 16 × 16; a subgroup is 32 invocations, two per row of its 16.
const MATRIX: u32 = 16u;
const SUBGROUP_SIZE: u32 = 32u;
const SUBGROUPS: u32 = 4u;
const ROWS: u32 = SUBGROUPS * MATRIX;
const WORKGROUP: u32 = SUBGROUPS * SUBGROUP_SIZE;
const TOKENS_PER_BLOCK: u32 = ROWS / GROUP;
const DIM_BLOCKS: u32 = HEAD_DIM / MATRIX;
const KEY_BLOCKS: u32 = KEY_TILE / MATRIX;
// An invocation's half of its row: KEY_TILE / 2 scores, and 8 of each 16 output dims.
const HALF_TILE: u32 = KEY_TILE / 2u;
const HALF_BLOCK: u32 = MATRIX / 2u;
// P·V blocks go through a subgroup's 16 × KEY_TILE of `scores`, KEY_BLOCKS at a time.
const OUT_SWEEPS: u32 = DIM_BLOCKS / KEY_BLOCKS;
// K and V rows as 16-byte vectors (8 halves), and how many of a tile each invocation stages.
const VECTORS_PER_ROW: u32 = HEAD_DIM / 8u;
const TILE_LOADS: u32 = KEY_TILE * VECTORS_PER_ROW / WORKGROUP;
const QUERY_LOADS: u32 = ROWS * HEAD_DIM / 4u / WORKGROUP;
const WORDS_PER_VECTOR: u32 = 4u;
const VALUES_PER_QUAD: u32 = 4u;
// Rows of K, V and Q in `halves` hold HEAD_DIM values and 8 of padding; rows of P KEY_TILE and 8. Everything a
// matrix load reads starts on a 16-byte boundary.
const STRIDE: u32 = HEAD_DIM + 8u;
const PROB_STRIDE: u32 = KEY_TILE + 8u;
const KEYS_AT: u32 = 0u;
const VALUES_AT: u32 = KEY_TILE * STRIDE;
const PROBS_AT: u32 = 2u * KEY_TILE * STRIDE;
// Masked scores: exp(MASKED − any real max) is 0, and no infinity ever meets another in a subtraction.
const MASKED: f32 = -1e30;

{{STEP}}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keyPool: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> valuePool: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// The K tile, the V tile and P, [row][dim] each; at the start, Q in their place on its way into registers.
var<workgroup> halves: array<f16, max(PROBS_AT + ROWS * PROB_STRIDE, ROWS * STRIDE)>;
// Subgroup s's scores at [16s + row][key], then its P·V blocks in the same place.
var<workgroup> scores: array<f32, ROWS * KEY_TILE>;

// The row of key `token` of this sequence and KV head, in 16-byte vectors.
fn kvRowVector(token: u32, kvHead: u32) -> u32 {
  let page = pageTable[step.pageTableOffset + token / PAGE_SIZE];
  return ((page * NUM_KV_HEADS + kvHead) * PAGE_SIZE + token % PAGE_SIZE) * VECTORS_PER_ROW;
}

fn storeHalves(at: u32, words: vec4<u32>) {
  // unroll
  for (var w = 0u; w < WORDS_PER_VECTOR; w++) {
    let pair = bitcast<vec2<f16>>(words[w]);
    halves[at + 2u * w] = pair.x;
    halves[at + 2u * w + 1u] = pair.y;
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let firstToken = workgroupId.x * TOKENS_PER_BLOCK;
  let kvHead = workgroupId.y;
  let subgroup = lane / SUBGROUP_SIZE;
  let subgroupLane = lane % SUBGROUP_SIZE;
  let lastToken = step.tokenCount - 1u;

  // Q of the block, rounded to f16 (rows past the chunk repeat its last token: computed, never written).
  // unroll
  for (var l = 0u; l < QUERY_LOADS; l++) {
    let quad = lane + l * WORKGROUP;
    let row = quad / (HEAD_DIM / 4u);
    let dim = 4u * (quad % (HEAD_DIM / 4u));
    let token = min(firstToken + row / GROUP, lastToken);
    let head = kvHead * GROUP + row % GROUP;
    let value = vec4<f16>(queries[((token * NUM_HEADS + head) * HEAD_DIM + dim) / 4u]);
    // unroll
    for (var c = 0u; c < VALUES_PER_QUAD; c++) {
      halves[row * STRIDE + dim + c] = value[c];
    }
  }
  workgroupBarrier();
  var query: array<subgroup_matrix_left<f16, MATRIX, MATRIX>, DIM_BLOCKS>;
  // unroll
  for (var k = 0u; k < DIM_BLOCKS; k++) {
    query[k] = subgroupMatrixLoad<subgroup_matrix_left<f16, MATRIX, MATRIX>>(&halves, subgroup * MATRIX * STRIDE + k * MATRIX, false, STRIDE);
  }
  workgroupBarrier();

  // This invocation's row and half, the position its query attends up to, its softmax state and half of its O row:
  // output[b · HALF_BLOCK + e] is dim 16b + 8 · half + e.
  let row = subgroupLane / 2u;
  let half = subgroupLane % 2u;
  let blockRow = subgroup * MATRIX + row;
  let queryPosition = step.position + min(firstToken + blockRow / GROUP, lastToken);
  var runningMax = MASKED;
  var runningSum = 0.0;
  var output: array<f32, DIM_BLOCKS * HALF_BLOCK>;

  // Keys the block's last row sees; the last tile's keys past them repeat the last one (masked, never NaN).
  let keyCount = step.position + min(firstToken + TOKENS_PER_BLOCK, step.tokenCount);
  let tiles = (keyCount + KEY_TILE - 1u) / KEY_TILE;
  for (var tile = 0u; tile < tiles; tile++) {
    let tileStart = tile * KEY_TILE;
    var keyWords: array<vec4<u32>, TILE_LOADS>;
    var valueWords: array<vec4<u32>, TILE_LOADS>;
    // unroll
    for (var l = 0u; l < TILE_LOADS; l++) {
      let vector = lane + l * WORKGROUP;
      let at = kvRowVector(min(tileStart + vector / VECTORS_PER_ROW, keyCount - 1u), kvHead) + vector % VECTORS_PER_ROW;
      keyWords[l] = keyPool[at];
      valueWords[l] = valuePool[at];
    }
    // unroll
    for (var l = 0u; l < TILE_LOADS; l++) {
      let vector = lane + l * WORKGROUP;
      let at = (vector / VECTORS_PER_ROW) * STRIDE + 8u * (vector % VECTORS_PER_ROW);
      storeHalves(KEYS_AT + at, keyWords[l]);
      storeHalves(VALUES_AT + at, valueWords[l]);
    }
    workgroupBarrier();

    // S = Q Kᵀ: Kᵀ is the K tile read column-major (its rows are the columns of Kᵀ).
    // unroll
    for (var n = 0u; n < KEY_BLOCKS; n++) {
      // Initialized explicitly: a loop-local var without one has kept its last value on some drivers.
      var score = subgroup_matrix_result<f32, MATRIX, MATRIX>();
      // unroll
      for (var k = 0u; k < DIM_BLOCKS; k++) {
        let keys = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&halves, KEYS_AT + n * MATRIX * STRIDE + k * MATRIX, true, STRIDE);
        score = subgroupMatrixMultiplyAccumulate(query[k], keys, score);
      }
      subgroupMatrixStore(&scores, subgroup * MATRIX * KEY_TILE + n * MATRIX, score, false, KEY_TILE);
    }
    workgroupBarrier();

    // The row's online softmax, half a tile per invocation, the two halves met by a shuffle.
    var tileScores: array<f32, HALF_TILE>;
    var tileMax = MASKED;
    // unroll
    for (var c = 0u; c < HALF_TILE; c++) {
      let key = half * HALF_TILE + c;
      let visible = tileStart + key <= queryPosition;
      tileScores[c] = select(MASKED, scores[blockRow * KEY_TILE + key] * SCALE, visible);
      tileMax = max(tileMax, tileScores[c]);
    }
    tileMax = max(tileMax, subgroupShuffleXor(tileMax, 1u));
    let newMax = max(runningMax, tileMax);
    let rescale = exp(runningMax - newMax);
    var tileSum = 0.0;
    // unroll
    for (var c = 0u; c < HALF_TILE; c++) {
      // The sum counts p as P·V will use it: rounded to f16.
      let p = f16(exp(tileScores[c] - newMax));
      halves[PROBS_AT + blockRow * PROB_STRIDE + half * HALF_TILE + c] = p;
      tileSum += f32(p);
    }
    tileSum += subgroupShuffleXor(tileSum, 1u);
    runningSum = runningSum * rescale + tileSum;
    runningMax = newMax;
    workgroupBarrier();

    // O = O · rescale + P V, KEY_BLOCKS blocks of 16 dims per sweep through `scores`.
    var probs: array<subgroup_matrix_left<f16, MATRIX, MATRIX>, KEY_BLOCKS>;
    // unroll
    for (var k = 0u; k < KEY_BLOCKS; k++) {
      probs[k] = subgroupMatrixLoad<subgroup_matrix_left<f16, MATRIX, MATRIX>>(&halves, PROBS_AT + subgroup * MATRIX * PROB_STRIDE + k * MATRIX, false, PROB_STRIDE);
    }
    // unroll
    for (var sweep = 0u; sweep < OUT_SWEEPS; sweep++) {
      // unroll
      for (var n = 0u; n < KEY_BLOCKS; n++) {
        var product = subgroup_matrix_result<f32, MATRIX, MATRIX>();
        // unroll
        for (var k = 0u; k < KEY_BLOCKS; k++) {
          let values = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&halves, VALUES_AT + k * MATRIX * STRIDE + (sweep * KEY_BLOCKS + n) * MATRIX, false, STRIDE);
          product = subgroupMatrixMultiplyAccumulate(probs[k], values, product);
        }
        subgroupMatrixStore(&scores, subgroup * MATRIX * KEY_TILE + n * MATRIX, product, false, KEY_TILE);
      }
      workgroupBarrier();
      // unroll
      for (var n = 0u; n < KEY_BLOCKS; n++) {
        // unroll
        for (var e = 0u; e < HALF_BLOCK; e++) {
          let o = (sweep * KEY_BLOCKS + n) * HALF_BLOCK + e;
          output[o] = output[o] * rescale + scores[blockRow * KEY_TILE + n * MATRIX + half * HALF_BLOCK + e];
        }
      }
      // Read before the next sweep (or the next tile) writes `scores` and `halves` again.
      workgroupBarrier();
    }
  }

  let token = firstToken + blockRow / GROUP;
  if (token < step.tokenCount) {
    let head = kvHead * GROUP + blockRow % GROUP;
    let base = (token * NUM_HEADS + head) * HEAD_DIM + half * HALF_BLOCK;
    // unroll
    for (var b = 0u; b < DIM_BLOCKS; b++) {
      // unroll
      for (var e = 0u; e < HALF_BLOCK; e++) {
        out[base + b * MATRIX + e] = output[b * HALF_BLOCK + e] / runningSum;
      }
    }
  }
}
