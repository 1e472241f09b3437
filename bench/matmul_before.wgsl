// The prefill GEMM before the register-blocked tiling (commit 5f5fdeb, kernels/model/matmul.wgsl there), kept verbatim
// so that bench/matmul.ts measures every tile against it. Not used by the engine.
// Linear layer over a prefill chunk (a GEMM): y[t][n] = Σ_k x[t][k] · W[n][k] (+ bias[n]) (+ y[t][n] when
// ACCUMULATE: a fused residual add). W is [N][K] row-major in its stored precision (WEIGHTS snippet); f32
// accumulation.
// Grid: (ceil(N / TILE_ROWS), ceil(tokens / TILE_TOKENS)); a workgroup owns a TILE_ROWS × TILE_TOKENS block of y.
// It walks K in steps of K_STEP: the block's W rows and x rows over those k are staged in workgroup memory,
// k-major, then invocation i adds the outer products of its four rows 4·(i % ROW_QUADS) … +3 and its four tokens
// 4·(i / ROW_QUADS) … +3 (two vec4 reads per 16 multiply-adds).
// Traffic: W read once per TILE_TOKENS tokens, x once per TILE_ROWS output features.

const TILE_ROWS: u32 = {{TILE_ROWS}}u;
const TILE_TOKENS: u32 = {{TILE_TOKENS}}u;
const K_STEP: u32 = 32u;
const ROW_QUADS: u32 = TILE_ROWS / 4u;
const TOKEN_QUADS: u32 = TILE_TOKENS / 4u;
const WORKGROUP: u32 = ROW_QUADS * TOKEN_QUADS;
const OCTS_PER_STEP: u32 = K_STEP / 8u;
const HAS_BIAS: bool = {{HAS_BIAS}};
const ACCUMULATE: bool = {{ACCUMULATE}};

{{STEP}}

struct Shape {
  inFeatures: u32,
  outFeatures: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

{{WEIGHTS}}

// weightTile[k][q] = W[firstRow + 4q … 4q + 3][k0 + k];  inputTile[k][q] = x[firstToken + 4q … 4q + 3][k0 + k].
var<workgroup> weightTile: array<vec4<f32>, K_STEP * ROW_QUADS>;
var<workgroup> inputTile: array<vec4<f32>, K_STEP * TOKEN_QUADS>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let firstRow = workgroupId.x * TILE_ROWS;
  let firstToken = workgroupId.y * TILE_TOKENS;
  let octsPerRow = shape.inFeatures / 8u;
  let rowQuad = lane % ROW_QUADS;
  let tokenQuad = lane / ROW_QUADS;

  // acc[j][c] = y of row firstRow + 4·rowQuad + c, token firstToken + 4·tokenQuad + j.
  var acc: array<vec4<f32>, 4>;
  for (var firstOct = 0u; firstOct < octsPerRow; firstOct += OCTS_PER_STEP) {
    // Stage the step's slice of W; rows past N repeat the last row and k past K reads as 0 (never written).
    for (var i = lane; i < TILE_ROWS * OCTS_PER_STEP; i += WORKGROUP) {
      let r = i / OCTS_PER_STEP;
      let oct = firstOct + i % OCTS_PER_STEP;
      var w = Oct(vec4<f32>(0.0), vec4<f32>(0.0));
      if (oct < octsPerRow) {
        w = loadOct(min(firstRow + r, shape.outFeatures - 1u) * octsPerRow + oct);
      }
      let k = 8u * (i % OCTS_PER_STEP);
      for (var c = 0u; c < 4u; c++) {
        weightTile[(k + c) * ROW_QUADS + r / 4u][r % 4u] = w.low[c];
        weightTile[(k + 4u + c) * ROW_QUADS + r / 4u][r % 4u] = w.high[c];
      }
    }
    // Stage the step's slice of x; tokens past the chunk repeat its last token.
    for (var i = lane; i < TILE_TOKENS * OCTS_PER_STEP; i += WORKGROUP) {
      let t = i / OCTS_PER_STEP;
      let oct = firstOct + i % OCTS_PER_STEP;
      var low = vec4<f32>(0.0);
      var high = vec4<f32>(0.0);
      if (oct < octsPerRow) {
        let xOct = min(firstToken + t, step.tokenCount - 1u) * octsPerRow + oct;
        low = x[2u * xOct];
        high = x[2u * xOct + 1u];
      }
      let k = 8u * (i % OCTS_PER_STEP);
      for (var c = 0u; c < 4u; c++) {
        inputTile[(k + c) * TOKEN_QUADS + t / 4u][t % 4u] = low[c];
        inputTile[(k + 4u + c) * TOKEN_QUADS + t / 4u][t % 4u] = high[c];
      }
    }
    workgroupBarrier();

    for (var k = 0u; k < K_STEP; k++) {
      let w = weightTile[k * ROW_QUADS + rowQuad];
      let xs = inputTile[k * TOKEN_QUADS + tokenQuad];
      acc[0] += w * xs.x;
      acc[1] += w * xs.y;
      acc[2] += w * xs.z;
      acc[3] += w * xs.w;
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < 4u; j++) {
    let token = firstToken + 4u * tokenQuad + j;
    for (var c = 0u; c < 4u; c++) {
      let row = firstRow + 4u * rowQuad + c;
      if (token < step.tokenCount && row < shape.outFeatures) {
        var value = acc[j][c];
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
}
