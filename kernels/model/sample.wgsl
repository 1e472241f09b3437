// Picks the next token from the logits on the GPU, so only its id travels back to the CPU.
//   0. the token mask: a token whose bit in `allowed` is 0 (a grammar forbids it) has logit -∞ from here on: it is
//      never picked, in any mode, and weighs nothing in top-k, top-p or the draw. Without a grammar every bit is
//      set. (WGSL leaves arithmetic on infinities undefined, so the logit is replaced last, after step 1, by
//      DISALLOWED, the same -∞ in effect: below every finite logit, exp(DISALLOWED - max) = 0.)
//   1. repetition penalty on every token already in the sequence (Hugging Face's rule: positive logits are
//      divided by it, negative ones multiplied), then temperature;
//   2. greedy: the first index of the largest logit; otherwise
//   3. top-k and top-p as thresholds on the logit (the k-th largest logit; the smallest logit whose kept
//      probability mass still reaches top-p), each found by a search that cuts its interval in WAYS parts a pass
//      over the vocabulary: a bisection that weighs WAYS − 1 candidates at once, in a third of the passes, and
//   4. a draw u ∈ [0, kept mass) from a hash of (seed, position), located by a prefix sum over contiguous
//      chunks of the vocabulary in index order: the same seed gives the same token.
// The token is written to `tokens` (where the next step's embedding reads it), to `sampled` (for the CPU) and
// to the `seen` bitset (for the penalty).
// Grid: one workgroup of WORKGROUP invocations (a power of two: the reductions halve it); invocation i owns
// vocabulary chunk i for step 4 and strides over the vocabulary elsewhere. In steps 0-2 it takes tokens
// i, i + WORKGROUP, ... in batches of BATCH whose loads go out together: one workgroup reads the whole vocabulary,
// and a load waited for before the next is issued would make that a chain of vocab / WORKGROUP round trips.
// A large vocabulary is too much for one workgroup even so: for a greedy pick with CHUNKS > 0, sample_chunks.wgsl
// has run steps 0-1 over it in CHUNKS workgroups and left each chunk's best token in chunkBest, and step 2 reduces
// those (a draw runs with CHUNKS = 0: steps 3-4 read `scaled`, which only a draw's step 1 writes).

const WORKGROUP: u32 = {{WORKGROUP}}u;
const BATCH: u32 = {{BATCH}}u;
const CHUNKS: u32 = {{CHUNKS}}u;
// The threshold searches: WAYS parts a pass, 3 bits of the threshold, over SEARCH_PASSES passes: 36 bits, so the
// interval of width NEGLIGIBLE ends 104 / 2^36 ≈ 1.5e-9 wide, below the spacing of f32 logits near their maximum.
const WAYS: u32 = {{WAYS}}u;
const SEARCH_PASSES: u32 = 12u;
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
var<workgroup> wayTotals: array<array<f32, WAYS>, WORKGROUP>;

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

// Kept probability mass (unnormalised, relative to the maximum) of logits ≥ threshold.
fn massAtLeast(threshold: f32, maxLogit: f32, lane: u32) -> f32 {
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
        local += exp(l[b] - maxLogit);
      }
    }
  }
  return sumAcrossWorkgroup(local, lane);
}

// Candidate j of the interval [low, high): low + (high − low) · j / WAYS, the same value wherever it is weighed.
fn candidate(low: f32, high: f32, j: u32) -> f32 {
  return select(low + (high - low) * f32(j) / f32(WAYS), high, j == WAYS);
}

// Σ over the workgroup of each invocation's WAYS totals, for every invocation (a tree in a fixed order).
fn sumWaysAcrossWorkgroup(mine: array<f32, WAYS>, lane: u32) -> array<f32, WAYS> {
  wayTotals[lane] = mine;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      // unroll
      for (var j = 0u; j < WAYS; j++) {
        wayTotals[lane][j] += wayTotals[lane + stride][j];
      }
    }
    workgroupBarrier();
  }
  let totals = wayTotals[0];
  workgroupBarrier();
  return totals;
}

// The largest threshold t in [low, high), to the search's resolution, whose kept count (countOnly) or mass
// (relative to the maximum) of logits ≥ t still reaches `wanted`; `low` itself when no larger one does. A pass
// weighs candidates 1 … WAYS − 1 of the interval, then keeps the part above the last one that reaches it: the
// totals fall as the candidates rise (sums of fewer non-negative terms, in the same order), as in a bisection.
fn searchThreshold(start: f32, end: f32, wanted: f32, maxLogit: f32, lane: u32, countOnly: bool) -> f32 {
  let vocab = sampling.vocabSize;
  var low = start;
  var high = end;
  for (var round = 0u; round < SEARCH_PASSES; round++) {
    var t: array<f32, WAYS>;
    var local: array<f32, WAYS>;
    // unroll
    for (var j = 0u; j < WAYS; j++) {
      t[j] = candidate(low, high, j);
      local[j] = 0.0;
    }
    for (var first = lane; first < vocab; first += BATCH * WORKGROUP) {
      var l: array<f32, BATCH>;
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        l[b] = scaled[min(first + b * WORKGROUP, vocab - 1u)];
      }
      // unroll
      for (var b = 0u; b < BATCH; b++) {
        if (first + b * WORKGROUP < vocab && l[b] >= t[1]) {
          let weight = select(exp(l[b] - maxLogit), 1.0, countOnly);
          // unroll
          for (var j = 1u; j < WAYS; j++) {
            local[j] += select(0.0, weight, l[b] >= t[j]);
          }
        }
      }
    }
    let totals = sumWaysAcrossWorkgroup(local, lane);
    var kept = 0u;
    // unroll
    for (var j = 1u; j < WAYS; j++) {
      if (totals[j] >= wanted) {
        kept = j;
      }
    }
    let nextLow = candidate(low, high, kept);
    high = candidate(low, high, kept + 1u);
    low = nextLow;
  }
  return low;
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
      threshold = searchThreshold(maxLogit - NEGLIGIBLE, maxLogit, f32(sampling.topK), maxLogit, lane, true);
    }
    // Top-p: the largest threshold whose kept mass still reaches top-p of the top-k mass.
    if (sampling.topP < 1.0) {
      let wanted = sampling.topP * massAtLeast(threshold, maxLogit, lane);
      threshold = searchThreshold(threshold, maxLogit, wanted, maxLogit, lane, false);
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
