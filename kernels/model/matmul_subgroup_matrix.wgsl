// Linear layer over a prefill chunk on the GPU's matrix units (the `chromium-experimental-subgroup-matrix`
// feature: tensor cores on NVIDIA): y[t][n] = Σ_k x[t][k] · W[n][k] (+ bias[n]) (+ y[t][n] when ACCUMULATE).
// W is [OUT_FEATURES][IN_FEATURES] f16 or bf16, x f32 [tokens][IN_FEATURES]; both are rounded to f16 on their way
// into workgroup memory and the products are summed in f32 (the matrix units' f16 × f16 → f32 configuration), so
// the result is exactly Σ f16(x) · f16(W) up to the order of the f32 sums.
// Grid: (ceil(tokens / TILE_TOKENS), ceil(OUT_FEATURES / TILE_ROWS)), as the portable kernel (matmul.wgsl).
// A workgroup owns a TILE_ROWS × TILE_TOKENS block of yᵀ, split among SUBGROUPS_M × SUBGROUPS_N subgroups; each
// subgroup holds MATS_M × MATS_N result matrices of M × N (rows × tokens) and walks K in slices of K_TILE staged in
// workgroup memory (the next slice's loads issued before the current one is multiplied), K at a time:
//   result[m][n] += left(W rows, K) · right(K, tokens),
// the left matrix read row-major from the W tile, the right one column-major from the x tile (both [row][k]).
diagnostic(off, chromium.subgroup_matrix_uniformity);
enable f16;
enable chromium_experimental_subgroup_matrix;

const IN_FEATURES: u32 = {{IN_FEATURES}}u;
const OUT_FEATURES: u32 = {{OUT_FEATURES}}u;
// One matrix operation: left M × K, right K × N, result M × N (the adapter's configuration).
const M: u32 = {{M}}u;
const N: u32 = {{N}}u;
const K: u32 = {{K}}u;
const MATS_M: u32 = {{MATS_M}}u;
const MATS_N: u32 = {{MATS_N}}u;
const SUBGROUPS_M: u32 = {{SUBGROUPS_M}}u;
const SUBGROUPS_N: u32 = {{SUBGROUPS_N}}u;
// The adapter's one subgroup size: subgroup s is invocations s · SUBGROUP_SIZE … + SUBGROUP_SIZE - 1.
const SUBGROUP_SIZE: u32 = {{SUBGROUP_SIZE}}u;
const K_TILE: u32 = {{K_TILE}}u;
const WEIGHTS_BF16: bool = {{WEIGHTS_BF16}};
const HAS_BIAS: bool = {{HAS_BIAS}};
const ACCUMULATE: bool = {{ACCUMULATE}};

const TILE_ROWS: u32 = SUBGROUPS_M * MATS_M * M;
const TILE_TOKENS: u32 = SUBGROUPS_N * MATS_N * N;
const WORKGROUP: u32 = SUBGROUPS_M * SUBGROUPS_N * SUBGROUP_SIZE;
// A tile row holds K_TILE values and 8 of padding (16 bytes: rows start on different banks, loads stay aligned).
const STRIDE: u32 = K_TILE + 8u;
const OCTS_PER_ROW: u32 = IN_FEATURES / 8u;
const QUADS_PER_ROW: u32 = IN_FEATURES / 4u;
const SLICES: u32 = IN_FEATURES / K_TILE;
const K_STEPS: u32 = K_TILE / K;
// A slice is staged as octs of W (8 values, one 16-byte load) and quads of x (4 values), spread over the workgroup.
const WEIGHT_UNITS: u32 = TILE_ROWS * (K_TILE / 8u);
const INPUT_UNITS: u32 = TILE_TOKENS * (K_TILE / 4u);
const WEIGHT_LOADS: u32 = WEIGHT_UNITS / WORKGROUP;
const INPUT_LOADS: u32 = INPUT_UNITS / WORKGROUP;
// Result values each invocation writes out of one M × N matrix.
const RESULT_VALUES: u32 = M * N / SUBGROUP_SIZE;
const WORDS_PER_OCT: u32 = 4u;
const VALUES_PER_QUAD: u32 = 4u;

{{STEP}}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// weightTile[r · STRIDE + k] = W[firstRow + r][k0 + k], inputTile[t · STRIDE + k] = x[firstToken + t][k0 + k].
var<workgroup> weightTile: array<f16, TILE_ROWS * STRIDE>;
var<workgroup> inputTile: array<f16, TILE_TOKENS * STRIDE>;
// Each subgroup's M × N result matrix on its way to y, column-major (a column is M consecutive rows of y).
var<workgroup> resultTile: array<f32, SUBGROUPS_M * SUBGROUPS_N * M * N>;

// An invocation's units of a slice as loaded, between the loads and the stores.
struct Slice {
  weights: array<vec4<u32>, WEIGHT_LOADS>,
  inputs: array<vec4<f32>, INPUT_LOADS>,
}

// Rows past OUT_FEATURES repeat the last row, tokens past the chunk its last token: computed, never written.
fn loadSlice(slice: u32, firstRow: u32, firstToken: u32, lane: u32) -> Slice {
  var s: Slice;
  // unroll
  for (var l = 0u; l < WEIGHT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    let row = min(firstRow + unit / (K_TILE / 8u), OUT_FEATURES - 1u);
    s.weights[l] = weights[row * OCTS_PER_ROW + slice * (K_TILE / 8u) + unit % (K_TILE / 8u)];
  }
  let lastToken = step.tokenCount - 1u;
  // unroll
  for (var l = 0u; l < INPUT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    let token = min(firstToken + unit / (K_TILE / 4u), lastToken);
    s.inputs[l] = x[token * QUADS_PER_ROW + slice * (K_TILE / 4u) + unit % (K_TILE / 4u)];
  }
  return s;
}

// Two stored weights as f16: f16 as they are; bf16 through f32 (a bf16 value is the top half of an f32's bits).
fn weightPair(word: u32) -> vec2<f16> {
  if (WEIGHTS_BF16) {
    return vec2<f16>(vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u)));
  }
  return bitcast<vec2<f16>>(word);
}

fn storeSlice(s: Slice, lane: u32) {
  // unroll
  for (var l = 0u; l < WEIGHT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    let first = (unit / (K_TILE / 8u)) * STRIDE + 8u * (unit % (K_TILE / 8u));
    let words = s.weights[l];
    // unroll
    for (var w = 0u; w < WORDS_PER_OCT; w++) {
      let pair = weightPair(words[w]);
      weightTile[first + 2u * w] = pair.x;
      weightTile[first + 2u * w + 1u] = pair.y;
    }
  }
  // unroll
  for (var l = 0u; l < INPUT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    let first = (unit / (K_TILE / 4u)) * STRIDE + 4u * (unit % (K_TILE / 4u));
    let quad = vec4<f16>(s.inputs[l]);
    // unroll
    for (var c = 0u; c < VALUES_PER_QUAD; c++) {
      inputTile[first + c] = quad[c];
    }
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let firstToken = workgroupId.x * TILE_TOKENS;
  let firstRow = workgroupId.y * TILE_ROWS;
  let subgroup = lane / SUBGROUP_SIZE;
  let subgroupM = subgroup % SUBGROUPS_M;
  let subgroupN = subgroup / SUBGROUPS_M;
  // The subgroup's first row and token within the tile.
  let rowBase = subgroupM * MATS_M * M;
  let tokenBase = subgroupN * MATS_N * N;

  var acc: array<array<subgroup_matrix_result<f32, N, M>, MATS_N>, MATS_M>;
  var next = loadSlice(0u, firstRow, firstToken, lane);
  for (var slice = 0u; slice < SLICES; slice++) {
    storeSlice(next, lane);
    workgroupBarrier();
    if (slice + 1u < SLICES) {
      next = loadSlice(slice + 1u, firstRow, firstToken, lane);
    }
    // unroll
    for (var k = 0u; k < K_STEPS; k++) {
      var left: array<subgroup_matrix_left<f16, K, M>, MATS_M>;
      // unroll
      for (var m = 0u; m < MATS_M; m++) {
        left[m] = subgroupMatrixLoad<subgroup_matrix_left<f16, K, M>>(&weightTile, (rowBase + m * M) * STRIDE + k * K, false, STRIDE);
      }
      // unroll
      for (var n = 0u; n < MATS_N; n++) {
        let right = subgroupMatrixLoad<subgroup_matrix_right<f16, N, K>>(&inputTile, (tokenBase + n * N) * STRIDE + k * K, true, STRIDE);
        // unroll
        for (var m = 0u; m < MATS_M; m++) {
          acc[m][n] = subgroupMatrixMultiplyAccumulate(left[m], right, acc[m][n]);
        }
      }
    }
    // Everyone has read the slice before the next one overwrites it.
    workgroupBarrier();
  }

  // Each result matrix goes through the subgroup's part of resultTile, then its invocations write M consecutive
  // rows of y per token (bias and residual added there, rows and tokens past the ends left alone).
  let resultBase = subgroup * M * N;
  let subgroupLane = lane % SUBGROUP_SIZE;
  // unroll
  for (var m = 0u; m < MATS_M; m++) {
    // unroll
    for (var n = 0u; n < MATS_N; n++) {
      subgroupMatrixStore(&resultTile, resultBase, acc[m][n], true, M);
      workgroupBarrier();
      // unroll
      for (var v = 0u; v < RESULT_VALUES; v++) {
        let index = subgroupLane + v * SUBGROUP_SIZE;
        let row = firstRow + rowBase + m * M + index % M;
        let token = firstToken + tokenBase + n * N + index / M;
        if (row < OUT_FEATURES && token < step.tokenCount) {
          var result = resultTile[resultBase + index];
          if (HAS_BIAS) {
            result += bias[row];
          }
          let outIndex = token * OUT_FEATURES + row;
          if (ACCUMULATE) {
            result += y[outIndex];
          }
          y[outIndex] = result;
        }
      }
      // The matrix is written out before the next one takes its place.
      workgroupBarrier();
    }
  }
}
