// Fills a buffer with reproducible pseudo-random values in [-1, 1): synthetic KV caches for benchmarks and
// calibration, made on the GPU so that gigabytes never pass through JavaScript.
// Grid: 2D, (x, y) workgroups of 256; invocation i writes word i (i < params.words).
// Each u32 word holds two f16 values (params.packedHalves == 1) or one f32 (== 0).

struct Params {
  words: u32,
  seed: u32,
  packedHalves: u32,
  rowStride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> destination: array<u32>;

{{PCG}}

fn unitValue(bits: u32) -> f32 {
  return f32(bits >> 8u) / 8388608.0 - 1.0;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let index = id.y * params.rowStride + id.x;
  if (index >= params.words) {
    return;
  }
  let random = pcg(index ^ pcg(params.seed));
  if (params.packedHalves == 1u) {
    destination[index] = pack2x16float(vec2<f32>(unitValue(random), unitValue(pcg(random))));
  } else {
    destination[index] = bitcast<u32>(unitValue(random));
  }
}
