// SwiGLU over the step's rows: activated[t][i] = silu(g) · u = g / (1 + exp(−g)) · u, where g = gateUp[t][i] and
// u = gateUp[t][FEATURES + i] (row t of the fused gate/up projection is [gate | up]).
// Grid: (ceil(features / 256), tokens); one invocation per element (2D: tokens × features / 256 outgrows one
// dimension's 65,535 workgroups for long chunks of wide models).

struct Shape {
  features: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> gateUp: array<f32>;
@group(0) @binding(2) var<storage, read_write> activated: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let feature = id.x;
  let t = id.y;
  if (feature >= shape.features) {
    return;
  }
  let gate = t * 2u * shape.features + feature;
  let g = gateUp[gate];
  activated[t * shape.features + feature] = g / (1.0 + exp(-g)) * gateUp[gate + shape.features];
}
