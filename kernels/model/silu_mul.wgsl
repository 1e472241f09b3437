// SwiGLU over the step's rows: activated[t][i] = silu(g) · u = g / (1 + exp(−g)) · u, where g = gateUp[t][i] and
// u = gateUp[t][FEATURES + i] (row t of the fused gate/up projection is [gate | up]).
// Grid: (ceil(tokens · features / 256)); one invocation per element.

{{STEP}}

struct Shape {
  features: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> gateUp: array<f32>;
@group(0) @binding(3) var<storage, read_write> activated: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= step.tokenCount * shape.features) {
    return;
  }
  let t = i / shape.features;
  let gate = t * 2u * shape.features + i % shape.features;
  let g = gateUp[gate];
  activated[i] = g / (1.0 + exp(-g)) * gateUp[gate + shape.features];
}
