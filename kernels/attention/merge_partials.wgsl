// Merges the partial (m, l, o) states of every work head that several workgroups shared, in the fixed order the
// planner listed them, so results are bitwise reproducible:
//   m = max_s m_s,   l = Σ_s l_s·exp(m_s − m),   o = Σ_s o_s·exp(m_s − m),   out = o / l.
// Grid: one workgroup per (split head, row). Invocation (part, quad) owns output dimensions [4·quad, 4·quad + 4)
// and merges states part, part + PARTS, ... online, in batches of BATCH whose loads go out together, so a load's
// latency is paid once per batch; then part 0 merges the PARTS results in part order.
// Traffic: each partial state read once; (#workgroups + #heads) states at most.

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const QUERIES: u32 = {{QUERIES}}u;
const WORKGROUP: u32 = 256u;
const BATCH: u32 = {{BATCH}}u;
const QUADS: u32 = HEAD_DIM / 4u;
const PARTS: u32 = WORKGROUP / QUADS;
const STATE_SIZE: u32 = HEAD_DIM + 2u;
const NEG_BIG: f32 = -3.0e38;

{{WORK_HEADS}}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> heads: array<WorkHead>;
// (work head, its first partial slot, slot count, unused) per split head.
@group(0) @binding(2) var<storage, read> splitHeads: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Each part's merged state for every quad.
var<workgroup> partMax: array<f32, WORKGROUP>;
var<workgroup> partSum: array<f32, WORKGROUP>;
var<workgroup> partOut: array<vec4<f32>, WORKGROUP>;

// The slot of a split head's state `entry`: after the first range's, the first segment (slot 2w) of each following
// range w (plan.ts, mergeSlot). Computed, not looked up: one dependent load less before the partials.
fn mergeSlot(firstSlot: u32, entry: u32) -> u32 {
  return select(2u * ((firstSlot >> 1u) + entry), firstSlot, entry == 0u);
}

struct State {
  m: f32,
  l: f32,
  o: vec4<f32>,
}

// `state` with `batch` merged into it; a batch entry of m = −∞ (NEG_BIG) weighs 0.
fn mergeBatch(state: State, batch: array<State, BATCH>) -> State {
  var m = state.m;
  // unroll
  for (var b = 0u; b < BATCH; b++) {
    m = max(m, batch[b].m);
  }
  let rescale = exp(state.m - m);
  var merged = State(m, state.l * rescale, state.o * rescale);
  // unroll
  for (var b = 0u; b < BATCH; b++) {
    let weight = select(0.0, exp(batch[b].m - m), batch[b].m > NEG_BIG);
    merged.l += batch[b].l * weight;
    merged.o += batch[b].o * weight;
  }
  return merged;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let split = splitHeads[workgroupId.x / ROWS];
  let r = workgroupId.x % ROWS;
  // Needed only at the write: its load goes out beside the partials' instead of before them.
  let head = heads[split.x];
  let quad = lane % QUADS;
  let part = lane / QUADS;

  var state = State(NEG_BIG, 0.0, vec4<f32>(0.0));
  if (part < PARTS) {
    for (var entry = part; entry < split.z; entry += BATCH * PARTS) {
      var batch: array<State, BATCH>;
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        // Past the head's last state: re-read it (cached) with weight 0.
        let index = entry + b * PARTS;
        let base = (mergeSlot(split.y, min(index, split.z - 1u)) * ROWS + r) * STATE_SIZE;
        let first = base + 2u + 4u * quad;
        batch[b] = State(
          select(NEG_BIG, partials[base], index < split.z),
          partials[base + 1u],
          vec4<f32>(partials[first], partials[first + 1u], partials[first + 2u], partials[first + 3u]),
        );
      }
      state = mergeBatch(state, batch);
    }
  }
  partMax[lane] = state.m;
  partSum[lane] = state.l;
  partOut[lane] = state.o;
  workgroupBarrier();

  if (part == 0u) {
    var merged = State(NEG_BIG, 0.0, vec4<f32>(0.0));
    for (var firstPart = 0u; firstPart < PARTS; firstPart += BATCH) {
      var batch: array<State, BATCH>;
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        let source = min(firstPart + b, PARTS - 1u) * QUADS + quad;
        batch[b] = State(select(NEG_BIG, partMax[source], firstPart + b < PARTS), partSum[source], partOut[source]);
      }
      merged = mergeBatch(merged, batch);
    }
    if (rowIsWritten(head, r)) {
      let outIndex = queryRowIndex(head, r) * HEAD_DIM + 4u * quad;
      let normalized = merged.o / merged.l;
      for (var c = 0u; c < 4u; c++) {
        out[outIndex + c] = normalized[c];
      }
    }
  }
}
