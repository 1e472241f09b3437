// Merges the partial (m, l, o) states of every work head that several workgroups shared, in the fixed order the
// planner listed them, so results are bitwise reproducible:
//   m = max_s m_s,   l = Σ_s l_s·exp(m_s − m),   o = Σ_s o_s·exp(m_s − m),   out = o / l.
// Grid: one workgroup per split head; invocation i owns output dimensions i, i + WORKGROUP, ... of each of the
// head's rows. Traffic: each partial state read once; (#workgroups + #heads) states at most.

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const QUERIES: u32 = {{QUERIES}}u;
const WORKGROUP: u32 = 64u;
const STATE_SIZE: u32 = HEAD_DIM + 2u;

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
  for (var r = 0u; r < ROWS; r++) {
    if (!rowIsWritten(head, r)) {
      break;
    }
    var m = -3.0e38;
    for (var entry = split.y; entry < split.z; entry++) {
      m = max(m, partials[(mergeSlots[entry] * ROWS + r) * STATE_SIZE]);
    }
    var l = 0.0;
    for (var entry = split.y; entry < split.z; entry++) {
      let state = (mergeSlots[entry] * ROWS + r) * STATE_SIZE;
      l += partials[state + 1u] * exp(partials[state] - m);
    }
    for (var d = lane; d < HEAD_DIM; d += WORKGROUP) {
      var o = 0.0;
      for (var entry = split.y; entry < split.z; entry++) {
        let state = (mergeSlots[entry] * ROWS + r) * STATE_SIZE;
        o += partials[state + 2u + d] * exp(partials[state] - m);
      }
      out[queryRowIndex(head, r) * HEAD_DIM + d] = o / l;
    }
  }
}
