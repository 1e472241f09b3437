// Row reductions across the workgroup with subgroup operations, then across subgroups in a fixed order.
// Assumes subgroups are formed from consecutive local invocation indices, as on every Vulkan, Metal and D3D12
// implementation of full subgroups; the kernel tests run this path on SwiftShader (subgroup size 4).
const MAX_SUBGROUPS: u32 = WORKGROUP / 4u;
var<workgroup> subgroupResults: array<f32, ROWS * MAX_SUBGROUPS>;

fn reduceAcrossWorkgroup(values: array<f32, ROWS>, lane: u32, subgroupLane: u32, subgroupSize: u32, takeMax: bool) -> array<f32, ROWS> {
  let subgroupIndex = lane / subgroupSize;
  let subgroupCount = (WORKGROUP + subgroupSize - 1u) / subgroupSize;
  for (var r = 0u; r < ROWS; r++) {
    let reduced = select(subgroupAdd(values[r]), subgroupMax(values[r]), takeMax);
    if (subgroupLane == 0u) {
      subgroupResults[r * MAX_SUBGROUPS + subgroupIndex] = reduced;
    }
  }
  workgroupBarrier();
  var result: array<f32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    var total = subgroupResults[r * MAX_SUBGROUPS];
    for (var s = 1u; s < subgroupCount; s++) {
      let next = subgroupResults[r * MAX_SUBGROUPS + s];
      total = select(total + next, max(total, next), takeMax);
    }
    result[r] = total;
  }
  workgroupBarrier();
  return result;
}

fn reduceMaxAcrossWorkgroup(values: array<f32, ROWS>, lane: u32, subgroupLane: u32, subgroupSize: u32) -> array<f32, ROWS> {
  return reduceAcrossWorkgroup(values, lane, subgroupLane, subgroupSize, true);
}

fn reduceSumAcrossWorkgroup(values: array<f32, ROWS>, lane: u32, subgroupLane: u32, subgroupSize: u32) -> array<f32, ROWS> {
  return reduceAcrossWorkgroup(values, lane, subgroupLane, subgroupSize, false);
}
