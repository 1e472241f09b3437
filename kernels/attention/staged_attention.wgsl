// Split attention over a paged KV cache, staged through workgroup memory: the portable kernel, for adapters
// without subgroups (streamed_attention.wgsl is the fast path where they exist). Both serve all three schedules,
// decode and the causal attention of a prefill chunk.
//
// For a work head (work_heads.wgsl: a block of QUERIES query tokens against one KV head, whose last query sees N
// tokens), attention is a reduction over its context tiles of TILE tokens. The host flattens every work head of
// the batch into one list of tiles (head h owns tiles [heads[h].firstTile, heads[h+1].firstTile)) and gives every
// workgroup one contiguous range of that list (workRanges). The schedule decides the ranges:
//   FA2-style:      one range per work head (a workgroup walks a whole head),
//   FlashDecoding:  a fixed number of ranges per work head,
//   LeanAttention:  the whole list cut into equal shares, one per workgroup of a grid sized to the GPU; a share
//                   may start or end inside a head and span several heads.
// Walking its range, a workgroup runs online softmax for the ROWS query rows of the head (K and V are read once
// for all of them: the GQA group, and in prefill the block's queries). A token outside a row's causal window
// counts as −∞ for that row. At each head boundary it finishes the segment: a head it covered whole is
// normalised and written to `out` in place; otherwise its partial state (m, l, o) goes to a partial slot
// (slot 2w for the segment the range starts with, 2w + 1 for the one it ends with) for merge_partials.wgsl.
//
// Grid: one workgroup of WORKGROUP invocations per range. Per tile, invocation t < TILE owns token t for the
// scores; for P·V, invocation i owns the dimension pair c = i % PAIRS of tokens i / PAIRS, +TOKEN_GROUPS, ...
// Traffic: every K and V element of a work head read once from memory; q read once per segment.
const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const QUERIES: u32 = {{QUERIES}}u;
const TILE: u32 = {{TILE}}u;
const WORKGROUP: u32 = {{WORKGROUP}}u;
const PAIRS: u32 = HEAD_DIM / 2u;
const QUADS: u32 = HEAD_DIM / 4u;
// Invocations that split a tile's tokens between them in the P·V product.
const TOKEN_GROUPS: u32 = WORKGROUP / PAIRS;
// Staged K rows are padded by one word so that invocations reading the same word of different rows hit
// different memory banks.
const K_ROW_STRIDE: u32 = ROW_WORDS + 1u;
// Stands for −∞: exp(NEG_BIG − m) is exactly 0 for any finite m, and arithmetic on it never makes a NaN.
const NEG_BIG: f32 = -3.0e38;

{{WORK_HEADS}}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keys: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<u32>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read> heads: array<WorkHead>;
// (tileBegin, tileEnd, firstHead, first partial slot) per workgroup.
@group(0) @binding(6) var<storage, read> workRanges: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
// Per slot and row: m, l, then HEAD_DIM values of o.
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

var<workgroup> queryTile: array<vec4<f32>, ROWS * QUADS>;
var<workgroup> keyTile: array<u32, TILE * K_ROW_STRIDE>;
var<workgroup> rowBase: array<u32, TILE>;
var<workgroup> probs: array<f32, ROWS * TILE>;
var<workgroup> outputScratch: array<vec2<f32>, ROWS * WORKGROUP>;

{{KV_ACCESS}}

{{REDUCE_WORKGROUP}}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
) {
  let range = workRanges[workgroupId.x];
  let rangeEnd = range.y;
  let pairColumn = lane % PAIRS;
  let tokenGroup = lane / PAIRS;
  let ownsPair = tokenGroup < TOKEN_GROUPS;

  var tile = range.x;
  var headIndex = range.z;
  var segment = 0u;
  while (tile < rangeEnd) {
    let head = heads[headIndex];
    let headEnd = heads[headIndex + 1u].firstTile;
    let segmentEnd = min(rangeEnd, headEnd);

    // The head's query rows, pre-scaled by 1/sqrt(d).
    for (var i = lane; i < ROWS * QUADS; i += WORKGROUP) {
      let row = i / QUADS;
      queryTile[i] = queries[queryRowIndex(head, row) * QUADS + i % QUADS] * params.scale;
    }

    var runningMax: array<f32, ROWS>;
    var sumPart: array<f32, ROWS>;
    var acc: array<vec2<f32>, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      runningMax[r] = NEG_BIG;
    }

    for (var t = tile; t < segmentEnd; t++) {
      let tokenStart = (t - head.firstTile) * TILE;
      let tileLength = min(TILE, head.length - tokenStart);

      // Where each token of the tile lives in the pool: its page from the page table, its slot in the page.
      if (lane < tileLength) {
        let token = tokenStart + lane;
        let page = pageTable[head.pageTableOffset + token / params.pageSize];
        let slot = token % params.pageSize;
        rowBase[lane] = ((page * params.numKvHeads + head.kvHead) * params.pageSize + slot) * ROW_WORDS;
      }
      workgroupBarrier();

      // Stage K: consecutive invocations copy consecutive words of a row (coalesced reads).
      for (var i = lane; i < tileLength * ROW_WORDS; i += WORKGROUP) {
        let row = i / ROW_WORDS;
        let word = i % ROW_WORDS;
        keyTile[row * K_ROW_STRIDE + word] = keys[rowBase[row] + word];
      }
      workgroupBarrier();

      // Scores: invocation t computes q_r · k_t for every row r it can see (−∞ for the others).
      var scores: array<f32, ROWS>;
      var seen: array<bool, ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        scores[r] = 0.0;
        seen[r] = lane < tileLength && tokenStart + lane < visibleLength(head, r);
      }
      if (lane < tileLength) {
        for (var quad = 0u; quad < QUADS; quad++) {
          let k4 = stagedKeyQuad(lane * K_ROW_STRIDE, quad);
          for (var r = 0u; r < ROWS; r++) {
            scores[r] += dot(queryTile[r * QUADS + quad], k4);
          }
        }
      }
      for (var r = 0u; r < ROWS; r++) {
        scores[r] = select(NEG_BIG, scores[r], seen[r]);
      }

      // Online softmax: new running max, rescale factor for what came before, this tile's probabilities.
      let tileMax = reduceMaxAcrossWorkgroup(scores, lane);
      var rescale: array<f32, ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        let newMax = max(runningMax[r], tileMax[r]);
        rescale[r] = exp(runningMax[r] - newMax);
        runningMax[r] = newMax;
        let p = select(0.0, exp(scores[r] - newMax), seen[r]);
        sumPart[r] = sumPart[r] * rescale[r] + p;
        if (lane < TILE) {
          probs[r * TILE + lane] = p;
        }
      }
      workgroupBarrier();

      // o_r = o_r · rescale_r + Σ_t p_rt · v_t, over this invocation's dimension pair and share of the tokens.
      if (ownsPair) {
        for (var r = 0u; r < ROWS; r++) {
          acc[r] *= rescale[r];
        }
        for (var token = tokenGroup; token < tileLength; token += TOKEN_GROUPS) {
          let v = valuePair(rowBase[token], pairColumn);
          for (var r = 0u; r < ROWS; r++) {
            acc[r] += probs[r * TILE + token] * v;
          }
        }
      }
      workgroupBarrier();
    }

    // Finish the segment: gather l over all invocations and o over the token groups.
    let sums = reduceSumAcrossWorkgroup(sumPart, lane);
    if (ownsPair) {
      for (var r = 0u; r < ROWS; r++) {
        outputScratch[r * WORKGROUP + lane] = acc[r];
      }
    }
    workgroupBarrier();

    let wholeHead = tile == head.firstTile && segmentEnd == headEnd;
    let slot = range.w + select(1u, 0u, segment == 0u);
    if (lane < PAIRS) {
      for (var r = 0u; r < ROWS; r++) {
        var o = vec2<f32>(0.0);
        for (var group = 0u; group < TOKEN_GROUPS; group++) {
          o += outputScratch[r * WORKGROUP + group * PAIRS + lane];
        }
        if (wholeHead) {
          if (rowIsWritten(head, r)) {
            let outIndex = queryRowIndex(head, r) * HEAD_DIM + 2u * lane;
            out[outIndex] = o.x / sums[r];
            out[outIndex + 1u] = o.y / sums[r];
          }
        } else {
          // A row that saw no token of this segment leaves m = −∞ (NEG_BIG), l = 0, o = 0: it weighs 0 in the merge.
          let stateIndex = (slot * ROWS + r) * (HEAD_DIM + 2u);
          if (lane == 0u) {
            partials[stateIndex] = runningMax[r];
            partials[stateIndex + 1u] = sums[r];
          }
          partials[stateIndex + 2u + 2u * lane] = o.x;
          partials[stateIndex + 3u + 2u * lane] = o.y;
        }
      }
    }
    workgroupBarrier();

    tile = segmentEnd;
    headIndex += 1u;
    segment += 1u;
  }
}
