// Row reductions across the workgroup with subgroup operations, then across subgroups in a fixed order.
// Assumes subgroups are formed from consecutive local invocation indices, as on every Vulkan, Metal and D3D12
// implementation of full subgroups; the kernel tests run this path on SwiftShader (subgroup size 4).
const MAX_SUBGROUPS: u32 = WORKGROUP / 4u;
var<workgroup> subgroupResults: array<f32, GROUP * MAX_SUBGROUPS>;

fn reduceAcrossWorkgroup(values: array<f32, GROUP>, lane: u32, subgroupLane: u32, subgroupSize: u32, takeMax: bool) -> array<f32, GROUP> {
  let subgroupIndex = lane / subgroupSize;
  let subgroupCount = (WORKGROUP + subgroupSize - 1u) / subgroupSize;
  for (var g = 0u; g < GROUP; g++) {
    let reduced = select(subgroupAdd(values[g]), subgroupMax(values[g]), takeMax);
    if (subgroupLane == 0u) {
      subgroupResults[g * MAX_SUBGROUPS + subgroupIndex] = reduced;
    }
  }
  workgroupBarrier();
  var result: array<f32, GROUP>;
  for (var g = 0u; g < GROUP; g++) {
    var total = subgroupResults[g * MAX_SUBGROUPS];
    for (var s = 1u; s < subgroupCount; s++) {
      let next = subgroupResults[g * MAX_SUBGROUPS + s];
      total = select(total + next, max(total, next), takeMax);
    }
    result[g] = total;
  }
  workgroupBarrier();
  return result;
}

fn reduceMaxAcrossWorkgroup(values: array<f32, GROUP>, lane: u32, subgroupLane: u32, subgroupSize: u32) -> array<f32, GROUP> {
  return reduceAcrossWorkgroup(values, lane, subgroupLane, subgroupSize, true);
}

fn reduceSumAcrossWorkgroup(values: array<f32, GROUP>, lane: u32, subgroupLane: u32, subgroupSize: u32) -> array<f32, GROUP> {
  return reduceAcrossWorkgroup(values, lane, subgroupLane, subgroupSize, false);
}
