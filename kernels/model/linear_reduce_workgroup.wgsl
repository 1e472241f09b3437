// Sums each of the first REDUCED partial sums over the workgroup into partialDots[i], through workgroup memory.
var<workgroup> partialDots: array<f32, REDUCED * WORKGROUP>;

fn sumPartialDots(acc: array<f32, SUMS>, lane: u32) {
  // unroll
  for (var i = 0u; i < REDUCED; i++) {
    partialDots[i * WORKGROUP + lane] = acc[i];
  }
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      // unroll
      for (var i = 0u; i < REDUCED; i++) {
        partialDots[i * WORKGROUP + lane] += partialDots[i * WORKGROUP + lane + stride];
      }
    }
    workgroupBarrier();
  }
  // Compact the totals to the front, where the caller reads them.
  var total = 0.0;
  if (lane < REDUCED) {
    total = partialDots[lane * WORKGROUP];
  }
  workgroupBarrier();
  if (lane < REDUCED) {
    partialDots[lane] = total;
  }
  workgroupBarrier();
}
