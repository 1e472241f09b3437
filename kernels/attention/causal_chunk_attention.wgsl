// Causal attention of a prefill chunk over a paged KV cache, FlashAttention-2 style, register-blocked like the
// prefill GEMM (matmul.wgsl):
//   out[x] = Σ_j softmax_j(q_x · k_j · scale) · v_j   over the keys j the query row x sees (causal_chunk.wgsl).
// Grid: (row blocks · splits, KV heads). A workgroup owns BLOCK_ROWS query rows of one KV head: row r of the block
// is query token r / GROUP of the chunk at query head kvHead · GROUP + r % GROUP, so one K or V tile staged in
// workgroup memory serves every query token of the block and every head of its GQA group. The last row block
// sees the most keys: blocks run last first. With splits > 1 each workgroup walks one contiguous share of its
// block's key tiles and leaves its (m, l, o) per row for merge_causal_splits.wgsl.
// Per tile of TILE_KEYS keys (pages read through the page table):
//   S = Q·Kᵀ·scale   a GEMM over the head dimension in slices of DIM_STEP: each slice of Q (pre-scaled) and of K
//                    (f32, converted once on the way in) staged in workgroup memory dimension-major, the next slice
//                    loaded into registers while the current one is multiplied;
//   causal mask      on the tiles that cross the diagonal only (keys before the chunk are seen by every row);
//   online softmax   the tile's row max through workgroup memory, then per row m' = max(m, tile max),
//                    l = l·exp(m − m') + Σ p, o = o·exp(m − m'), p = exp(s − m') written to workgroup memory;
//   O += P·V         a GEMM over the tile's keys in slices of VALUE_STEP staged V rows.
// Invocation (rowThread, keyThread) owns rows 4·(rowThread + i·ROW_THREADS) + c (i < ROW_VECS, c < 4), as vec4s
// over c, in every product: THREAD_KEYS keys 4·(keyThread + j·KEY_THREADS) + c of S, and the quads
// keyThread + j·KEY_THREADS (j < DIM_VECS) of O, so neighbouring invocations read neighbouring vec4s. Each keeps
// its own part of l (over its keys), summed in key-thread order at the end: bitwise reproducible.
// Traffic: K and V of the block's keys once per workgroup; Q once per tile (from cache); out written once.
// Loops over register arrays are marked `// unroll` (unroll.ts).

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
// Tokens per KV page, a constant so that page and slot of a token cost a shift and a mask (power-of-two pages).
const PAGE_SIZE: u32 = {{PAGE_SIZE}}u;
const BLOCK_ROWS: u32 = {{BLOCK_ROWS}}u;
const TILE_KEYS: u32 = {{TILE_KEYS}}u;
const THREAD_ROWS: u32 = {{THREAD_ROWS}}u;
const THREAD_KEYS: u32 = {{THREAD_KEYS}}u;
const DIM_STEP: u32 = {{DIM_STEP}}u;
const VALUE_STEP: u32 = {{VALUE_STEP}}u;

const VEC: u32 = 4u;
const ROW_THREADS: u32 = BLOCK_ROWS / THREAD_ROWS;
const KEY_THREADS: u32 = TILE_KEYS / THREAD_KEYS;
const WORKGROUP: u32 = ROW_THREADS * KEY_THREADS;
const ROW_VECS: u32 = THREAD_ROWS / VEC;
const KEY_VECS: u32 = THREAD_KEYS / VEC;
const BLOCK_ROW_VECS: u32 = BLOCK_ROWS / VEC;
const TILE_KEY_VECS: u32 = TILE_KEYS / VEC;
const QUADS: u32 = HEAD_DIM / VEC;
const DIM_VECS: u32 = QUADS / KEY_THREADS;
const ROW_VECTORS: u32 = HEAD_DIM / DIMS_PER_VECTOR;
const DIM_SLICES: u32 = HEAD_DIM / DIM_STEP;
const VALUE_SLICES: u32 = TILE_KEYS / VALUE_STEP;
// S as vec4s over 4 rows: [key slot (4·j + c)][i]; O as vec4s over 4 dimensions: [row slot (4·i + c)][j].
const SCORES: u32 = THREAD_KEYS * ROW_VECS;
const OUTPUTS: u32 = THREAD_ROWS * DIM_VECS;
// Stands for −∞: exp(NEG_BIG − m) is exactly 0 for any finite m, and arithmetic on it never makes a NaN.
const NEG_BIG: f32 = -3.0e38;

// A slice is staged in units spread over the workgroup: Q in units of four rows × one quad, K of four keys × one
// 16-byte vector (both transposed in registers into vec4s over rows or keys), V of one key × one vector.
const QUERY_UNITS: u32 = BLOCK_ROW_VECS * (DIM_STEP / VEC);
const KEY_UNITS: u32 = TILE_KEY_VECS * (DIM_STEP / DIMS_PER_VECTOR);
const VALUE_UNITS: u32 = VALUE_STEP * ROW_VECTORS;
const QUERY_LOADS: u32 = (QUERY_UNITS + WORKGROUP - 1u) / WORKGROUP;
const KEY_LOADS: u32 = (KEY_UNITS + WORKGROUP - 1u) / WORKGROUP;
const VALUE_LOADS: u32 = (VALUE_UNITS + WORKGROUP - 1u) / WORKGROUP;
const QUERY_LOADS_EVEN: bool = QUERY_UNITS % WORKGROUP == 0u;
const KEY_LOADS_EVEN: bool = KEY_UNITS % WORKGROUP == 0u;
const VALUE_LOADS_EVEN: bool = VALUE_UNITS % WORKGROUP == 0u;
const QUERY_STAGE: u32 = DIM_STEP * BLOCK_ROW_VECS;
const KEY_STAGE: u32 = DIM_STEP * TILE_KEY_VECS;
const VALUE_STAGE: u32 = VALUE_STEP * QUADS;

{{CHUNK}}

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> values: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> partialOut: array<vec4<f32>>;
// (m, l) per split and query row.
@group(0) @binding(7) var<storage, read_write> partialStats: array<vec2<f32>>;

{{KV_ACCESS}}

// The staged slice: while S is computed, stage[k · BLOCK_ROW_VECS + v] = scale · Q[rows 4v … 4v + 3][d0 + k] and
// stage[QUERY_STAGE + k · TILE_KEY_VECS + v] = K[keys 4v … 4v + 3][d0 + k] for the slice from dimension d0; while
// O is computed, stage[k · QUADS + quad] = V[key k0 + k][4·quad … 4·quad + 3] for the slice from key k0.
var<workgroup> stage: array<vec4<f32>, max(QUERY_STAGE + KEY_STAGE, VALUE_STAGE)>;
// probs[k · BLOCK_ROW_VECS + v] = P[rows 4v … 4v + 3][key k of the tile].
var<workgroup> probs: array<vec4<f32>, TILE_KEYS * BLOCK_ROW_VECS>;
// rowParts[keyThread · BLOCK_ROW_VECS + v]: one key thread's part of a row statistic (the tile max, then l), rows 4v … 4v + 3.
var<workgroup> rowParts: array<vec4<f32>, KEY_THREADS * BLOCK_ROW_VECS>;

// What a workgroup works on: rows [firstRow, firstRow + BLOCK_ROWS) of KV head kvHead, keys [0, keyEnd).
struct Block {
  firstRow: u32,
  kvHead: u32,
  // The last row of the chunk: rows past it repeat it (computed, never written).
  lastRow: u32,
  // Keys the block's last row sees; the first row sees every key before firstRowKeyEnd.
  keyEnd: u32,
  firstRowKeyEnd: u32,
}

// Row of queries and out for row `row` of the block's KV head.
fn queryRow(block: Block, row: u32) -> u32 {
  let clamped = min(row, block.lastRow);
  return (clamped / GROUP * chunk.numKvHeads + block.kvHead) * GROUP + clamped % GROUP;
}

// Index in keys and values of 16-byte word `vector` of key `key`. Keys past the block's window read its last key
// (valid data: the mask or a zero probability then drops it).
fn kvVectorIndex(block: Block, key: u32, vector: u32) -> u32 {
  let token = min(key, block.keyEnd - 1u);
  let page = pageTable[chunk.pageTableOffset + token / PAGE_SIZE];
  let poolRow = (page * chunk.numKvHeads + block.kvHead) * PAGE_SIZE + token % PAGE_SIZE;
  return poolRow * ROW_VECTORS + vector;
}

// An invocation's units of a Q/K slice as loaded, between the loads and the stores.
struct ScoreSlice {
  // Unit l, row (key) 4v + c at [VEC · l + c].
  queries: array<vec4<f32>, QUERY_LOADS * VEC>,
  keys: array<vec4<u32>, KEY_LOADS * VEC>,
}

struct ValueSlice {
  values: array<vec4<u32>, VALUE_LOADS>,
}

fn loadScoreSlice(block: Block, tile: u32, slice: u32, lane: u32) -> ScoreSlice {
  var s: ScoreSlice;
  // unroll
  for (var l = 0u; l < QUERY_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (QUERY_LOADS_EVEN || unit < QUERY_UNITS) {
      let firstOfVec = block.firstRow + VEC * (unit % BLOCK_ROW_VECS);
      let quad = slice * (DIM_STEP / VEC) + unit / BLOCK_ROW_VECS;
      // unroll
      for (var c = 0u; c < VEC; c++) {
        s.queries[VEC * l + c] = queries[queryRow(block, firstOfVec + c) * QUADS + quad];
      }
    }
  }
  // unroll
  for (var l = 0u; l < KEY_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (KEY_LOADS_EVEN || unit < KEY_UNITS) {
      let firstOfVec = tile * TILE_KEYS + VEC * (unit % TILE_KEY_VECS);
      let vector = slice * (DIM_STEP / DIMS_PER_VECTOR) + unit / TILE_KEY_VECS;
      // unroll
      for (var c = 0u; c < VEC; c++) {
        s.keys[VEC * l + c] = keys[kvVectorIndex(block, firstOfVec + c, vector)];
      }
    }
  }
  return s;
}

// Scales Q, converts K to f32, and transposes each unit: the vec4 at dimension k holds its four rows' (keys') values.
fn storeScoreSlice(s: ScoreSlice, lane: u32) {
  // unroll
  for (var l = 0u; l < QUERY_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (QUERY_LOADS_EVEN || unit < QUERY_UNITS) {
      let q0 = s.queries[VEC * l] * chunk.scale;
      let q1 = s.queries[VEC * l + 1u] * chunk.scale;
      let q2 = s.queries[VEC * l + 2u] * chunk.scale;
      let q3 = s.queries[VEC * l + 3u] * chunk.scale;
      let k = VEC * (unit / BLOCK_ROW_VECS);
      let first = k * BLOCK_ROW_VECS + unit % BLOCK_ROW_VECS;
      // unroll
      for (var c = 0u; c < VEC; c++) {
        stage[first + c * BLOCK_ROW_VECS] = vec4<f32>(q0[c], q1[c], q2[c], q3[c]);
      }
    }
  }
  // unroll
  for (var l = 0u; l < KEY_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (KEY_LOADS_EVEN || unit < KEY_UNITS) {
      let k0 = vectorQuads(s.keys[VEC * l]);
      let k1 = vectorQuads(s.keys[VEC * l + 1u]);
      let k2 = vectorQuads(s.keys[VEC * l + 2u]);
      let k3 = vectorQuads(s.keys[VEC * l + 3u]);
      let k = DIMS_PER_VECTOR * (unit / TILE_KEY_VECS);
      let first = QUERY_STAGE + k * TILE_KEY_VECS + unit % TILE_KEY_VECS;
      // unroll
      for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
        // unroll
        for (var c = 0u; c < VEC; c++) {
          stage[first + (VEC * j + c) * TILE_KEY_VECS] = vec4<f32>(k0[j][c], k1[j][c], k2[j][c], k3[j][c]);
        }
      }
    }
  }
}

fn loadValueSlice(block: Block, tile: u32, slice: u32, lane: u32) -> ValueSlice {
  var s: ValueSlice;
  // unroll
  for (var l = 0u; l < VALUE_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (VALUE_LOADS_EVEN || unit < VALUE_UNITS) {
      let key = tile * TILE_KEYS + slice * VALUE_STEP + unit / ROW_VECTORS;
      s.values[l] = values[kvVectorIndex(block, key, unit % ROW_VECTORS)];
    }
  }
  return s;
}

fn storeValueSlice(s: ValueSlice, lane: u32) {
  // unroll
  for (var l = 0u; l < VALUE_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (VALUE_LOADS_EVEN || unit < VALUE_UNITS) {
      let quads = vectorQuads(s.values[l]);
      let first = (unit / ROW_VECTORS) * QUADS + (unit % ROW_VECTORS) * QUADS_PER_VECTOR;
      // unroll
      for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
        stage[first + j] = quads[j];
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let rowThread = lane % ROW_THREADS;
  let keyThread = lane / ROW_THREADS;
  let rows = chunk.count * GROUP;
  let blocks = (rows + BLOCK_ROWS - 1u) / BLOCK_ROWS;
  let blockIndex = blocks - 1u - workgroupId.x / chunk.splits;
  let split = workgroupId.x % chunk.splits;
  let firstRow = blockIndex * BLOCK_ROWS;
  let lastRow = rows - 1u;
  let lastToken = min(firstRow + BLOCK_ROWS - 1u, lastRow) / GROUP;
  let block = Block(firstRow, workgroupId.y, lastRow, chunk.position + lastToken + 1u, chunk.position + firstRow / GROUP + 1u);
  let tiles = (block.keyEnd + TILE_KEYS - 1u) / TILE_KEYS;
  let firstTile = split * tiles / chunk.splits;
  let endTile = (split + 1u) * tiles / chunk.splits;

  // Per owned row (vec4 i over rows 4·(rowThread + i·ROW_THREADS) + c): keys it sees, running max, this
  // invocation's part of the running sum.
  var rowKeyEnd: array<vec4<u32>, ROW_VECS>;
  var runningMax: array<vec4<f32>, ROW_VECS>;
  var runningSum: array<vec4<f32>, ROW_VECS>;
  var acc: array<vec4<f32>, OUTPUTS>;
  // unroll
  for (var i = 0u; i < ROW_VECS; i++) {
    let firstOfVec = firstRow + VEC * (rowThread + i * ROW_THREADS);
    let tokens = min(vec4<u32>(firstOfVec) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(lastRow)) / GROUP;
    rowKeyEnd[i] = vec4<u32>(chunk.position + 1u) + tokens;
    runningMax[i] = vec4<f32>(NEG_BIG);
    runningSum[i] = vec4<f32>(0.0);
  }
  // unroll
  for (var o = 0u; o < OUTPUTS; o++) {
    acc[o] = vec4<f32>(0.0);
  }

  var nextScores = loadScoreSlice(block, firstTile, 0u, lane);
  var nextValues: ValueSlice;
  for (var tile = firstTile; tile < endTile; tile++) {
    // S = Q·Kᵀ·scale, slice by slice of the head dimension.
    // Zeroed explicitly: a loop-local var kept its previous iteration's values on SwiftShader.
    var scores: array<vec4<f32>, SCORES>;
    // unroll
    for (var s = 0u; s < SCORES; s++) {
      scores[s] = vec4<f32>(0.0);
    }
    for (var slice = 0u; slice < DIM_SLICES; slice++) {
      storeScoreSlice(nextScores, lane);
      workgroupBarrier();
      if (slice + 1u < DIM_SLICES) {
        nextScores = loadScoreSlice(block, tile, slice + 1u, lane);
      } else {
        nextValues = loadValueSlice(block, tile, 0u, lane);
      }
      // unroll
      for (var k = 0u; k < DIM_STEP; k++) {
        var q: array<vec4<f32>, ROW_VECS>;
        // unroll
        for (var i = 0u; i < ROW_VECS; i++) {
          q[i] = stage[k * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS];
        }
        // unroll
        for (var j = 0u; j < KEY_VECS; j++) {
          let ks = stage[QUERY_STAGE + k * TILE_KEY_VECS + keyThread + j * KEY_THREADS];
          // unroll
          for (var c = 0u; c < VEC; c++) {
            // unroll
            for (var i = 0u; i < ROW_VECS; i++) {
              scores[(VEC * j + c) * ROW_VECS + i] += q[i] * ks[c];
            }
          }
        }
      }
      workgroupBarrier();
    }

    // Causal mask where the tile crosses the diagonal: key ≥ a row's key end scores −∞ (NEG_BIG).
    let tileStart = tile * TILE_KEYS;
    if (tileStart + TILE_KEYS > block.firstRowKeyEnd) {
      // unroll
      for (var j = 0u; j < KEY_VECS; j++) {
        // unroll
        for (var c = 0u; c < VEC; c++) {
          let key = tileStart + VEC * (keyThread + j * KEY_THREADS) + c;
          // unroll
          for (var i = 0u; i < ROW_VECS; i++) {
            let s = (VEC * j + c) * ROW_VECS + i;
            scores[s] = select(scores[s], vec4<f32>(NEG_BIG), vec4<u32>(key) >= rowKeyEnd[i]);
          }
        }
      }
    }

    // The tile's row max: this invocation's keys, then every key thread's, in key-thread order.
    // unroll
    for (var i = 0u; i < ROW_VECS; i++) {
      var partMax = vec4<f32>(NEG_BIG);
      // unroll
      for (var s = 0u; s < THREAD_KEYS; s++) {
        partMax = max(partMax, scores[s * ROW_VECS + i]);
      }
      rowParts[keyThread * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS] = partMax;
    }
    workgroupBarrier();
    // unroll
    for (var i = 0u; i < ROW_VECS; i++) {
      var tileMax = vec4<f32>(NEG_BIG);
      for (var t = 0u; t < KEY_THREADS; t++) {
        tileMax = max(tileMax, rowParts[t * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS]);
      }
      let newMax = max(runningMax[i], tileMax);
      let rescale = exp(runningMax[i] - newMax);
      runningMax[i] = newMax;
      runningSum[i] *= rescale;
      // unroll
      for (var c = 0u; c < VEC; c++) {
        // unroll
        for (var j = 0u; j < DIM_VECS; j++) {
          acc[(VEC * i + c) * DIM_VECS + j] *= rescale[c];
        }
      }
      // unroll
      for (var j = 0u; j < KEY_VECS; j++) {
        // unroll
        for (var c = 0u; c < VEC; c++) {
          let score = scores[(VEC * j + c) * ROW_VECS + i];
          let p = select(vec4<f32>(0.0), exp(score - newMax), score > vec4<f32>(NEG_BIG));
          runningSum[i] += p;
          probs[(VEC * (keyThread + j * KEY_THREADS) + c) * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS] = p;
        }
      }
    }

    // O += P·V, slice by slice of the tile's keys.
    for (var slice = 0u; slice < VALUE_SLICES; slice++) {
      storeValueSlice(nextValues, lane);
      workgroupBarrier();
      if (slice + 1u < VALUE_SLICES) {
        nextValues = loadValueSlice(block, tile, slice + 1u, lane);
      } else if (tile + 1u < endTile) {
        nextScores = loadScoreSlice(block, tile + 1u, 0u, lane);
      }
      // unroll
      for (var k = 0u; k < VALUE_STEP; k++) {
        let key = slice * VALUE_STEP + k;
        var p: array<vec4<f32>, ROW_VECS>;
        // unroll
        for (var i = 0u; i < ROW_VECS; i++) {
          p[i] = probs[key * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS];
        }
        // unroll
        for (var j = 0u; j < DIM_VECS; j++) {
          let v = stage[k * QUADS + keyThread + j * KEY_THREADS];
          // unroll
          for (var i = 0u; i < ROW_VECS; i++) {
            // unroll
            for (var c = 0u; c < VEC; c++) {
              acc[(VEC * i + c) * DIM_VECS + j] += p[i][c] * v;
            }
          }
        }
      }
      workgroupBarrier();
    }
  }

  // l: every key thread's part of the row sum, in key-thread order.
  // unroll
  for (var i = 0u; i < ROW_VECS; i++) {
    rowParts[keyThread * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS] = runningSum[i];
  }
  workgroupBarrier();
  let rowCount = rows * chunk.numKvHeads;
  // unroll
  for (var i = 0u; i < ROW_VECS; i++) {
    var sum = vec4<f32>(0.0);
    for (var t = 0u; t < KEY_THREADS; t++) {
      sum += rowParts[t * BLOCK_ROW_VECS + rowThread + i * ROW_THREADS];
    }
    // unroll
    for (var c = 0u; c < VEC; c++) {
      let row = firstRow + VEC * (rowThread + i * ROW_THREADS) + c;
      if (row <= lastRow) {
        let outRow = queryRow(block, row);
        if (chunk.splits == 1u) {
          // unroll
          for (var j = 0u; j < DIM_VECS; j++) {
            out[outRow * QUADS + keyThread + j * KEY_THREADS] = acc[(VEC * i + c) * DIM_VECS + j] / sum[c];
          }
        } else {
          // A split that saw none of the row's keys leaves m = −∞ (NEG_BIG), l = 0, o = 0: it weighs 0 in the merge.
          let slot = split * rowCount + outRow;
          // unroll
          for (var j = 0u; j < DIM_VECS; j++) {
            partialOut[slot * QUADS + keyThread + j * KEY_THREADS] = acc[(VEC * i + c) * DIM_VECS + j];
          }
          if (keyThread == 0u) {
            partialStats[slot] = vec2<f32>(runningMax[i][c], sum[c]);
          }
        }
      }
    }
  }
}
