// Split attention over a paged f16 KV cache on the GPU's matrix units (subgroup matrices: tensor cores on NVIDIA).
// Same contract as streamed_attention.wgsl (work heads, ranges, partial slots, merge_partials.wgsl); the planner's
// tile is one 16-token block of a page, so K and V load straight from the pool into matrices.
//
// Per 16-token tile of a work head, one subgroup (the whole workgroup) computes
//   S = Q Kᵀ (16 × 16, f32)  →  p = exp(s − m), m a reference max per row  →  O += P V (16 × HEAD_DIM, f32).
// The matrix units multiply f16, so that nothing is rounded beyond the f16 the KV already is, q and p travel as two
// halves each: x = hi + lo · 2⁻¹¹ with hi = f16(x) and lo = f16((x − hi) · 2¹¹), 22 bits of x. A work head has at most
// 8 query rows: row r of the left matrix holds q_r's hi part and row LOW + r its lo part, so one Q Kᵀ gives
//   s_r = S[r] + S[LOW + r] · 2⁻¹¹,
// and one P V with p split the same way gives o_r = O[r] + O[LOW + r] · 2⁻¹¹. K and V enter exactly; products and
// sums are f32 in the matrix units.
// The online softmax rescales o only when a row's tile max passes its reference max by more than HEADROOM (then the
// max moves there): p ≤ exp(HEADROOM) fits f16, and the rescale, which has to pass O through workgroup memory, is
// rare (the first tiles of a head). The merge takes any reference max: m, l = Σ p, o = Σ p·v are one exact state.
// Invocation (row = lane / 4, quarter = lane % 4) does the softmax of its row for tokens 4·quarter … 4·quarter + 3 of
// a tile and keeps the row's reference max and its share of the sum.
// The last tile of a head past its length stages V through workgroup memory with the rows past the length zeroed:
// the pool's slots there hold anything (0 · NaN would reach O).
diagnostic(off, chromium.subgroup_matrix_uniformity);
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const QUERIES: u32 = {{QUERIES}}u;
const TILE: u32 = 16u;
const PAGE_SIZE: u32 = {{PAGE_SIZE}}u;

// One matrix operation is 16 × 16 × 16; the workgroup is one subgroup of 32.
const MATRIX: u32 = 16u;
const WORKGROUP: u32 = 32u;
const DIM_BLOCKS: u32 = HEAD_DIM / MATRIX;
const QUADS: u32 = HEAD_DIM / 4u;
// The rows of the lo parts, and their weight.
const LOW: u32 = 8u;
const LOW_SCALE: f32 = 2048.0;
const LOW_WEIGHT: f32 = 1.0 / 2048.0;
// Tokens of a tile per invocation, and invocations per row.
const ROW_TOKENS: u32 = 4u;
const ROW_LANES: u32 = MATRIX / ROW_TOKENS;
// Q's 16 rows as quads, and a tile of V as halves, per invocation.
const QUERY_QUADS: u32 = MATRIX * QUADS / WORKGROUP;
const TILE_HALVES: u32 = MATRIX * HEAD_DIM / WORKGROUP;
// Elements of a 16 × 16 matrix per invocation when one is rescaled through workgroup memory.
const MATRIX_ELEMENTS: u32 = MATRIX * MATRIX / WORKGROUP;
// How far past its reference max a row's scores may go before the max moves: exp(8) ≈ 2981 < 65504.
const HEADROOM: f32 = 8.0;
// Stands for −∞: exp(NEG_BIG − m) is exactly 0 for any finite m, and arithmetic on it never makes a NaN.
const NEG_BIG: f32 = -3.0e38;

{{WORK_HEADS}}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keys: array<f16>;
@group(0) @binding(3) var<storage, read> values: array<f16>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read> heads: array<WorkHead>;
// (tileBegin, tileEnd, firstHead, first partial slot) per workgroup.
@group(0) @binding(6) var<storage, read> workRanges: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
// Per slot and row: m, l, then HEAD_DIM values of o.
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// Q's hi and lo rows on their way into left matrices; a partial tile of V on its way into right matrices.
var<workgroup> operands: array<f16, MATRIX * HEAD_DIM>;
// S, and a block of O on its way through a rescale or out.
var<workgroup> block: array<f32, MATRIX * MATRIX>;
// P: hi parts in rows 0 … 7, lo parts in rows LOW …
var<workgroup> probs: array<f16, MATRIX * MATRIX>;
// The count of the last tile in which some row's max moved (written by those rows, read uniformly).
var<workgroup> maxMovedAt: u32;

// x as the pair (hi, lo) with x ≈ hi + lo · LOW_WEIGHT to 22 bits.
fn splitHigh(x: vec4<f32>) -> vec4<f16> {
  return vec4<f16>(x);
}
fn splitLow(x: vec4<f32>, high: vec4<f16>) -> vec4<f16> {
  return vec4<f16>((x - vec4<f32>(high)) * LOW_SCALE);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let range = workRanges[workgroupId.x];
  let rangeEnd = range.y;
  let row = lane / ROW_LANES;
  let quarter = lane % ROW_LANES;
  // In a rescale, this invocation's MATRIX_ELEMENTS elements of a block lie in block row lane / 2, whose factor is
  // that of query row (lane / 2) % LOW, held by that row's first invocation.
  let rescaledRowOwner = ((lane / 2u) % LOW) * ROW_LANES;

  var tileCount = 0u;
  var tile = range.x;
  var headIndex = range.z;
  var segment = 0u;
  while (tile < rangeEnd) {
    let head = heads[headIndex];
    let headEnd = heads[headIndex + 1u].firstTile;
    let segmentEnd = min(rangeEnd, headEnd);
    let firstToken = (tile - head.firstTile) * TILE;
    let endToken = min((segmentEnd - head.firstTile) * TILE, head.length);
    let kvHeadRow = head.kvHead * PAGE_SIZE;
    let pageRows = params.numKvHeads * PAGE_SIZE;

    // Q, pre-scaled by 1/sqrt(d): hi parts in rows 0 … ROWS − 1, lo parts in rows LOW …; the other rows 0.
    for (var i = 0u; i < QUERY_QUADS; i++) {
      let item = lane + i * WORKGROUP;
      let matrixRow = item / QUADS;
      let quad = item % QUADS;
      let r = matrixRow % LOW;
      var q = vec4<f32>(0.0);
      if (r < ROWS) {
        q = queries[queryRowIndex(head, r) * QUADS + quad] * params.scale;
      }
      let high = splitHigh(q);
      let part = select(high, splitLow(q, high), matrixRow >= LOW);
      for (var c = 0u; c < 4u; c++) {
        operands[matrixRow * HEAD_DIM + 4u * quad + c] = part[c];
      }
    }
    workgroupBarrier();
    var query: array<subgroup_matrix_left<f16, MATRIX, MATRIX>, DIM_BLOCKS>;
    // unroll
    for (var k = 0u; k < DIM_BLOCKS; k++) {
      query[k] = subgroupMatrixLoad<subgroup_matrix_left<f16, MATRIX, MATRIX>>(&operands, k * MATRIX, false, HEAD_DIM);
    }
    workgroupBarrier();

    var output: array<subgroup_matrix_result<f32, MATRIX, MATRIX>, DIM_BLOCKS>;
    // unroll
    for (var n = 0u; n < DIM_BLOCKS; n++) {
      output[n] = subgroup_matrix_result<f32, MATRIX, MATRIX>();
    }
    var runningMax = NEG_BIG;
    var runningSum = 0.0;
    // The tokens this row sees in the segment: [firstToken, rowEnd); none for the rows past ROWS.
    let rowEnd = select(0u, min(endToken, visibleLength(head, row)), row < ROWS);

    for (var base = firstToken; base < endToken; base += TILE) {
      tileCount += 1u;
      let page = pageTable[head.pageTableOffset + base / PAGE_SIZE];
      // The tile's 16 rows, consecutive in the page (TILE divides PAGE_SIZE), in halves.
      let tileStart = (page * pageRows + kvHeadRow + base % PAGE_SIZE) * HEAD_DIM;
      let pastLength = base + TILE > endToken;
      var keyBlocks: array<subgroup_matrix_right<f16, MATRIX, MATRIX>, DIM_BLOCKS>;
      var valueBlocks: array<subgroup_matrix_right<f16, MATRIX, MATRIX>, DIM_BLOCKS>;
      // unroll
      for (var k = 0u; k < DIM_BLOCKS; k++) {
        // Kᵀ's block k: dims 16k … 16k + 15 of the tile's rows, read column-major.
        keyBlocks[k] = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&keys, tileStart + k * MATRIX, true, HEAD_DIM);
      }
      if (!pastLength) {
        // unroll
        for (var n = 0u; n < DIM_BLOCKS; n++) {
          valueBlocks[n] = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&values, tileStart + n * MATRIX, false, HEAD_DIM);
        }
      }

      var score = subgroup_matrix_result<f32, MATRIX, MATRIX>();
      // unroll
      for (var k = 0u; k < DIM_BLOCKS; k++) {
        score = subgroupMatrixMultiplyAccumulate(query[k], keyBlocks[k], score);
      }
      subgroupMatrixStore(&block, 0u, score, false, MATRIX);
      workgroupBarrier();

      // This row's scores of its 4 tokens (−∞ outside its window), the tile's max over the row's invocations.
      var scores: array<f32, ROW_TOKENS>;
      var tileMax = NEG_BIG;
      // unroll
      for (var c = 0u; c < ROW_TOKENS; c++) {
        let t = quarter * ROW_TOKENS + c;
        let s = block[row * MATRIX + t] + block[(LOW + row) * MATRIX + t] * LOW_WEIGHT;
        scores[c] = select(NEG_BIG, s, base + t < rowEnd);
        tileMax = max(tileMax, scores[c]);
      }
      tileMax = max(tileMax, subgroupShuffleXor(tileMax, 1u));
      tileMax = max(tileMax, subgroupShuffleXor(tileMax, 2u));
      let maxMoves = tileMax > runningMax + HEADROOM;
      let newMax = select(runningMax, tileMax, maxMoves);
      let factor = exp(runningMax - newMax);
      if (maxMoves) {
        maxMovedAt = tileCount;
      }
      var tileSum = 0.0;
      // unroll
      for (var c = 0u; c < ROW_TOKENS; c++) {
        let t = quarter * ROW_TOKENS + c;
        let p = select(0.0, exp(scores[c] - newMax), scores[c] > NEG_BIG);
        let high = f16(p);
        let low = f16((p - f32(high)) * LOW_SCALE);
        probs[row * MATRIX + t] = high;
        probs[(LOW + row) * MATRIX + t] = low;
        // The sum counts p as P V uses it.
        tileSum += f32(high) + f32(low) * LOW_WEIGHT;
      }
      runningSum = runningSum * factor + tileSum;
      runningMax = newMax;
      // Also the barrier between P's stores and its load. O is zero until a segment's first tile has passed.
      let rescale = workgroupUniformLoad(&maxMovedAt) == tileCount && base != firstToken;

      if (rescale) {
        let rowFactor = subgroupShuffle(factor, rescaledRowOwner);
        // unroll
        for (var n = 0u; n < DIM_BLOCKS; n++) {
          subgroupMatrixStore(&block, 0u, output[n], false, MATRIX);
          workgroupBarrier();
          for (var e = 0u; e < MATRIX_ELEMENTS; e++) {
            block[lane * MATRIX_ELEMENTS + e] *= rowFactor;
          }
          workgroupBarrier();
          output[n] = subgroupMatrixLoad<subgroup_matrix_result<f32, MATRIX, MATRIX>>(&block, 0u, false, MATRIX);
          workgroupBarrier();
        }
      }
      if (pastLength) {
        for (var i = 0u; i < TILE_HALVES; i++) {
          let item = lane + i * WORKGROUP;
          let tokenRow = item / HEAD_DIM;
          operands[item] = select(0.0h, values[tileStart + item], base + tokenRow < endToken);
        }
        workgroupBarrier();
        // unroll
        for (var n = 0u; n < DIM_BLOCKS; n++) {
          valueBlocks[n] = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&operands, n * MATRIX, false, HEAD_DIM);
        }
        // Before the next segment's Q is staged in the same place.
        workgroupBarrier();
      }
      let weights = subgroupMatrixLoad<subgroup_matrix_left<f16, MATRIX, MATRIX>>(&probs, 0u, false, MATRIX);
      // unroll
      for (var n = 0u; n < DIM_BLOCKS; n++) {
        output[n] = subgroupMatrixMultiplyAccumulate(weights, valueBlocks[n], output[n]);
      }
    }

    // The row's sum over its invocations (the same order every run), then o = O[r] + O[LOW + r] · 2⁻¹¹ block by
    // block: this invocation writes dims 4·quarter … 4·quarter + 3 of each block of its row.
    runningSum += subgroupShuffleXor(runningSum, 1u);
    runningSum += subgroupShuffleXor(runningSum, 2u);
    let wholeHead = tile == head.firstTile && segmentEnd == headEnd;
    let slot = range.w + select(1u, 0u, segment == 0u);
    let stateIndex = (slot * ROWS + row) * (HEAD_DIM + 2u);
    if (!wholeHead && row < ROWS && quarter == 0u) {
      // A row that saw no token of this segment leaves m = −∞ (NEG_BIG), l = 0, o = 0: it weighs 0 in the merge.
      partials[stateIndex] = runningMax;
      partials[stateIndex + 1u] = runningSum;
    }
    // unroll
    for (var n = 0u; n < DIM_BLOCKS; n++) {
      // Every earlier read of `block` came before a barrier since.
      subgroupMatrixStore(&block, 0u, output[n], false, MATRIX);
      workgroupBarrier();
      if (row < ROWS) {
        let dim = n * MATRIX + quarter * 4u;
        var o = vec4<f32>(0.0);
        for (var c = 0u; c < 4u; c++) {
          let column = quarter * 4u + c;
          o[c] = block[row * MATRIX + column] + block[(LOW + row) * MATRIX + column] * LOW_WEIGHT;
        }
        if (wholeHead) {
          if (rowIsWritten(head, row)) {
            let normalized = o / runningSum;
            for (var c = 0u; c < 4u; c++) {
              out[queryRowIndex(head, row) * HEAD_DIM + dim + c] = normalized[c];
            }
          }
        } else {
          for (var c = 0u; c < 4u; c++) {
            partials[stateIndex + 2u + dim + c] = o[c];
          }
        }
      }
      workgroupBarrier();
    }

    tile = segmentEnd;
    headIndex += 1u;
    segment += 1u;
  }
}
