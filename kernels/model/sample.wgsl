// Picks the next token from the logits on the GPU, so only its id travels back to the CPU.
//   0. the token mask: a token whose bit in `allowed` is 0 (a grammar forbids it) has logit -∞ from here on: it is
//      never picked, in any mode, and weighs nothing in top-k, top-p or the draw. Without a grammar every bit is
//      set. (WGSL leaves arithmetic on infinities undefined, so the logit is replaced last, after step 1, by
//      DISALLOWED, the same -∞ in effect: below every finite logit, exp(DISALLOWED - max) = 0.)
//   1. repetition penalty on every token already in the sequence (Hugging Face's rule: positive logits are
//      divided by it, negative ones multiplied), then temperature;
//   2. greedy: the first index of the largest logit; otherwise
//   3. top-k and top-p as thresholds on the logit, each found by bisection (the k-th largest logit; the
//      smallest logit whose kept probability mass still reaches top-p), and
//   4. a draw u ∈ [0, kept mass) from a hash of (seed, position), located by a prefix sum over contiguous
//      chunks of the vocabulary in index order: the same seed gives the same token.
// The token is written to `tokens` (where the next step's embedding reads it), to `sampled` (for the CPU) and
// to the `seen` bitset (for the penalty).
// Grid: one workgroup of WORKGROUP invocations (a power of two: the reductions halve it); invocation i owns
// vocabulary chunk i for step 4 and strides over the vocabulary elsewhere. In steps 0-2 it takes tokens
// i, i + WORKGROUP, ... in batches of BATCH whose loads go out together: one workgroup reads the whole vocabulary,
// and a load waited for before the next is issued would make that a chain of vocab / WORKGROUP round trips.
// A large vocabulary is too much for one workgroup even so: with CHUNKS > 0, sample_chunks.wgsl has run steps 0-1
// over it in CHUNKS workgroups and left each chunk's best token in chunkBest, and step 2 reduces those.

const WORKGROUP: u32 = {{WORKGROUP}}u;
const BATCH: u32 = {{BATCH}}u;
const CHUNKS: u32 = {{CHUNKS}}u;
const BISECTION_STEPS: u32 = 40u;
// Logits further than this below the maximum have probability 0 in f32.
const NEGLIGIBLE: f32 = 104.0;

{{STEP}}

{{SCALE}}

@group(0) @binding(0) var<uniform> sampling: Sampling;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> scaled: array<f32>;
@group(0) @binding(4) var<storage, read_write> seen: array<u32>;
@group(0) @binding(5) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(6) var<storage, read_write> sampled: array<u32>;
// One bit per token, 32 to a word, bit set = allowed.
@group(0) @binding(7) var<storage, read> allowed: array<u32>;
// sample_chunks.wgsl's best token per chunk (its scaled logit's bits, its index); unread when CHUNKS is 0.
@group(0) @binding(8) var<storage, read> chunkBest: array<vec2<u32>>;

var<workgroup> chosen: u32;

{{PCG}}

fn sumAcrossWorkgroup(value: f32, lane: u32) -> f32 {
  reduceValues[lane] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      reduceValues[lane] += reduceValues[lane + stride];
    }
    workgroupBarrier();
  }
  let total = reduceValues[0];
  workgroupBarrier();
  return total;
}

// Kept probability mass (unnormalised, relative to the maximum) of logits ≥ threshold; or their count.
fn massAtLeast(threshold: f32, maxLogit: f32, lane: u32, countOnly: bool) -> f32 {
  let vocab = sampling.vocabSize;
  var local = 0.0;
  for (var first = lane; first < vocab; first += BATCH * WORKGROUP) {
    var l: array<f32, BATCH>;
    // unroll
    for (var b = 0u; b < BATCH; b++) {
      l[b] = scaled[min(first + b * WORKGROUP, vocab - 1u)];
    }
    // unroll
    for (var b = 0u; b < BATCH; b++) {
      if (first + b * WORKGROUP < vocab && l[b] >= threshold) {
        local += select(exp(l[b] - maxLogit), 1.0, countOnly);
      }
    }
  }
  return sumAcrossWorkgroup(local, lane);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32) {
  let vocab = sampling.vocabSize;
  var mine = Best(-3.0e38, 0u);
  if (CHUNKS == 0u) {
    for (var first = lane; first < vocab; first += BATCH * WORKGROUP) {
      mine = scaleBatch(first, mine);
    }
  } else {
    for (var chunk = lane; chunk < CHUNKS; chunk += WORKGROUP) {
      let value = bitcast<f32>(chunkBest[chunk].x);
      if (value > mine.value) {
        mine = Best(value, chunkBest[chunk].y);
      }
    }
  }
  let best = bestAcrossWorkgroup(mine, lane);
  let maxLogit = best.value;
  let argmax = best.index;

  var token = argmax;
  if (sampling.greedy == 0u) {
    // Top-k: the largest threshold that keeps at least k tokens.
    var threshold = maxLogit - NEGLIGIBLE;
    if (sampling.topK > 0u && sampling.topK < vocab) {
      var low = maxLogit - NEGLIGIBLE;
      var high = maxLogit;
      for (var s = 0u; s < BISECTION_STEPS; s++) {
        let middle = 0.5 * (low + high);
        if (massAtLeast(middle, maxLogit, lane, true) >= f32(sampling.topK)) {
          low = middle;
        } else {
          high = middle;
        }
      }
      threshold = low;
    }
    // Top-p: the largest threshold whose kept mass still reaches top-p of the top-k mass.
    if (sampling.topP < 1.0) {
      let wanted = sampling.topP * massAtLeast(threshold, maxLogit, lane, false);
      var low = threshold;
      var high = maxLogit;
      for (var s = 0u; s < BISECTION_STEPS; s++) {
        let middle = 0.5 * (low + high);
        if (massAtLeast(middle, maxLogit, lane, false) >= wanted) {
          low = middle;
        } else {
          high = middle;
        }
      }
      threshold = low;
    }

    // Draw: prefix sums over contiguous chunks, in index order.
    let chunk = (vocab + WORKGROUP - 1u) / WORKGROUP;
    let chunkStart = min(lane * chunk, vocab);
    let chunkEnd = min(chunkStart + chunk, vocab);
    var chunkMass = 0.0;
    for (var i = chunkStart; i < chunkEnd; i++) {
      let l = scaled[i];
      if (l >= threshold) {
        chunkMass += exp(l - maxLogit);
      }
    }
    reduceValues[lane] = chunkMass;
    if (lane == 0u) {
      chosen = argmax;
    }
    workgroupBarrier();
    if (lane == 0u) {
      var total = 0.0;
      for (var i = 0u; i < WORKGROUP; i++) {
        total += reduceValues[i];
      }
      let unit = f32(pcg(sampling.seed ^ pcg(step.position + step.tokenCount)) >> 8u) / 16777216.0;
      let draw = unit * total;
      var before = 0.0;
      var owner = WORKGROUP;
      for (var i = 0u; i < WORKGROUP; i++) {
        if (reduceValues[i] > 0.0 && draw < before + reduceValues[i]) {
          owner = i;
          break;
        }
        before += reduceValues[i];
      }
      reduceIndices[0] = owner;
      reduceValues[0] = draw - before;
    }
    workgroupBarrier();
    if (lane == reduceIndices[0]) {
      var remaining = reduceValues[0];
      var pick = chunkStart;
      for (var i = chunkStart; i < chunkEnd; i++) {
        let l = scaled[i];
        if (l >= threshold) {
          pick = i;
          let p = exp(l - maxLogit);
          if (remaining < p) {
            break;
          }
          remaining -= p;
        }
      }
      chosen = pick;
    }
    workgroupBarrier();
    token = chosen;
  }

  if (lane == 0u) {
    tokens[step.position + step.tokenCount] = token;
    sampled[0] = token;
    seen[token / 32u] |= 1u << (token % 32u);
  }
}
