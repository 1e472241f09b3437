// The first of two sampling dispatches, for a large vocabulary: one workgroup alone cannot read it fast (its loads
// in flight are too few for the memory's latency), so workgroup c takes the WORKGROUP · BATCH tokens of chunk c,
// applies steps 0–1 of sample.wgsl to them, and writes the chunk's best token (largest scaled logit, first index
// among equals) to chunkBest[c]. sample.wgsl then starts from these instead of the logits. Greedy picks only: a
// draw rereads the scaled logits, which a greedy pick leaves unwritten, and runs sample.wgsl alone.

const WORKGROUP: u32 = {{WORKGROUP}}u;
const BATCH: u32 = {{BATCH}}u;
const CHUNK: u32 = WORKGROUP * BATCH;

{{SCALE}}

@group(0) @binding(0) var<uniform> sampling: Sampling;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> scaled: array<f32>;
@group(0) @binding(3) var<storage, read> seen: array<u32>;
// One bit per token, 32 to a word, bit set = allowed.
@group(0) @binding(4) var<storage, read> allowed: array<u32>;
// Per chunk: its best scaled logit's bits, and its index.
@group(0) @binding(5) var<storage, read_write> chunkBest: array<vec2<u32>>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let chunk = workgroupId.x;
  let mine = scaleBatch(chunk * CHUNK + lane, Best(-3.0e38, 0u));
  let best = bestAcrossWorkgroup(mine, lane);
  if (lane == 0u) {
    chunkBest[chunk] = vec2<u32>(bitcast<u32>(best.value), best.index);
  }
}
