// The plain epilogue: lane r < ROWS finishes row firstRow + r of token `token` (its dot times the norm's `scale`,
// SwiGLU, bias, residual add) and writes it to y.
fn storeRows(lane: u32, token: u32, firstRow: u32, scale: f32) {
  let row = firstRow + lane;
  if (lane >= ROWS || row >= OUT_FEATURES) {
    return;
  }
  var value = partialDots[lane] * scale;
  if (GATED) {
    value = value / (1.0 + exp(-value)) * partialDots[ROWS + lane] * scale;
  }
  if (HAS_BIAS) {
    value += bias[row];
  }
  let outIndex = token * OUT_FEATURES + row;
  if (ACCUMULATE) {
    value += y[outIndex];
  }
  y[outIndex] = value;
}
