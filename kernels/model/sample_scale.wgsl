// What both sampling kernels share: the settings, steps 0–1 of sample.wgsl on a batch of tokens (written to
// `scaled` for a draw) with the batch's best token, and the argmax over the workgroup. The including kernel declares
// `sampling`, `logits`, `scaled`, `seen` and `allowed`, and WORKGROUP and BATCH.

// The logit of a token the mask forbids (step 0), below the lowest starting value of the argmax.
const DISALLOWED: f32 = -3.4e38;

struct Sampling {
  vocabSize: u32,
  greedy: u32,
  temperature: f32,
  topK: u32,
  topP: f32,
  repetitionPenalty: f32,
  seed: u32,
}

// A token and its scaled logit: the largest one so far, first index among equals.
struct Best {
  value: f32,
  index: u32,
}

var<workgroup> reduceValues: array<f32, WORKGROUP>;
var<workgroup> reduceIndices: array<u32, WORKGROUP>;

// Steps 0–1 for tokens first + b·WORKGROUP (b < BATCH) below the vocabulary's end: their loads go out together,
// then `best` is kept over the scaled logits, in index order, and a draw (whose passes read them again) writes them.
fn scaleBatch(first: u32, best: Best) -> Best {
  let vocab = sampling.vocabSize;
  // Past the vocabulary, the last token again (never used).
  var raw: array<f32, BATCH>;
  var seenWord: array<u32, BATCH>;
  var allowedWord: array<u32, BATCH>;
  // unroll
  for (var b = 0u; b < BATCH; b++) {
    let i = min(first + b * WORKGROUP, vocab - 1u);
    raw[b] = logits[i];
    seenWord[b] = seen[i / 32u];
    allowedWord[b] = allowed[i / 32u];
  }
  var kept = best;
  // unroll
  for (var b = 0u; b < BATCH; b++) {
    let i = first + b * WORKGROUP;
    if (i < vocab) {
      var l = raw[b];
      let wasSeen = (seenWord[b] >> (i % 32u)) & 1u;
      if (sampling.repetitionPenalty != 1.0 && wasSeen == 1u) {
        l = select(l * sampling.repetitionPenalty, l / sampling.repetitionPenalty, l > 0.0);
      }
      if (sampling.greedy == 0u) {
        l = l / sampling.temperature;
      }
      let isAllowed = (allowedWord[b] >> (i % 32u)) & 1u;
      if (isAllowed == 0u) {
        l = DISALLOWED;
      }
      if (sampling.greedy == 0u) {
        scaled[i] = l;
      }
      if (l > kept.value) {
        kept = Best(l, i);
      }
    }
  }
  return kept;
}

// The best of every invocation's `mine` (largest value, first index among equals), for every invocation.
fn bestAcrossWorkgroup(mine: Best, lane: u32) -> Best {
  reduceValues[lane] = mine.value;
  reduceIndices[lane] = mine.index;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      let otherValue = reduceValues[lane + stride];
      let otherIndex = reduceIndices[lane + stride];
      let value = reduceValues[lane];
      if (otherValue > value || (otherValue == value && otherIndex < reduceIndices[lane])) {
        reduceValues[lane] = otherValue;
        reduceIndices[lane] = otherIndex;
      }
    }
    workgroupBarrier();
  }
  let best = Best(reduceValues[0], reduceIndices[0]);
  workgroupBarrier();
  return best;
}
