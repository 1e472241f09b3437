// Linear layer: y[t][n] = Σ_k x[t][k] · W[n][k] (+ bias[n]) (+ y[t][n] when ACCUMULATE: a fused residual add).
// W is [N][K] row-major in its stored precision (WEIGHTS snippet), accumulated in f32.
// Grid: (ceil(N / ROWS), ceil(tokens / TOKENS)); a workgroup owns ROWS output features of TOKENS tokens.
// Invocation i reads octs (8 consecutive k) i, i + WORKGROUP, ... of each of its ROWS weight rows, so a
// workgroup reads contiguous row segments (coalesced); partial dots are summed across the workgroup.
// Traffic: W read once per TOKENS tokens; x rows read from cache.
{{ENABLE}}

const ROWS: u32 = {{ROWS}}u;
const TOKENS: u32 = {{TOKENS}}u;
const WORKGROUP: u32 = 64u;
const HAS_BIAS: bool = {{HAS_BIAS}};
const ACCUMULATE: bool = {{ACCUMULATE}};

{{STEP}}

struct Shape {
  inFeatures: u32,
  outFeatures: u32,
  // One row only (the LM head, whose input is the last token's row, normalised into row 0).
  lastRowOnly: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

{{WEIGHTS}}

{{REDUCE}}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
  {{SUBGROUP_BUILTINS}}
) {
  let firstRow = workgroupId.x * ROWS;
  let firstToken = workgroupId.y * TOKENS;
  let tokenCount = select(step.tokenCount, 1u, shape.lastRowOnly == 1u);
  let octsPerRow = shape.inFeatures / 8u;

  var acc: array<f32, ROWS * TOKENS>;
  for (var oct = lane; oct < octsPerRow; oct += WORKGROUP) {
    var xLow: array<vec4<f32>, TOKENS>;
    var xHigh: array<vec4<f32>, TOKENS>;
    for (var t = 0u; t < TOKENS; t++) {
      let token = min(firstToken + t, tokenCount - 1u);
      let xOct = token * octsPerRow + oct;
      xLow[t] = x[2u * xOct];
      xHigh[t] = x[2u * xOct + 1u];
    }
    for (var r = 0u; r < ROWS; r++) {
      let row = min(firstRow + r, shape.outFeatures - 1u);
      let w = loadOct(row * octsPerRow + oct);
      for (var t = 0u; t < TOKENS; t++) {
        acc[r * TOKENS + t] += dot(w.low, xLow[t]) + dot(w.high, xHigh[t]);
      }
    }
  }

  sumPartialDots(acc, lane{{SUBGROUP_ARGS}});

  if (lane < ROWS * TOKENS) {
    let r = lane / TOKENS;
    let t = lane % TOKENS;
    let row = firstRow + r;
    let token = firstToken + t;
    if (row < shape.outFeatures && token < tokenCount) {
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
