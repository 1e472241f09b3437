// Split decode attention over a paged KV cache: the one tile-walking kernel behind all three schedules.
//
// For a KV head of a sequence with context length N, attention is a reduction over its context tiles of TILE
// tokens. The host flattens every (sequence, KV head) of the batch into one list of tiles ("work heads" in order,
// each owning tiles [heads[h].firstTile, heads[h+1].firstTile)) and gives every workgroup one contiguous range of
// that list (workRanges). The schedule decides the ranges:
//   FA2-style:      one range per work head (a workgroup walks a whole head),
//   FlashDecoding:  a fixed number of ranges per work head,
//   LeanAttention:  the whole list cut into equal shares, one per workgroup of a grid sized to the GPU; a share
//                   may start or end inside a head and span several heads.
// Walking its range, a workgroup runs online softmax for the GROUP query heads that share the KV head (K and V
// are read once for all of them). At each head boundary it finishes the segment: a head it covered whole is
// normalised and written to `out` in place; otherwise its partial state (m, l, o) goes to a partial slot
// (slot 2w for the segment the range starts with, 2w + 1 for the one it ends with) for merge_partials.wgsl.
//
// Grid: one workgroup of WORKGROUP invocations per range. Per tile, invocation t < TILE owns token t for the
// scores; for P·V, invocation i owns the dimension pair c = i % PAIRS of tokens i / PAIRS, +TOKEN_GROUPS, ...
// Traffic: every K and V element of the batch read once from memory; q read once per segment.
{{ENABLE}}

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
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

struct Params {
  numKvHeads: u32,
  pageSize: u32,
  scale: f32,
}

struct WorkHead {
  firstTile: u32,
  seq: u32,
  kvHead: u32,
  length: u32,
  pageTableOffset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keys: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<u32>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read> heads: array<WorkHead>;
// (tileBegin, tileEnd, firstHead, first partial slot) per workgroup.
@group(0) @binding(6) var<storage, read> workRanges: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
// Per slot and query head: m, l, then HEAD_DIM values of o.
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

var<workgroup> queryTile: array<vec4<f32>, GROUP * QUADS>;
var<workgroup> keyTile: array<u32, TILE * K_ROW_STRIDE>;
var<workgroup> rowBase: array<u32, TILE>;
var<workgroup> probs: array<f32, GROUP * TILE>;
var<workgroup> outputScratch: array<vec2<f32>, GROUP * WORKGROUP>;

{{KV_ACCESS}}

{{REDUCE}}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
  {{SUBGROUP_BUILTINS}}
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
    let firstQueryRow = head.seq * params.numKvHeads * GROUP + head.kvHead * GROUP;

    // The GROUP query rows of this KV head, pre-scaled by 1/sqrt(d).
    for (var i = lane; i < GROUP * QUADS; i += WORKGROUP) {
      queryTile[i] = queries[firstQueryRow * QUADS + i] * params.scale;
    }

    var runningMax: array<f32, GROUP>;
    var sumPart: array<f32, GROUP>;
    var acc: array<vec2<f32>, GROUP>;
    for (var g = 0u; g < GROUP; g++) {
      runningMax[g] = NEG_BIG;
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

      // Scores: invocation t computes q_g · k_t for every query head g of the group.
      var scores: array<f32, GROUP>;
      for (var g = 0u; g < GROUP; g++) {
        scores[g] = NEG_BIG;
      }
      if (lane < tileLength) {
        for (var g = 0u; g < GROUP; g++) {
          scores[g] = 0.0;
        }
        for (var quad = 0u; quad < QUADS; quad++) {
          let k4 = stagedKeyQuad(lane * K_ROW_STRIDE, quad);
          for (var g = 0u; g < GROUP; g++) {
            scores[g] += dot(queryTile[g * QUADS + quad], k4);
          }
        }
      }

      // Online softmax: new running max, rescale factor for what came before, this tile's probabilities.
      let tileMax = reduceMaxAcrossWorkgroup(scores, lane{{SUBGROUP_ARGS}});
      var rescale: array<f32, GROUP>;
      for (var g = 0u; g < GROUP; g++) {
        let newMax = max(runningMax[g], tileMax[g]);
        rescale[g] = exp(runningMax[g] - newMax);
        runningMax[g] = newMax;
        let p = select(0.0, exp(scores[g] - newMax), lane < tileLength);
        sumPart[g] = sumPart[g] * rescale[g] + p;
        if (lane < TILE) {
          probs[g * TILE + lane] = p;
        }
      }
      workgroupBarrier();

      // o_g = o_g · rescale_g + Σ_t p_gt · v_t, over this invocation's dimension pair and share of the tokens.
      if (ownsPair) {
        for (var g = 0u; g < GROUP; g++) {
          acc[g] *= rescale[g];
        }
        for (var token = tokenGroup; token < tileLength; token += TOKEN_GROUPS) {
          let v = valuePair(rowBase[token], pairColumn);
          for (var g = 0u; g < GROUP; g++) {
            acc[g] += probs[g * TILE + token] * v;
          }
        }
      }
      workgroupBarrier();
    }

    // Finish the segment: gather l over all invocations and o over the token groups.
    let sums = reduceSumAcrossWorkgroup(sumPart, lane{{SUBGROUP_ARGS}});
    if (ownsPair) {
      for (var g = 0u; g < GROUP; g++) {
        outputScratch[g * WORKGROUP + lane] = acc[g];
      }
    }
    workgroupBarrier();

    let wholeHead = tile == head.firstTile && segmentEnd == headEnd;
    let slot = range.w + select(1u, 0u, segment == 0u);
    if (lane < PAIRS) {
      for (var g = 0u; g < GROUP; g++) {
        var o = vec2<f32>(0.0);
        for (var group = 0u; group < TOKEN_GROUPS; group++) {
          o += outputScratch[g * WORKGROUP + group * PAIRS + lane];
        }
        if (wholeHead) {
          let outIndex = (firstQueryRow + g) * HEAD_DIM + 2u * lane;
          out[outIndex] = o.x / sums[g];
          out[outIndex + 1u] = o.y / sums[g];
        } else {
          let stateIndex = (slot * GROUP + g) * (HEAD_DIM + 2u);
          if (lane == 0u) {
            partials[stateIndex] = runningMax[g];
            partials[stateIndex + 1u] = sums[g];
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
