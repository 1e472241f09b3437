// RMSNorm: y[t] = x[t] / sqrt(mean(x[t]²) + eps) · weight, for each token row t.
// Grid: one workgroup per row (only the last row when lastRowOnly); invocations stride over the row.
// Traffic: x read twice (from cache the second time), y written once.

const WORKGROUP: u32 = 64u;

{{STEP}}

struct Shape {
  features: u32,
  eps: f32,
  lastRowOnly: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partialSums: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let row = select(workgroupId.x, step.lastRow, shape.lastRowOnly == 1u);
  let base = row * shape.features;
  var sum = 0.0;
  for (var i = lane; i < shape.features; i += WORKGROUP) {
    let value = x[base + i];
    sum += value * value;
  }
  partialSums[lane] = sum;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      partialSums[lane] += partialSums[lane + stride];
    }
    workgroupBarrier();
  }
  let inverseRms = inverseSqrt(partialSums[0] / f32(shape.features) + shape.eps);
  let outBase = select(base, 0u, shape.lastRowOnly == 1u);
  for (var i = lane; i < shape.features; i += WORKGROUP) {
    y[outBase + i] = x[base + i] * inverseRms * weight[i];
  }
}
