// Sums each of the first REDUCED partial sums over the workgroup into partialDots[i]: subgroupAdd within each
// subgroup, then the subgroups' sums in a fixed order (one barrier instead of a tree's log2(WORKGROUP)).
// Assumes subgroups are consecutive local invocation indices, at least SUBGROUP_MIN_SIZE wide.
const MAX_SUBGROUPS: u32 = WORKGROUP / {{SUBGROUP_MIN_SIZE}}u;
var<workgroup> subgroupSums: array<f32, REDUCED * MAX_SUBGROUPS>;
var<workgroup> partialDots: array<f32, SUMS>;

fn sumPartialDots(acc: array<f32, SUMS>, lane: u32, subgroupLane: u32, subgroupSize: u32) {
  let subgroupIndex = lane / subgroupSize;
  let subgroupCount = WORKGROUP / subgroupSize;
  // unroll
  for (var i = 0u; i < REDUCED; i++) {
    let sum = subgroupAdd(acc[i]);
    if (subgroupLane == 0u) {
      subgroupSums[i * MAX_SUBGROUPS + subgroupIndex] = sum;
    }
  }
  workgroupBarrier();
  if (lane < REDUCED) {
    var total = 0.0;
    for (var s = 0u; s < subgroupCount; s++) {
      total += subgroupSums[lane * MAX_SUBGROUPS + s];
    }
    partialDots[lane] = total;
  }
  workgroupBarrier();
}
