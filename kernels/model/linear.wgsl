// Linear layer for decode (a GEMV per token): y[t][n] = Σ_k x[t][k] · W[n][k] (+ bias[n]) (+ y[t][n] when
// ACCUMULATE: a fused residual add). With GATED, W is [gate; up] (2 · OUT_FEATURES rows) and
// y[t][n] = silu(g) · u, where g and u are the dots of x[t] with rows n and OUT_FEATURES + n: SwiGLU in the epilogue.
// With NORMED, x is first RMS-normalized: x[t] / sqrt(mean(x[t]²) + EPS) · normWeight. The weight multiplies x as it
// is read; the sum of squares accumulates beside the dots and is reduced with them, so the 1 / rms factor scales the
// finished dots and the norm costs no pass of its own.
// W is row-major in its stored precision (WEIGHTS snippet), accumulated in f32. The EPILOGUE snippet finishes and
// writes the rows: linear_store.wgsl (y as above) or, for decode's q/k/v projection, linear_rope_kv.wgsl (rotary
// embedding, then q to y and k, v to the paged KV cache).
// Grid: (ceil(OUT_FEATURES / ROWS), tokens); a workgroup owns ROWS output features of one token.
// Invocation i reads octs (8 consecutive k, one 16-byte load of halves) i, i + WORKGROUP, ... of each of its weight
// rows, so the workgroup reads contiguous row segments. The shape is compile-time and the loops over a batch of
// BATCH_STEPS octs and over the rows are unrolled: every weight load of a batch is issued before the first is used.
{{ENABLE}}

const ROWS: u32 = {{ROWS}}u;
const WORKGROUP: u32 = {{WORKGROUP}}u;
const IN_FEATURES: u32 = {{IN_FEATURES}}u;
const OUT_FEATURES: u32 = {{OUT_FEATURES}}u;
const HAS_BIAS: bool = {{HAS_BIAS}};
const ACCUMULATE: bool = {{ACCUMULATE}};
const GATED: bool = {{GATED}};
const NORMED: bool = {{NORMED}};
const EPS: f32 = {{EPS}};
// Weight rows each output feature reads: 2 when GATED (gate and up).
const MATRICES: u32 = {{MATRICES}}u;
// Partial sums each invocation keeps: ROWS dots per matrix, then x's sum of squares (used only when NORMED).
const DOTS: u32 = ROWS * MATRICES;
const SUMS: u32 = DOTS + 1u;
// The partial sums reduced over the workgroup.
const REDUCED: u32 = select(DOTS, SUMS, NORMED);
const OCTS_PER_ROW: u32 = IN_FEATURES / 8u;
const BATCH_STEPS: u32 = {{BATCH_STEPS}}u;
const BATCH_OCTS: u32 = BATCH_STEPS * WORKGROUP;
const BATCHES: u32 = (OCTS_PER_ROW + BATCH_OCTS - 1u) / BATCH_OCTS;
// Whether every oct a batch visits exists, so that no load needs a guard.
const EXACT: bool = OCTS_PER_ROW % BATCH_OCTS == 0u;

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// Without NORMED, x stands in here, never read.
@group(0) @binding(4) var<storage, read> normWeight: array<vec4<f32>>;

{{WEIGHTS}}

{{REDUCE}}

{{EPILOGUE}}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) workgroupId: vec3<u32>,
  {{SUBGROUP_BUILTINS}}
) {
  let firstRow = workgroupId.x * ROWS;
  let token = workgroupId.y;

  var acc: array<f32, SUMS>;
  // unroll
  for (var s = 0u; s < SUMS; s++) {
    acc[s] = 0.0;
  }
  for (var batch = 0u; batch < BATCHES; batch++) {
    // unroll
    for (var batchStep = 0u; batchStep < BATCH_STEPS; batchStep++) {
      let oct = batch * BATCH_OCTS + batchStep * WORKGROUP + lane;
      if (EXACT || oct < OCTS_PER_ROW) {
        let xOct = token * OCTS_PER_ROW + oct;
        var xLow = x[2u * xOct];
        var xHigh = x[2u * xOct + 1u];
        if (NORMED) {
          acc[DOTS] += dot(xLow, xLow) + dot(xHigh, xHigh);
          xLow *= normWeight[2u * oct];
          xHigh *= normWeight[2u * oct + 1u];
        }
        // unroll
        for (var m = 0u; m < MATRICES; m++) {
          // unroll
          for (var r = 0u; r < ROWS; r++) {
            // Rows past the end (the last workgroup's) read the last row again; their sums are never written.
            let row = m * OUT_FEATURES + min(firstRow + r, OUT_FEATURES - 1u);
            let w = loadOct(row * OCTS_PER_ROW + oct);
            acc[m * ROWS + r] += dot(w.low, xLow) + dot(w.high, xHigh);
          }
        }
      }
    }
  }

  sumPartialDots(acc, lane{{SUBGROUP_ARGS}});

  var scale = 1.0;
  if (NORMED) {
    scale = inverseSqrt(partialDots[DOTS] / f32(IN_FEATURES) + EPS);
  }
  storeRows(lane, token, firstRow, scale);
}
