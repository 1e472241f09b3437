// Row reductions across the workgroup through workgroup memory: the path for adapters without subgroups.
// Tree order is fixed, so results are bitwise reproducible.
var<workgroup> reduceScratch: array<f32, GROUP * WORKGROUP>;

fn reduceAcrossWorkgroup(values: array<f32, GROUP>, lane: u32, takeMax: bool) -> array<f32, GROUP> {
  for (var g = 0u; g < GROUP; g++) {
    reduceScratch[g * WORKGROUP + lane] = values[g];
  }
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      for (var g = 0u; g < GROUP; g++) {
        let mine = reduceScratch[g * WORKGROUP + lane];
        let other = reduceScratch[g * WORKGROUP + lane + stride];
        reduceScratch[g * WORKGROUP + lane] = select(mine + other, max(mine, other), takeMax);
      }
    }
    workgroupBarrier();
  }
  var result: array<f32, GROUP>;
  for (var g = 0u; g < GROUP; g++) {
    result[g] = reduceScratch[g * WORKGROUP];
  }
  workgroupBarrier();
  return result;
}

fn reduceMaxAcrossWorkgroup(values: array<f32, GROUP>, lane: u32) -> array<f32, GROUP> {
  return reduceAcrossWorkgroup(values, lane, true);
}

fn reduceSumAcrossWorkgroup(values: array<f32, GROUP>, lane: u32) -> array<f32, GROUP> {
  return reduceAcrossWorkgroup(values, lane, false);
}
