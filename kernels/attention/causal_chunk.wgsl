// What the causal attention of a prefill chunk and its merge share: the chunk uniform.
// The chunk is `count` query tokens at positions position … position + count − 1 of one sequence; token t sees the
// keys [0, position + t + 1). queries and out are [query token][query head][HEAD_DIM] f32, query head
// kvHead · GROUP + g. When a row block's keys are split over `splits` workgroups, split s of query row x (a row of
// out, of which there are count · numKvHeads · GROUP) keeps its state in slot s · rows + x of the partials.
struct Chunk {
  position: u32,
  count: u32,
  pageTableOffset: u32,
  splits: u32,
  numKvHeads: u32,
  scale: f32,
}
