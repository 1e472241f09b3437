// The work heads of a plan, shared by the attention and merge kernels.
//
// A work head is QUERIES consecutive query tokens (1 for decode, where each is a sequence; a block of a prefill
// chunk otherwise) against one KV head: ROWS = QUERIES · GROUP query rows, row r = query r / GROUP of the block,
// query head kvHead · GROUP + r % GROUP. All its rows share one walk over the head's K and V.
// The queries are causal: query i of a block of queryCount sees the first length − (queryCount − 1 − i) tokens,
// so the block's last query sees all `length` of them (decode: the one query sees the whole context).
const ROWS: u32 = QUERIES * GROUP;

struct Params {
  numKvHeads: u32,
  pageSize: u32,
  scale: f32,
}

struct WorkHead {
  firstTile: u32,
  firstQuery: u32,
  queryCount: u32,
  kvHead: u32,
  length: u32,
  pageTableOffset: u32,
}

// The query of row `row` within its block (rows past queryCount repeat the last query: computed, never written).
fn blockQuery(head: WorkHead, row: u32) -> u32 {
  return min(row / GROUP, head.queryCount - 1u);
}

// Index of row `row` in queries and out, laid out [query token][query head][HEAD_DIM].
fn queryRowIndex(head: WorkHead, row: u32) -> u32 {
  return ((head.firstQuery + blockQuery(head, row)) * params.numKvHeads + head.kvHead) * GROUP + row % GROUP;
}

// Tokens [0, visibleLength) are in row `row`'s causal window.
fn visibleLength(head: WorkHead, row: u32) -> u32 {
  return head.length - (head.queryCount - 1u - blockQuery(head, row));
}

fn rowIsWritten(head: WorkHead, row: u32) -> bool {
  return row / GROUP < head.queryCount;
}
