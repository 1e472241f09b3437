// Split attention over a paged KV cache, streamed through registers: the kernel for adapters with subgroups.
// Same contract as staged_attention.wgsl (work heads, ranges, partial slots, the merge), built for bandwidth:
// K and V never pass through workgroup memory and nothing waits at a barrier until a segment ends.
//
// Layout of the work. LANES invocations share one K or V row, read as 16-byte words: lane i owns words
// i, i + LANES, ... (VECTORS of them), so each load instruction of a row's lanes reads LANES consecutive words.
// The WORKGROUP / LANES rows a workgroup reads at once are its STREAMS: stream s takes tokens
// base + s·UNROLL + u (u < UNROLL) of every step of STEP tokens, so a step issues UNROLL independent K loads and
// UNROLL V loads per invocation before the first use of any of them, and (when UNROLL divides the page size) its
// tokens share one page-table entry.
// Each stream keeps its own online-softmax state (m, l, o) for all ROWS query rows of the work head: one K and V
// read serves the whole GQA group (and in prefill, the whole causal block). A row's lanes are consecutive
// invocations inside one subgroup (LANES divides the subgroup size). q·k is summed over them by a reduce-scatter:
// each shuffle level halves the rows a lane holds, so that a lane ends with the whole scores of its own rows
// (LANE_ROWS of them) and keeps their running max and sum alone. The softmax is not repeated on every lane: each
// lane takes the weights of the rows it does not own from their owners by a shuffle, and every lane keeps o for
// all rows over its own dimensions. The scatter's levels pair the nearest lanes first, so that where at most 4 lanes
// hold distinct rows every quad of lanes owns every row and the weights come by quad broadcasts. At a head boundary
// the streams' states merge, those of a subgroup by shuffles, then the subgroups' through workgroup memory, and the
// head is written whole to `out` or its partial state to a slot for merge_partials.wgsl. Loops over the register
// arrays (rows, unrolled tokens, a lane's vectors) are marked `// unroll`: the builder unrolls them (unroll.ts).
// Traffic: every K and V element of a work head read once from memory; q read once per segment.
enable subgroups;

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const QUERIES: u32 = {{QUERIES}}u;
const TILE: u32 = {{TILE}}u;
const WORKGROUP: u32 = {{WORKGROUP}}u;
const LANES: u32 = {{LANES}}u;
const UNROLL: u32 = {{UNROLL}}u;
// Tokens per KV page, a constant so that page and slot of a token cost a shift and a mask (power-of-two pages).
const PAGE_SIZE: u32 = {{PAGE_SIZE}}u;
// ROWS rounded up to a power of two, for the halving of the reduce-scatter (the rows past ROWS score −∞).
const PADDED_ROWS: u32 = {{PADDED_ROWS}}u;
// Rows each lane owns once the reduce-scatter is done, the shuffle levels that halve the rows held, and the
// butterfly levels after them that sum an owned row's shares across the lanes that own it.
const LANE_ROWS: u32 = max(1u, PADDED_ROWS / LANES);
// The lanes among which the reduce-scatter spreads the rows: lanes whose rowLane agree modulo SCATTER_LANES own the
// same rows.
const SCATTER_LANES: u32 = min(PADDED_ROWS, LANES);
// Every quad of a row's lanes owns every row, row r at quad lane rowOwner(r): the weights come by quad broadcasts,
// which Tint does not guard as it guards every subgroupShuffle.
const QUAD_OWNERS: bool = SCATTER_LANES <= 4u && LANES >= 4u;
const SCATTER_LEVELS: u32 = {{SCATTER_LEVELS}}u;
const BUTTERFLY_LEVELS: u32 = {{BUTTERFLY_LEVELS}}u;
const HALF_ROWS: u32 = PADDED_ROWS / 2u;
// With a power-of-two row count each lane holds its rows' q and scores in its own order (rowSlot), so that the
// reduce-scatter never selects; padding rows have no q to hold, so other counts keep the rows in order and select.
const ROWS_PERMUTED: bool = ROWS == PADDED_ROWS;
const STREAMS: u32 = WORKGROUP / LANES;
const STEP: u32 = STREAMS * UNROLL;
const DIMS: u32 = HEAD_DIM / LANES;
const QUADS: u32 = HEAD_DIM / 4u;
const LANE_QUADS: u32 = DIMS / 4u;
// A stream's UNROLL tokens of a step lie in one page: one page-table read per step.
const ONE_PAGE_PER_STEP: bool = PAGE_SIZE % UNROLL == 0u;
const VECTORS: u32 = DIMS / DIMS_PER_VECTOR;
const ROW_VECTORS: u32 = HEAD_DIM / DIMS_PER_VECTOR;
// Stands for −∞: exp2(NEG_BIG − m) is exactly 0 for any finite m, and arithmetic on it never makes a NaN.
const NEG_BIG: f32 = -3.0e38;
// Scores are kept in base-2 units (q pre-scaled by log2 e), so each exponential is the hardware's 2^x alone, where
// exp(x) costs a multiply by log2 e before it; m goes back to natural units where a partial state leaves.
const LOG2_E: f32 = 1.4426950408889634;
const LN_2: f32 = 0.6931471805599453;
// The end-of-segment merge: subgroups a workgroup has at most (of the adapter's smallest size, and at least one
// K row), and query rows merged per barrier pair, as many as workgroup memory holds.
const MAX_SUBGROUPS: u32 = {{MAX_SUBGROUPS}}u;
const MERGE_ROWS: u32 = {{MERGE_ROWS}}u;
const MERGE_ROUNDS: u32 = ROWS / MERGE_ROWS;
// Levels of the streams' merge inside a subgroup, one per stream bit of a workgroup (the subgroup's width decides
// how many run), and the first of them that also halve the quads of o a lane holds, as far as those halve evenly.
const STREAM_LEVELS: u32 = {{STREAM_LEVELS}}u;
const QUAD_LEVELS: u32 = {{QUAD_LEVELS}}u;
const HALF_QUADS: u32 = LANE_QUADS / 2u;
const HELD_QUADS: u32 = LANE_QUADS >> QUAD_LEVELS;

{{WORK_HEADS}}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
// K and V by rows: Dawn's robustness clamps each index of an access, so that a row's index is clamped once a token
// and a lane's words (rowLane + w·LANES, below ROW_VECTORS) are not clamped at all, where a flat index was clamped
// before every load.
@group(0) @binding(2) var<storage, read> keys: array<array<vec4<u32>, ROW_VECTORS>>;
@group(0) @binding(3) var<storage, read> values: array<array<vec4<u32>, ROW_VECTORS>>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read> heads: array<WorkHead>;
// (tileBegin, tileEnd, firstHead, first partial slot) per workgroup.
@group(0) @binding(6) var<storage, read> workRanges: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
// Per slot and row: m, l, then HEAD_DIM values of o.
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// Each subgroup's m and l per row, and its o of MERGE_ROWS rows, for the merge at the end of a segment.
var<workgroup> subgroupMax: array<f32, MAX_SUBGROUPS * ROWS>;
var<workgroup> subgroupSum: array<f32, MAX_SUBGROUPS * ROWS>;
var<workgroup> subgroupOut: array<vec4<f32>, MAX_SUBGROUPS * MERGE_ROWS * QUADS>;

{{KV_ACCESS}}

// The first row lane `rowLane` owns after the reduce-scatter (rows ownRow .. ownRow + LANE_ROWS − 1).
fn ownRow(rowLane: u32) -> u32 {
  return rowLane % SCATTER_LANES * LANE_ROWS;
}

// Where row r's q and score sit in the arrays of lane `rowLane`: slot r XOR ownRow(rowLane) where ROWS_PERMUTED
// (an involution: the slot's row is found the same way), slot r otherwise.
fn rowSlot(r: u32, rowLane: u32) -> u32 {
  if (ROWS_PERMUTED) {
    return r ^ ownRow(rowLane);
  }
  return r;
}

// x from the lane whose subgroup index differs from this one's in the bits of `mask`: a quad swap for masks 1 and 2,
// which Tint does not guard as it guards every subgroupShuffleXor (a check that the lane read exists, and a select).
fn swapLanes(x: f32, mask: u32) -> f32 {
  if (mask == 1u) {
    return quadSwapX(x);
  }
  if (mask == 2u) {
    return quadSwapY(x);
  }
  return subgroupShuffleXor(x, mask);
}

// Sums q·k over a row's LANES invocations, first part: `held` comes in with this lane's share of every row's score,
// in slot order, and leaves with its share of the lane's own rows, ownRow(rowLane) + j, in held[j] (j < LANE_ROWS).
// Level ℓ pairs lanes whose rowLane differs in bit SCATTER_LANES / 2^(ℓ+1) (ownRow's bit PADDED_ROWS / 2^(ℓ+1));
// each keeps half of the rows it holds (the upper half if its bit is set) and adds its partner's share of them. In
// permuted slots the kept rows are always slots [0, half) and the partner's share of them its slots [half, 2·half).
// The butterflies that sum those shares whole across the lanes that share a row (rowLane bits SCATTER_LANES and up)
// follow in the token loop.
fn reduceScatterScores(held: ptr<function, array<f32, PADDED_ROWS>>, rowLane: u32) {
  // unroll
  for (var level = 0u; level < SCATTER_LEVELS; level++) {
    const partner = SCATTER_LANES >> (level + 1u);
    const half = PADDED_ROWS >> (level + 1u);
    // unroll
    for (var j = 0u; j < HALF_ROWS; j++) {
      if (j < half) {
        if (ROWS_PERMUTED) {
          (*held)[j] += swapLanes((*held)[j + half], partner);
        } else {
          let upper = (rowLane & partner) != 0u;
          let kept = select((*held)[j], (*held)[j + half], upper);
          let given = select((*held)[j + half], (*held)[j], upper);
          (*held)[j] = kept + swapLanes(given, partner);
        }
      }
    }
  }
}

// The lane of a K row that owns row r (the first of them where fewer rows than lanes leave several owners).
fn rowOwner(r: u32) -> u32 {
  return r / LANE_ROWS;
}

// Row r's value, taken from the lane that owns r: `owned` is this lane's value at index r % LANE_ROWS.
fn fromRowOwner(owned: f32, r: u32, rowStart: u32) -> f32 {
  if (LANE_ROWS == PADDED_ROWS) {
    return owned;
  }
  if (QUAD_OWNERS) {
    // quadBroadcast takes a constant lane.
    let owner = rowOwner(r);
    if (owner == 0u) {
      return quadBroadcast(owned, 0u);
    }
    if (owner == 1u) {
      return quadBroadcast(owned, 1u);
    }
    if (owner == 2u) {
      return quadBroadcast(owned, 2u);
    }
    return quadBroadcast(owned, 3u);
  }
  return subgroupShuffle(owned, rowStart + rowOwner(r));
}

// acc + a·b as one fused multiply-add per product: `acc + dot(a, b)` costs a multiply and an add more (the add
// cannot join the dot's chain without reassociating it).
fn addDot(acc: f32, a: vec4<f32>, b: vec4<f32>) -> f32 {
  return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, acc))));
}

// The quad of the head dimension held as quad j of word w by lane `rowLane` of a row (words rowLane + w·LANES).
fn laneQuad(rowLane: u32, w: u32, j: u32) -> u32 {
  return (rowLane + w * LANES) * QUADS_PER_VECTOR + j;
}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(subgroup_invocation_id) subgroupLane: u32,
  @builtin(subgroup_size) subgroupSize: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
) {
  let range = workRanges[workgroupId.x];
  let rangeEnd = range.y;
  let stream = lane / LANES;
  let rowLane = lane % LANES;
  // This K row's first lane in the subgroup, for shuffles from a row's owner.
  let rowStart = subgroupLane - rowLane;

  var tile = range.x;
  var headIndex = range.z;
  var segment = 0u;
  while (tile < rangeEnd) {
    let head = heads[headIndex];
    let headEnd = heads[headIndex + 1u].firstTile;
    let segmentEnd = min(rangeEnd, headEnd);
    let firstToken = (tile - head.firstTile) * TILE;
    let endToken = min((segmentEnd - head.firstTile) * TILE, head.length);
    // Where the head's K and V rows start in the pool, less the page: row of (page, slot) = pageRow + slot.
    let kvHeadRow = head.kvHead * PAGE_SIZE;
    let pageRows = params.numKvHeads * PAGE_SIZE;

    // This lane's slice of the head's query rows, pre-scaled by log2(e)/sqrt(d), in slot order; o in row order.
    var q: array<array<vec4<f32>, LANE_QUADS>, ROWS>;
    var acc: array<array<vec4<f32>, LANE_QUADS>, ROWS>;
    // The online softmax's running max and sum of this lane's own rows.
    var runningMax: array<f32, LANE_ROWS>;
    var runningSum: array<f32, LANE_ROWS>;
    // unroll
    for (var r = 0u; r < ROWS; r++) {
      // unroll
      for (var w = 0u; w < VECTORS; w++) {
        // unroll
        for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
          q[r][w * QUADS_PER_VECTOR + j] = queries[queryRowIndex(head, rowSlot(r, rowLane)) * QUADS + laneQuad(rowLane, w, j)] * (params.scale * LOG2_E);
          acc[r][w * QUADS_PER_VECTOR + j] = vec4<f32>(0.0);
        }
      }
    }
    // The tokens an own row sees in this segment: [firstToken, rowEnd); none for the padding rows past ROWS.
    var rowEnd: array<u32, LANE_ROWS>;
    // unroll
    for (var j = 0u; j < LANE_ROWS; j++) {
      runningMax[j] = NEG_BIG;
      runningSum[j] = 0.0;
      let r = ownRow(rowLane) + j;
      rowEnd[j] = select(0u, min(endToken, visibleLength(head, r)), r < ROWS);
    }

    // The page of this stream's tokens of the next step, read a step ahead so that the step's K and V loads do not
    // wait for it. Past the segment a stream re-reads its last token (kept in cache) and masks it out below; that
    // token is in the same UNROLL-aligned block, so in the same page.
    var nextPage = pageTable[head.pageTableOffset + min(firstToken + stream * UNROLL, endToken - 1u) / PAGE_SIZE];
    for (var base = firstToken; base < endToken; base += STEP) {
      // Issue every load of the step before using any: UNROLL rows of K, then of V (the scores need K alone, so they
      // start while V is still arriving), VECTORS words each.
      var token: array<u32, UNROLL>;
      var k: array<array<vec4<u32>, VECTORS>, UNROLL>;
      var v: array<array<vec4<u32>, VECTORS>, UNROLL>;
      // Each token's row in `keys` and `values`.
      var kvRow: array<u32, UNROLL>;
      let stepPage = nextPage;
      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        token[u] = base + stream * UNROLL + u;
        let read = min(token[u], endToken - 1u);
        var page = stepPage;
        if (!ONE_PAGE_PER_STEP) {
          page = pageTable[head.pageTableOffset + read / PAGE_SIZE];
        }
        let row = page * pageRows + kvHeadRow + read % PAGE_SIZE;
        kvRow[u] = row;
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          k[u][w] = keys[row][rowLane + w * LANES];
        }
      }
      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          v[u][w] = values[kvRow[u]][rowLane + w * LANES];
        }
      }
      // Read in a loop that runs once, as a fence: NVIDIA's scheduler sinks loads towards their first use but not past
      // a loop (Tint guards this one with an iteration counter, so the driver cannot fold it), and with none before the
      // scores it moved the V loads below them, 2–3% slower from 64k on the H100 (docs/h200/2026-12-05-e).
      for (var fence = 1u; fence > 0u; fence /= 2u) {
        nextPage = pageTable[head.pageTableOffset + min(base + STEP + stream * UNROLL, endToken - 1u) / PAGE_SIZE];
      }

      // Scores of this lane's own rows, q_r · k_u summed over the row's lanes; −∞ outside the segment, past ROWS and
      // outside row r's causal window.
      var partial: array<array<f32, PADDED_ROWS>, UNROLL>;
      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        // Zeroed explicitly: a loop-local var kept its previous iteration's values on SwiftShader.
        // unroll
        for (var r = 0u; r < PADDED_ROWS; r++) {
          partial[u][r] = 0.0;
        }
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          let kQuads = vectorQuads(k[u][w]);
          // unroll
          for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
            // unroll
            for (var slot = 0u; slot < ROWS; slot++) {
              partial[u][slot] = addDot(partial[u][slot], q[slot][w * QUADS_PER_VECTOR + j], kQuads[j]);
            }
          }
        }
        reduceScatterScores(&partial[u], rowLane);
      }
      // The butterflies, every token's after all the scatter levels, in one block of straight-line code for the
      // scheduler to interleave. Unrolled, they no longer keep the V loads at the top of the step: the fence above
      // does (docs/h200/2026-12-05-f).
      // unroll
      for (var level = 0u; level < BUTTERFLY_LEVELS; level++) {
        // unroll
        for (var u = 0u; u < UNROLL; u++) {
          // unroll
          for (var j = 0u; j < LANE_ROWS; j++) {
            partial[u][j] += swapLanes(partial[u][j], SCATTER_LANES << level);
          }
        }
      }
      var scores: array<array<f32, LANE_ROWS>, UNROLL>;
      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        // unroll
        for (var j = 0u; j < LANE_ROWS; j++) {
          scores[u][j] = select(NEG_BIG, partial[u][j], token[u] < rowEnd[j]);
        }
      }

      // Online softmax of the own rows: new running max, the factor that rescales what came before, the weights p of
      // this step's tokens.
      var rescale: array<f32, LANE_ROWS>;
      var weights: array<array<f32, LANE_ROWS>, UNROLL>;
      // unroll
      for (var j = 0u; j < LANE_ROWS; j++) {
        var stepMax = scores[0][j];
        // unroll
        for (var u = 1u; u < UNROLL; u++) {
          stepMax = max(stepMax, scores[u][j]);
        }
        let newMax = max(runningMax[j], stepMax);
        rescale[j] = exp2(runningMax[j] - newMax);
        runningMax[j] = newMax;
        runningSum[j] *= rescale[j];
        // unroll
        for (var u = 0u; u < UNROLL; u++) {
          weights[u][j] = select(0.0, exp2(scores[u][j] - newMax), token[u] < rowEnd[j]);
          runningSum[j] += weights[u][j];
        }
      }
      // Every row's o, on every lane: rescaled, then the weighted V rows added.
      // unroll
      for (var r = 0u; r < ROWS; r++) {
        let rowRescale = fromRowOwner(rescale[r % LANE_ROWS], r, rowStart);
        // unroll
        for (var i = 0u; i < LANE_QUADS; i++) {
          acc[r][i] *= rowRescale;
        }
        // unroll
        for (var u = 0u; u < UNROLL; u++) {
          let p = fromRowOwner(weights[u][r % LANE_ROWS], r, rowStart);
          // unroll
          for (var w = 0u; w < VECTORS; w++) {
            let vQuads = vectorQuads(v[u][w]);
            // unroll
            for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
              acc[r][w * QUADS_PER_VECTOR + j] = fma(vec4<f32>(p), vQuads[j], acc[r][w * QUADS_PER_VECTOR + j]);
            }
          }
        }
      }
    }

    // Merge the streams: m = max_s m_s, l = Σ_s l_s·2^(m_s − m), o = Σ_s o_s·2^(m_s − m). First the streams of
    // each subgroup in registers, level by level over the stream bits of the subgroup lane (partners hold the same
    // dimensions and own the same rows; the levels past the subgroup's width do not run). m and l end whole on every
    // lane. The first QUAD_LEVELS levels also halve the quads of o a lane holds: each partner keeps half of them (the
    // upper half, moved to its first slots, if its stream bit is set) and adds its partner's share of that half, so
    // that each level moves half the values of the one before; the later levels leave both partners the whole sum.
    // Then the subgroups' states through workgroup memory in subgroup order, MERGE_ROWS rows per barrier pair. The
    // subgroups are taken to be consecutive invocations, as a row's lanes are.
    let streamWidth = min(subgroupSize, WORKGROUP);
    // unroll
    for (var level = 0u; level < STREAM_LEVELS; level++) {
      let offset = LANES << level;
      if (offset < streamWidth) {
        // The factors of this stream's state and of its partner's in their merge, for this lane's own rows.
        var keep: array<f32, LANE_ROWS>;
        var take: array<f32, LANE_ROWS>;
        // unroll
        for (var j = 0u; j < LANE_ROWS; j++) {
          let partnerMax = subgroupShuffleXor(runningMax[j], offset);
          let partnerSum = subgroupShuffleXor(runningSum[j], offset);
          let m = max(runningMax[j], partnerMax);
          keep[j] = exp2(runningMax[j] - m);
          take[j] = exp2(partnerMax - m);
          runningMax[j] = m;
          runningSum[j] = runningSum[j] * keep[j] + partnerSum * take[j];
        }
        let upper = (subgroupLane & offset) != 0u;
        // unroll
        for (var r = 0u; r < ROWS; r++) {
          let rowKeep = fromRowOwner(keep[r % LANE_ROWS], r, rowStart);
          let rowTake = fromRowOwner(take[r % LANE_ROWS], r, rowStart);
          if (level < QUAD_LEVELS) {
            let half = LANE_QUADS >> (level + 1u);
            // unroll
            for (var i = 0u; i < HALF_QUADS; i++) {
              if (i < half) {
                let kept = select(acc[r][i], acc[r][i + half], upper);
                let given = select(acc[r][i + half], acc[r][i], upper);
                acc[r][i] = kept * rowKeep + subgroupShuffleXor(given, offset) * rowTake;
              }
            }
          } else {
            // unroll
            for (var i = 0u; i < HELD_QUADS; i++) {
              acc[r][i] = acc[r][i] * rowKeep + subgroupShuffleXor(acc[r][i], offset) * rowTake;
            }
          }
        }
      }
    }

    // The quads of o this lane holds now: heldQuads slots from lane quad firstQuad (the upper half at each quad level
    // whose stream bit is set). The streams whose bits past the quad levels are 0 hand them on (the others hold
    // copies), the first stream of each subgroup hands on m and l; one invocation per (row, quad) merges the
    // subgroups'.
    let streamInSubgroup = subgroupLane / LANES;
    let quadLevelsRun = min(countTrailingZeros(streamWidth / LANES), QUAD_LEVELS);
    let heldQuads = LANE_QUADS >> quadLevelsRun;
    var firstQuad = 0u;
    for (var level = 0u; level < quadLevelsRun; level++) {
      if ((streamInSubgroup & (1u << level)) != 0u) {
        firstQuad += LANE_QUADS >> (level + 1u);
      }
    }
    let handsOnQuads = (streamInSubgroup >> quadLevelsRun) == 0u;
    let subgroups = max(1u, WORKGROUP / subgroupSize);
    let subgroupIndex = lane / subgroupSize;
    let handsOn = subgroupLane < LANES;
    if (handsOn) {
      // unroll
      for (var j = 0u; j < LANE_ROWS; j++) {
        let r = ownRow(rowLane) + j;
        if (r < ROWS && rowOwner(r) == rowLane) {
          subgroupMax[subgroupIndex * ROWS + r] = runningMax[j];
          subgroupSum[subgroupIndex * ROWS + r] = runningSum[j];
        }
      }
    }
    let wholeHead = tile == head.firstTile && segmentEnd == headEnd;
    let slot = range.w + select(1u, 0u, segment == 0u);
    // unroll
    for (var round = 0u; round < MERGE_ROUNDS; round++) {
      if (handsOnQuads) {
        // unroll
        for (var i = 0u; i < MERGE_ROWS; i++) {
          // unroll
          for (var held = 0u; held < LANE_QUADS; held++) {
            if (held < heldQuads) {
              let quad = firstQuad + held;
              subgroupOut[(subgroupIndex * MERGE_ROWS + i) * QUADS + laneQuad(rowLane, quad / QUADS_PER_VECTOR, quad % QUADS_PER_VECTOR)] =
                acc[round * MERGE_ROWS + i][held];
            }
          }
        }
      }
      workgroupBarrier();
      for (var item = lane; item < MERGE_ROWS * QUADS; item += WORKGROUP) {
        let i = item / QUADS;
        let quad = item % QUADS;
        let r = round * MERGE_ROWS + i;
        var m = NEG_BIG;
        for (var s = 0u; s < subgroups; s++) {
          m = max(m, subgroupMax[s * ROWS + r]);
        }
        var l = 0.0;
        var o = vec4<f32>(0.0);
        for (var s = 0u; s < subgroups; s++) {
          let weight = exp2(subgroupMax[s * ROWS + r] - m);
          l += subgroupSum[s * ROWS + r] * weight;
          o += subgroupOut[(s * MERGE_ROWS + i) * QUADS + quad] * weight;
        }
        if (wholeHead) {
          if (rowIsWritten(head, r)) {
            let outIndex = queryRowIndex(head, r) * HEAD_DIM + 4u * quad;
            let normalized = o / l;
            for (var c = 0u; c < 4u; c++) {
              out[outIndex + c] = normalized[c];
            }
          }
        } else {
          // A row that saw no token of this segment leaves l = 0 and o = 0 (m = NEG_BIG·ln 2): it adds nothing in the
          // merge.
          let stateIndex = (slot * ROWS + r) * (HEAD_DIM + 2u);
          if (quad == 0u) {
            partials[stateIndex] = m * LN_2;
            partials[stateIndex + 1u] = l;
          }
          for (var c = 0u; c < 4u; c++) {
            partials[stateIndex + 2u + 4u * quad + c] = o[c];
          }
        }
      }
      // Before workgroup memory is written again (the next round, or the next segment's merge).
      workgroupBarrier();
    }

    tile = segmentEnd;
    headIndex += 1u;
    segment += 1u;
  }
}
