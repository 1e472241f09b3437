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
// read serves the whole GQA group (and in prefill, the whole causal block). q·k is summed over a row's LANES with
// subgroup shuffles (a row's lanes are consecutive invocations, inside one subgroup since LANES divides the
// subgroup size). At a head boundary the streams' states merge in stream order through workgroup memory, then the
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
const STREAMS: u32 = WORKGROUP / LANES;
const STEP: u32 = STREAMS * UNROLL;
const DIMS: u32 = HEAD_DIM / LANES;
const QUADS: u32 = HEAD_DIM / 4u;
const LANE_QUADS: u32 = DIMS / 4u;
// A stream's UNROLL tokens of a step lie in one page: one page-table read per step.
const ONE_PAGE_PER_STEP: bool = PAGE_SIZE % UNROLL == 0u;
const VECTORS: u32 = DIMS / DIMS_PER_VECTOR;
const ROW_VECTORS: u32 = HEAD_DIM / DIMS_PER_VECTOR;
// Stands for −∞: exp(NEG_BIG − m) is exactly 0 for any finite m, and arithmetic on it never makes a NaN.
const NEG_BIG: f32 = -3.0e38;

{{WORK_HEADS}}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> keys: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> values: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> pageTable: array<u32>;
@group(0) @binding(5) var<storage, read> heads: array<WorkHead>;
// (tileBegin, tileEnd, firstHead, first partial slot) per workgroup.
@group(0) @binding(6) var<storage, read> workRanges: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
// Per slot and row: m, l, then HEAD_DIM values of o.
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// Each stream's m and l per row, and one row's o of every stream, for the merge at the end of a segment.
var<workgroup> streamMax: array<f32, STREAMS * ROWS>;
var<workgroup> streamSum: array<f32, STREAMS * ROWS>;
var<workgroup> streamOut: array<vec4<f32>, STREAMS * QUADS>;

{{KV_ACCESS}}

// Σ over the LANES invocations of one K row (a butterfly: every lane ends with the total).
fn sumAcrossRow(partial: f32) -> f32 {
  var total = partial;
  for (var offset = LANES / 2u; offset > 0u; offset /= 2u) {
    total += subgroupShuffleXor(total, offset);
  }
  return total;
}

// The quad of the head dimension held as quad j of word w by lane `rowLane` of a row (words rowLane + w·LANES).
fn laneQuad(rowLane: u32, w: u32, j: u32) -> u32 {
  return (rowLane + w * LANES) * QUADS_PER_VECTOR + j;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let range = workRanges[workgroupId.x];
  let rangeEnd = range.y;
  let stream = lane / LANES;
  let rowLane = lane % LANES;

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

    // This lane's slice of the head's query rows, pre-scaled by 1/sqrt(d).
    var q: array<array<vec4<f32>, LANE_QUADS>, ROWS>;
    var acc: array<array<vec4<f32>, LANE_QUADS>, ROWS>;
    var runningMax: array<f32, ROWS>;
    var runningSum: array<f32, ROWS>;
    // unroll
    for (var r = 0u; r < ROWS; r++) {
      // unroll
      for (var w = 0u; w < VECTORS; w++) {
        // unroll
        for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
          q[r][w * QUADS_PER_VECTOR + j] = queries[queryRowIndex(head, r) * QUADS + laneQuad(rowLane, w, j)] * params.scale;
          acc[r][w * QUADS_PER_VECTOR + j] = vec4<f32>(0.0);
        }
      }
      runningMax[r] = NEG_BIG;
      runningSum[r] = 0.0;
    }

    for (var base = firstToken; base < endToken; base += STEP) {
      // Issue every load of the step before using any: UNROLL rows of K and of V, VECTORS words each.
      var token: array<u32, UNROLL>;
      var k: array<array<vec4<u32>, VECTORS>, UNROLL>;
      var v: array<array<vec4<u32>, VECTORS>, UNROLL>;
      // Past the segment a stream re-reads its last token (kept in cache) and masks it out below; that token is in
      // the same UNROLL-aligned block, so in the same page.
      let stepPage = pageTable[head.pageTableOffset + min(base + stream * UNROLL, endToken - 1u) / PAGE_SIZE];
      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        token[u] = base + stream * UNROLL + u;
        let read = min(token[u], endToken - 1u);
        var page = stepPage;
        if (!ONE_PAGE_PER_STEP) {
          page = pageTable[head.pageTableOffset + read / PAGE_SIZE];
        }
        let row = page * pageRows + kvHeadRow + read % PAGE_SIZE;
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          k[u][w] = keys[row * ROW_VECTORS + rowLane + w * LANES];
          v[u][w] = values[row * ROW_VECTORS + rowLane + w * LANES];
        }
      }

      // Scores q_r · k_u, summed over the row's lanes; −∞ outside the segment and outside row r's causal window.
      var scores: array<array<f32, ROWS>, UNROLL>;
      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        // Zeroed explicitly: a loop-local var kept its previous iteration's values on SwiftShader.
        var partial: array<f32, ROWS>;
        // unroll
        for (var r = 0u; r < ROWS; r++) {
          partial[r] = 0.0;
        }
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          let kQuads = vectorQuads(k[u][w]);
          // unroll
          for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
            // unroll
            for (var r = 0u; r < ROWS; r++) {
              partial[r] += dot(q[r][w * QUADS_PER_VECTOR + j], kQuads[j]);
            }
          }
        }
        // unroll
        for (var r = 0u; r < ROWS; r++) {
          let seen = token[u] < endToken && token[u] < visibleLength(head, r);
          scores[u][r] = select(NEG_BIG, sumAcrossRow(partial[r]), seen);
        }
      }

      // Online softmax per row: new running max, rescale what came before, add this step's tokens.
      // unroll
      for (var r = 0u; r < ROWS; r++) {
        var stepMax = scores[0][r];
        // unroll
        for (var u = 1u; u < UNROLL; u++) {
          stepMax = max(stepMax, scores[u][r]);
        }
        let newMax = max(runningMax[r], stepMax);
        let rescale = exp(runningMax[r] - newMax);
        runningMax[r] = newMax;
        runningSum[r] *= rescale;
        // unroll
        for (var i = 0u; i < LANE_QUADS; i++) {
          acc[r][i] *= rescale;
        }
        // unroll
        for (var u = 0u; u < UNROLL; u++) {
          let p = select(0.0, exp(scores[u][r] - newMax), scores[u][r] > NEG_BIG);
          runningSum[r] += p;
          // unroll
          for (var w = 0u; w < VECTORS; w++) {
            let vQuads = vectorQuads(v[u][w]);
            // unroll
            for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
              acc[r][w * QUADS_PER_VECTOR + j] += p * vQuads[j];
            }
          }
        }
      }
    }

    // Merge the streams in stream order: m = max_s m_s, l = Σ_s l_s·exp(m_s − m), o = Σ_s o_s·exp(m_s − m).
    if (rowLane == 0u) {
      // unroll
      for (var r = 0u; r < ROWS; r++) {
        streamMax[stream * ROWS + r] = runningMax[r];
        streamSum[stream * ROWS + r] = runningSum[r];
      }
    }
    workgroupBarrier();
    let wholeHead = tile == head.firstTile && segmentEnd == headEnd;
    let slot = range.w + select(1u, 0u, segment == 0u);
    // unroll
    for (var r = 0u; r < ROWS; r++) {
      var m = NEG_BIG;
      for (var s = 0u; s < STREAMS; s++) {
        m = max(m, streamMax[s * ROWS + r]);
      }
      var l = 0.0;
      for (var s = 0u; s < STREAMS; s++) {
        l += streamSum[s * ROWS + r] * exp(streamMax[s * ROWS + r] - m);
      }
      let weight = exp(runningMax[r] - m);
      // unroll
      for (var w = 0u; w < VECTORS; w++) {
        // unroll
        for (var j = 0u; j < QUADS_PER_VECTOR; j++) {
          streamOut[stream * QUADS + laneQuad(rowLane, w, j)] = acc[r][w * QUADS_PER_VECTOR + j] * weight;
        }
      }
      workgroupBarrier();
      if (lane < QUADS) {
        var o = vec4<f32>(0.0);
        for (var s = 0u; s < STREAMS; s++) {
          o += streamOut[s * QUADS + lane];
        }
        if (wholeHead) {
          if (rowIsWritten(head, r)) {
            let outIndex = queryRowIndex(head, r) * HEAD_DIM + 4u * lane;
            let normalized = o / l;
            for (var c = 0u; c < 4u; c++) {
              out[outIndex + c] = normalized[c];
            }
          }
        } else {
          // A row that saw no token of this segment leaves m = −∞ (NEG_BIG), l = 0, o = 0: it weighs 0 in the merge.
          let stateIndex = (slot * ROWS + r) * (HEAD_DIM + 2u);
          if (lane == 0u) {
            partials[stateIndex] = m;
            partials[stateIndex + 1u] = l;
          }
          for (var c = 0u; c < 4u; c++) {
            partials[stateIndex + 2u + 4u * lane + c] = o[c];
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
