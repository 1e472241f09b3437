// Merges the partial (m, l, o) states of every head that several workgroups shared, in the fixed order the
// planner listed them, so results are bitwise reproducible:
//   m = max_s m_s,   l = Σ_s l_s·exp(m_s − m),   o = Σ_s o_s·exp(m_s − m),   out = o / l.
// Grid: one workgroup per split head; invocation i owns output dimensions i, i + WORKGROUP, ... of each of the
// GROUP query heads. Traffic: each partial state read once; (#workgroups + #heads) states at most.

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const WORKGROUP: u32 = 64u;
const STATE_SIZE: u32 = HEAD_DIM + 2u;

// (work head, first entry in mergeSlots, end entry, unused) per split head. Work head h = seq · numKvHeads + kvHead
// owns query rows h · GROUP ... h · GROUP + GROUP − 1.
@group(0) @binding(0) var<storage, read> splitHeads: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> mergeSlots: array<u32>;
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let split = splitHeads[workgroupId.x];
  let firstOutputRow = split.x * GROUP;
  for (var g = 0u; g < GROUP; g++) {
    var m = -3.0e38;
    for (var entry = split.y; entry < split.z; entry++) {
      m = max(m, partials[(mergeSlots[entry] * GROUP + g) * STATE_SIZE]);
    }
    var l = 0.0;
    for (var entry = split.y; entry < split.z; entry++) {
      let state = (mergeSlots[entry] * GROUP + g) * STATE_SIZE;
      l += partials[state + 1u] * exp(partials[state] - m);
    }
    for (var d = lane; d < HEAD_DIM; d += WORKGROUP) {
      var o = 0.0;
      for (var entry = split.y; entry < split.z; entry++) {
        let state = (mergeSlots[entry] * GROUP + g) * STATE_SIZE;
        o += partials[state + 2u + d] * exp(partials[state] - m);
      }
      out[(firstOutputRow + g) * HEAD_DIM + d] = o / l;
    }
  }
}
