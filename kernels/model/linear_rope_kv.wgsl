// The epilogue of decode's fused q/k/v projection: rotary position embedding, then the rotated q to y ([tokens]
// [q heads], dimension order) and k and v into the paged KV cache, as rope_kv.wgsl does in a dispatch of its own.
// The rows are [q heads | k heads | v heads], the q and k heads in rope-paired order (engine/weights.ts): row 2i of
// a head is dimension i and row 2i + 1 is dimension i + D/2, the pair that one rotation turns. ROWS is a multiple of
// 4 that divides HEAD_DIM, so a workgroup's rows lie in one head and split into quads. Lane g < ROWS / 4 finishes
// quad g from the reduced dots (partialDots, already visible to every lane): in a q or k head, rows 4j..4j+3 are
// dimensions 2j, 2j + D/2, 2j + 1, 2j + 1 + D/2, two rotations whose results are the pairs (2j, 2j + 1) and
// (2j + D/2, 2j + 1 + D/2); in a v head, rows 4j..4j+3 are the pairs (4j, 4j + 1) and (4j + 2, 4j + 3). Each pair
// is one word of an f16 pool (two of an f32 one), so every word is written whole by one lane.
{{STEP}}

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const HALF: u32 = HEAD_DIM / 2u;
const QUERY_HEADS: u32 = {{QUERY_HEADS}}u;
const KV_HEADS: u32 = {{KV_HEADS}}u;
const PAGE_SIZE: u32 = {{PAGE_SIZE}}u;
const KV_F16: bool = {{KV_F16}};

@group(0) @binding(5) var<uniform> step: Step;
@group(0) @binding(6) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read> pageTable: array<u32>;
@group(0) @binding(8) var<storage, read_write> keyPool: array<u32>;
@group(0) @binding(9) var<storage, read_write> valuePool: array<u32>;

{{KV_STORE}}

// Row `row` of the projection (the workgroup's row `rowLane`) finished: its dot times the norm's `scale`, plus its bias.
fn finishedRow(rowLane: u32, row: u32, scale: f32) -> f32 {
  var value = partialDots[rowLane] * scale;
  if (HAS_BIAS) {
    value += bias[row];
  }
  return value;
}

fn storeRows(lane: u32, token: u32, firstRow: u32, scale: f32) {
  if (lane >= ROWS / 4u) {
    return;
  }
  let quadLane = 4u * lane;
  let quadRow = firstRow + quadLane;
  let head = quadRow / HEAD_DIM;
  let headRow = quadRow % HEAD_DIM;
  let position = step.position + token;
  let rows = vec4<f32>(
    finishedRow(quadLane, quadRow, scale),
    finishedRow(quadLane + 1u, quadRow + 1u, scale),
    finishedRow(quadLane + 2u, quadRow + 2u, scale),
    finishedRow(quadLane + 3u, quadRow + 3u, scale),
  );
  // The two pairs of dimensions the quad fills: (dims, dims + 1) and (dims + offset, dims + offset + 1).
  var dims = headRow;
  var offset = 2u;
  var low = rows.xy;
  var high = rows.zw;
  if (head < QUERY_HEADS + KV_HEADS) {
    dims = headRow / 2u;
    offset = HALF;
    let r0 = rotate(rows.x, rows.y, rope[position * HALF + dims]);
    let r1 = rotate(rows.z, rows.w, rope[position * HALF + dims + 1u]);
    low = vec2<f32>(r0.x, r1.x);
    high = vec2<f32>(r0.y, r1.y);
  }
  if (head < QUERY_HEADS) {
    let qRow = (token * QUERY_HEADS + head) * HEAD_DIM;
    y[qRow + dims] = low.x;
    y[qRow + dims + 1u] = low.y;
    y[qRow + dims + offset] = high.x;
    y[qRow + dims + offset + 1u] = high.y;
    return;
  }
  let isKey = head < QUERY_HEADS + KV_HEADS;
  let kvHead = select(head - QUERY_HEADS - KV_HEADS, head - QUERY_HEADS, isKey);
  let rowWord = kvRowWord(step.pageTableOffset, position, kvHead, KV_HEADS, PAGE_SIZE);
  storePair(isKey, rowWord, dims, low);
  storePair(isKey, rowWord, dims + offset, high);
}
