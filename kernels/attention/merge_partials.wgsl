// Merges the partial (m, l, o) states of every work head that several workgroups shared, in the fixed order the
// planner listed them, so results are bitwise reproducible:
//   m = max_s m_s,   l = Σ_s l_s·exp(m_s − m),   o = Σ_s o_s·exp(m_s − m),   out = o / l,
// computed online over the states in batches of BATCH (each batch's loads issued together, then merged), so the
// latency of a load is paid once per batch rather than once per state.
// Grid: one workgroup per split head; invocation i owns (row, 4 output dimensions) items i, i + WORKGROUP, ...
// Traffic: each partial state read once; (#workgroups + #heads) states at most.

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const QUERIES: u32 = {{QUERIES}}u;
const WORKGROUP: u32 = 64u;
const BATCH: u32 = {{BATCH}}u;
const QUADS: u32 = HEAD_DIM / 4u;
const STATE_SIZE: u32 = HEAD_DIM + 2u;
const NEG_BIG: f32 = -3.0e38;

{{WORK_HEADS}}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> heads: array<WorkHead>;
// (work head, first entry in mergeSlots, end entry, unused) per split head.
@group(0) @binding(2) var<storage, read> splitHeads: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> mergeSlots: array<u32>;
@group(0) @binding(4) var<storage, read> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let split = splitHeads[workgroupId.x];
  let head = heads[split.x];
  for (var item = lane; item < ROWS * QUADS; item += WORKGROUP) {
    let r = item / QUADS;
    let quad = item % QUADS;
    if (!rowIsWritten(head, r)) {
      continue;
    }
    var m = NEG_BIG;
    var l = 0.0;
    var o = vec4<f32>(0.0);
    for (var entry = split.y; entry < split.z; entry += BATCH) {
      var stateM: array<f32, BATCH>;
      var stateL: array<f32, BATCH>;
      var stateO: array<vec4<f32>, BATCH>;
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        // Past the head's last state: re-read it (cached) with weight 0.
        let state = (mergeSlots[min(entry + b, split.z - 1u)] * ROWS + r) * STATE_SIZE;
        stateM[b] = select(NEG_BIG, partials[state], entry + b < split.z);
        stateL[b] = partials[state + 1u];
        let first = state + 2u + 4u * quad;
        stateO[b] = vec4<f32>(partials[first], partials[first + 1u], partials[first + 2u], partials[first + 3u]);
      }
      var batchMax = m;
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        batchMax = max(batchMax, stateM[b]);
      }
      let rescale = exp(m - batchMax);
      l *= rescale;
      o *= rescale;
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        let weight = select(0.0, exp(stateM[b] - batchMax), stateM[b] > NEG_BIG);
        l += stateL[b] * weight;
        o += stateO[b] * weight;
      }
      m = batchMax;
    }
    let outIndex = queryRowIndex(head, r) * HEAD_DIM + 4u * quad;
    let normalized = o / l;
    for (var c = 0u; c < 4u; c++) {
      out[outIndex + c] = normalized[c];
    }
  }
}
