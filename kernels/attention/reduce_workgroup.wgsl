// Row reductions across the workgroup through workgroup memory: the path for adapters without subgroups.
// Tree order is fixed, so results are bitwise reproducible.
var<workgroup> reduceScratch: array<f32, ROWS * WORKGROUP>;

fn reduceAcrossWorkgroup(values: array<f32, ROWS>, lane: u32, takeMax: bool) -> array<f32, ROWS> {
  for (var r = 0u; r < ROWS; r++) {
    reduceScratch[r * WORKGROUP + lane] = values[r];
  }
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      for (var r = 0u; r < ROWS; r++) {
        let mine = reduceScratch[r * WORKGROUP + lane];
        let other = reduceScratch[r * WORKGROUP + lane + stride];
        reduceScratch[r * WORKGROUP + lane] = select(mine + other, max(mine, other), takeMax);
      }
    }
    workgroupBarrier();
  }
  var result: array<f32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    result[r] = reduceScratch[r * WORKGROUP];
  }
  workgroupBarrier();
  return result;
}

fn reduceMaxAcrossWorkgroup(values: array<f32, ROWS>, lane: u32) -> array<f32, ROWS> {
  return reduceAcrossWorkgroup(values, lane, true);
}

fn reduceSumAcrossWorkgroup(values: array<f32, ROWS>, lane: u32) -> array<f32, ROWS> {
  return reduceAcrossWorkgroup(values, lane, false);
}
