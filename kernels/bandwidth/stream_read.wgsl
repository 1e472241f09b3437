// Streaming read: the adapter's achievable memory read bandwidth, the floor every decode kernel is measured against.
// Grid: any number of workgroups of WORKGROUP_SIZE; invocation i reads vec4 words i, i + stride, i + 2·stride, ...
// (grid-stride, so neighbouring invocations read neighbouring 16-byte words: fully coalesced), LOADS of them issued
// before the first is used: the bytes in flight are what bounds the rate (Little's law).
// Each workgroup writes the wrapping u32 sum of what it read, so the reads cannot be optimised away and the result
// can be checked on the CPU. Traffic: every byte of `words` read once.

override WORKGROUP_SIZE: u32 = 256;
const LOADS: u32 = {{LOADS}}u;

struct Params {
  vec4Count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> words: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> workgroupSums: array<u32>;

var<workgroup> partialSums: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
) {
  let stride = grid.x * WORKGROUP_SIZE;
  var acc = vec4<u32>(0u);
  for (var first = workgroupId.x * WORKGROUP_SIZE + lane; first < params.vec4Count; first += LOADS * stride) {
    var loaded: array<vec4<u32>, LOADS>;
    // unroll
    for (var u = 0u; u < LOADS; u++) {
      // Past the end a load re-reads the round's first word (in cache) and counts as zero.
      let word = first + u * stride;
      let inside = word < params.vec4Count;
      loaded[u] = select(vec4<u32>(0u), words[select(first, word, inside)], inside);
    }
    // unroll
    for (var u = 0u; u < LOADS; u++) {
      acc += loaded[u];
    }
  }
  partialSums[lane] = acc.x + acc.y + acc.z + acc.w;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partialSums[lane] += partialSums[lane + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    workgroupSums[workgroupId.x] = partialSums[0];
  }
}
