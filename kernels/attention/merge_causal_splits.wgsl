// Merges the split states of a prefill chunk's causal attention (causal_chunk_attention.wgsl), split by split in
// order, so results are bitwise reproducible:
//   m = max_s m_s,   l = Σ_s l_s·exp(m_s − m),   o = Σ_s o_s·exp(m_s − m),   out = o / l.
// Grid: one invocation per (query row, quad of the head dimension), in workgroups of WORKGROUP.
// Traffic: every split state read once (its m and l once per quad, from cache).

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const GROUP: u32 = {{GROUP}}u;
const WORKGROUP: u32 = {{WORKGROUP}}u;
const QUADS: u32 = HEAD_DIM / 4u;
const NEG_BIG: f32 = -3.0e38;

{{CHUNK}}

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> partialOut: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> partialStats: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let rows = chunk.count * chunk.numKvHeads * GROUP;
  if (id.x >= rows * QUADS) {
    return;
  }
  let row = id.x / QUADS;
  let quad = id.x % QUADS;
  var m = NEG_BIG;
  for (var s = 0u; s < chunk.splits; s++) {
    m = max(m, partialStats[s * rows + row].x);
  }
  // A split that saw none of the row's keys holds m = −∞ (NEG_BIG), l = 0, o = 0: it weighs 0.
  var l = 0.0;
  var o = vec4<f32>(0.0);
  for (var s = 0u; s < chunk.splits; s++) {
    let slot = s * rows + row;
    let weight = exp(partialStats[slot].x - m);
    l += partialStats[slot].y * weight;
    o += partialOut[slot * QUADS + quad] * weight;
  }
  out[id.x] = o / l;
}
