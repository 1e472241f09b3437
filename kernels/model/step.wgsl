// What changes from one forward call to the next, written once per call and read by every kernel of it.
struct Step {
  // Tokens in this call (1 for a decode step, the chunk length for prefill).
  tokenCount: u32,
  // Position of the call's first token in its sequence.
  position: u32,
  // Where the sequence's page table starts in the page table buffer.
  pageTableOffset: u32,
  // Row of the call's last token: the one whose logits are computed.
  lastRow: u32,
}
