// Linear layer over a prefill chunk (a GEMM): y[t][n] = Σ_k x[t][k] · W[n][k] (+ bias[n]) (+ y[t][n] when
// ACCUMULATE: a fused residual add). W is [OUT_FEATURES][IN_FEATURES] row-major in its stored precision (WEIGHTS
// snippet), x is f32 [tokens][IN_FEATURES]; f32 arithmetic only. The shape is compile-time, the token count the
// Step uniform's.
// Grid: (ceil(tokens / TILE_TOKENS), ceil(OUT_FEATURES / TILE_ROWS)): token tiles vary fastest, so the workgroups
// resident at once share the same few row tiles of W (each read from memory about once) and all of x (small).
// A workgroup owns a TILE_ROWS × TILE_TOKENS block of y and walks K in slices of K_STEP: each slice of its W rows
// and of its x rows is staged in workgroup memory, k-major, read as 16-byte loads of four rows and transposed in
// registers into vec4 stores (W converted to f32 once, on the way in). Invocation
// (rowThread, tokenThread) owns a THREAD_ROWS × THREAD_TOKENS register block: the vec4s of rows rowThread + i ·
// ROW_THREADS and of tokens tokenThread + j · TOKEN_THREADS, so neighbouring invocations read neighbouring vec4s
// (no bank conflicts) and each k costs THREAD_ROWS / 4 + THREAD_TOKENS / 4 vec4 reads for
// THREAD_ROWS · THREAD_TOKENS multiply-adds. With PREFETCH the next slice's loads are issued before the current
// slice is computed; with STAGES = 2 the next slice is stored beside the current one (one barrier per slice, not two).
// Traffic: W read once per TILE_TOKENS tokens, x once per TILE_ROWS output features (mostly from cache).

const IN_FEATURES: u32 = {{IN_FEATURES}}u;
const OUT_FEATURES: u32 = {{OUT_FEATURES}}u;
const TILE_ROWS: u32 = {{TILE_ROWS}}u;
const TILE_TOKENS: u32 = {{TILE_TOKENS}}u;
const THREAD_ROWS: u32 = {{THREAD_ROWS}}u;
const THREAD_TOKENS: u32 = {{THREAD_TOKENS}}u;
const K_STEP: u32 = {{K_STEP}}u;
// Slices held in workgroup memory: 1 (store after everyone has read) or 2 (store beside the one being read).
const STAGES: u32 = {{STAGES}}u;
const PREFETCH: bool = {{PREFETCH}};
const HAS_BIAS: bool = {{HAS_BIAS}};
const ACCUMULATE: bool = {{ACCUMULATE}};

const VEC: u32 = 4u;
const ROW_THREADS: u32 = TILE_ROWS / THREAD_ROWS;
const TOKEN_THREADS: u32 = TILE_TOKENS / THREAD_TOKENS;
const WORKGROUP: u32 = ROW_THREADS * TOKEN_THREADS;
const ROW_VECS: u32 = THREAD_ROWS / VEC;
const TOKEN_VECS: u32 = THREAD_TOKENS / VEC;
const TILE_ROW_VECS: u32 = TILE_ROWS / VEC;
const TILE_TOKEN_VECS: u32 = TILE_TOKENS / VEC;
const ACCUMULATORS: u32 = THREAD_TOKENS * ROW_VECS;

const OCTS_PER_ROW: u32 = IN_FEATURES / 8u;
const QUADS_PER_ROW: u32 = IN_FEATURES / 4u;
const SLICES: u32 = (IN_FEATURES + K_STEP - 1u) / K_STEP;
// Whether every k of every slice exists, so that no load needs a guard.
const EXACT_K: bool = IN_FEATURES % K_STEP == 0u;
// A slice is staged in units of four rows (tokens) × one oct (quad): four 16-byte loads, transposed in registers
// into 8 (4) vec4 stores. The units are spread over the workgroup; unit i of W is rows 4 · (i % TILE_ROW_VECS) … + 3
// at oct i / TILE_ROW_VECS of the slice, so neighbouring invocations store neighbouring vec4s.
const WEIGHT_UNITS: u32 = TILE_ROW_VECS * (K_STEP / 8u);
const INPUT_UNITS: u32 = TILE_TOKEN_VECS * (K_STEP / 4u);
const WEIGHT_LOADS: u32 = (WEIGHT_UNITS + WORKGROUP - 1u) / WORKGROUP;
const INPUT_LOADS: u32 = (INPUT_UNITS + WORKGROUP - 1u) / WORKGROUP;
const WEIGHT_LOADS_EVEN: bool = WEIGHT_UNITS % WORKGROUP == 0u;
const INPUT_LOADS_EVEN: bool = INPUT_UNITS % WORKGROUP == 0u;
const WEIGHT_STAGE: u32 = K_STEP * TILE_ROW_VECS;
const INPUT_STAGE: u32 = K_STEP * TILE_TOKEN_VECS;

{{STEP}}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

{{WEIGHTS}}

// weightTile[s][k][v] = W[firstRow + 4v … 4v + 3][k0 + k] and inputTile[s][k][v] = x[firstToken + 4v … 4v + 3][k0 + k]
// for the slice from k0 held in stage s.
var<workgroup> weightTile: array<vec4<f32>, STAGES * WEIGHT_STAGE>;
var<workgroup> inputTile: array<vec4<f32>, STAGES * INPUT_STAGE>;

// An invocation's units of a slice as loaded (W in its stored precision), between the loads and the stores.
struct Slice {
  // Unit l, row 4v + c at [VEC · l + c].
  weights: array<OctWords, WEIGHT_LOADS * VEC>,
  inputs: array<vec4<f32>, INPUT_LOADS * VEC>,
}

// Rows past OUT_FEATURES repeat the last row and tokens past the chunk its last token (never written); k past
// IN_FEATURES reads as 0.
fn loadSlice(slice: u32, firstRow: u32, firstToken: u32, lane: u32) -> Slice {
  var s: Slice;
  // unroll
  for (var l = 0u; l < WEIGHT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    let oct = slice * (K_STEP / 8u) + unit / TILE_ROW_VECS;
    if ((WEIGHT_LOADS_EVEN || unit < WEIGHT_UNITS) && (EXACT_K || oct < OCTS_PER_ROW)) {
      let firstOfVec = firstRow + VEC * (unit % TILE_ROW_VECS);
      // unroll
      for (var c = 0u; c < VEC; c++) {
        let row = min(firstOfVec + c, OUT_FEATURES - 1u);
        s.weights[VEC * l + c] = loadOctWords(row * OCTS_PER_ROW + oct);
      }
    }
  }
  let lastToken = step.tokenCount - 1u;
  // unroll
  for (var l = 0u; l < INPUT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    let quad = slice * (K_STEP / 4u) + unit / TILE_TOKEN_VECS;
    if ((INPUT_LOADS_EVEN || unit < INPUT_UNITS) && (EXACT_K || quad < QUADS_PER_ROW)) {
      let firstOfVec = firstToken + VEC * (unit % TILE_TOKEN_VECS);
      // unroll
      for (var c = 0u; c < VEC; c++) {
        let token = min(firstOfVec + c, lastToken);
        s.inputs[VEC * l + c] = x[token * QUADS_PER_ROW + quad];
      }
    }
  }
  return s;
}

// Converts W to f32 and transposes each unit: the vec4 at k holds the k-th value of its four rows (tokens).
fn storeSlice(s: Slice, stage: u32, lane: u32) {
  // unroll
  for (var l = 0u; l < WEIGHT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (WEIGHT_LOADS_EVEN || unit < WEIGHT_UNITS) {
      let w0 = unpackOct(s.weights[VEC * l]);
      let w1 = unpackOct(s.weights[VEC * l + 1u]);
      let w2 = unpackOct(s.weights[VEC * l + 2u]);
      let w3 = unpackOct(s.weights[VEC * l + 3u]);
      let k = 8u * (unit / TILE_ROW_VECS);
      let first = stage * WEIGHT_STAGE + k * TILE_ROW_VECS + unit % TILE_ROW_VECS;
      // unroll
      for (var c = 0u; c < VEC; c++) {
        weightTile[first + c * TILE_ROW_VECS] = vec4<f32>(w0.low[c], w1.low[c], w2.low[c], w3.low[c]);
        weightTile[first + (VEC + c) * TILE_ROW_VECS] = vec4<f32>(w0.high[c], w1.high[c], w2.high[c], w3.high[c]);
      }
    }
  }
  // unroll
  for (var l = 0u; l < INPUT_LOADS; l++) {
    let unit = lane + l * WORKGROUP;
    if (INPUT_LOADS_EVEN || unit < INPUT_UNITS) {
      let x0 = s.inputs[VEC * l];
      let x1 = s.inputs[VEC * l + 1u];
      let x2 = s.inputs[VEC * l + 2u];
      let x3 = s.inputs[VEC * l + 3u];
      let k = VEC * (unit / TILE_TOKEN_VECS);
      let first = stage * INPUT_STAGE + k * TILE_TOKEN_VECS + unit % TILE_TOKEN_VECS;
      // unroll
      for (var c = 0u; c < VEC; c++) {
        inputTile[first + c * TILE_TOKEN_VECS] = vec4<f32>(x0[c], x1[c], x2[c], x3[c]);
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let firstToken = workgroupId.x * TILE_TOKENS;
  let firstRow = workgroupId.y * TILE_ROWS;
  let rowThread = lane % ROW_THREADS;
  let tokenThread = lane / ROW_THREADS;

  // acc[t · ROW_VECS + i] = y of rows 4 · (rowThread + i · ROW_THREADS) … + 3 for the thread's token t, which is
  // 4 · (tokenThread + (t / 4) · TOKEN_THREADS) + t % 4.
  var acc: array<vec4<f32>, ACCUMULATORS>;
  var next = loadSlice(0u, firstRow, firstToken, lane);
  for (var slice = 0u; slice < SLICES; slice++) {
    let stage = slice % STAGES;
    storeSlice(next, stage, lane);
    workgroupBarrier();
    let more = slice + 1u < SLICES;
    if (PREFETCH && more) {
      next = loadSlice(slice + 1u, firstRow, firstToken, lane);
    }
    let weightBase = stage * WEIGHT_STAGE + rowThread;
    let inputBase = stage * INPUT_STAGE + tokenThread;
    // unroll
    for (var k = 0u; k < K_STEP; k++) {
      var w: array<vec4<f32>, ROW_VECS>;
      // unroll
      for (var i = 0u; i < ROW_VECS; i++) {
        w[i] = weightTile[weightBase + k * TILE_ROW_VECS + i * ROW_THREADS];
      }
      // unroll
      for (var j = 0u; j < TOKEN_VECS; j++) {
        let xs = inputTile[inputBase + k * TILE_TOKEN_VECS + j * TOKEN_THREADS];
        // unroll
        for (var c = 0u; c < VEC; c++) {
          // unroll
          for (var i = 0u; i < ROW_VECS; i++) {
            acc[(VEC * j + c) * ROW_VECS + i] += w[i] * xs[c];
          }
        }
      }
    }
    if (!PREFETCH && more) {
      next = loadSlice(slice + 1u, firstRow, firstToken, lane);
    }
    if (STAGES == 1u) {
      // Everyone has read the stage before the next slice overwrites it. With two stages, the barrier after the
      // next store does that: nobody stores slice + 2 before everyone has passed it.
      workgroupBarrier();
    }
  }

  // unroll
  for (var j = 0u; j < TOKEN_VECS; j++) {
    // unroll
    for (var c = 0u; c < VEC; c++) {
      let token = firstToken + VEC * (tokenThread + j * TOKEN_THREADS) + c;
      if (token < step.tokenCount) {
        // unroll
        for (var i = 0u; i < ROW_VECS; i++) {
          let value = acc[(VEC * j + c) * ROW_VECS + i];
          let firstOfVec = firstRow + VEC * (rowThread + i * ROW_THREADS);
          // unroll
          for (var r = 0u; r < VEC; r++) {
            let row = firstOfVec + r;
            if (row < OUT_FEATURES) {
              var result = value[r];
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
        }
      }
    }
  }
}
