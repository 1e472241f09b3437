// Linear layer for decode (a GEMV per token): y[t][n] = Σ_k x[t][k] · W[n][k] (+ bias[n]) (+ y[t][n] when
// ACCUMULATE: a fused residual add). W is [N][K] row-major in its stored precision (WEIGHTS snippet), accumulated
// in f32. Prefill chunks use matmul.wgsl, which reads W once per tile of tokens.
// Grid: (ceil(N / ROWS), tokens); a workgroup owns ROWS output features of one token.
// Invocation i reads octs (8 consecutive k) i, i + WORKGROUP, ... of each of its ROWS weight rows, so a
// workgroup reads contiguous row segments (coalesced); partial dots are summed across the workgroup.
// Traffic: W read once per token; x read from cache.
{{ENABLE}}

const ROWS: u32 = {{ROWS}}u;
const WORKGROUP: u32 = 64u;
const HAS_BIAS: bool = {{HAS_BIAS}};
const ACCUMULATE: bool = {{ACCUMULATE}};

struct Shape {
  inFeatures: u32,
  outFeatures: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

{{WEIGHTS}}

{{REDUCE}}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
  {{SUBGROUP_BUILTINS}}
) {
  let firstRow = workgroupId.x * ROWS;
  let token = workgroupId.y;
  let octsPerRow = shape.inFeatures / 8u;

  var acc: array<f32, ROWS>;
  for (var oct = lane; oct < octsPerRow; oct += WORKGROUP) {
    let xOct = token * octsPerRow + oct;
    let xLow = x[2u * xOct];
    let xHigh = x[2u * xOct + 1u];
    // unroll
    for (var r = 0u; r < ROWS; r++) {
      let row = min(firstRow + r, shape.outFeatures - 1u);
      let w = loadOct(row * octsPerRow + oct);
      acc[r] += dot(w.low, xLow) + dot(w.high, xHigh);
    }
  }

  sumPartialDots(acc, lane{{SUBGROUP_ARGS}});

  if (lane < ROWS) {
    let row = firstRow + lane;
    if (row < shape.outFeatures) {
      var value = partialDots[lane];
      if (HAS_BIAS) {
        value += bias[row];
      }
      let outIndex = token * shape.outFeatures + row;
      if (ACCUMULATE) {
        value += y[outIndex];
      }
      y[outIndex] = value;
    }
  }
}
