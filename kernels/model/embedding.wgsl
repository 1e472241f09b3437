// Embedding lookup: hidden[t] = E[tokens[position + t]] in f32, for the step's tokens.
// Grid: one workgroup per token; invocations stride over the row's octs (8 values each).

const WORKGROUP: u32 = 64u;

{{STEP}}

struct Shape {
  features: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> hidden: array<vec4<f32>>;

{{WEIGHTS}}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  let t = workgroupId.x;
  let token = tokens[step.position + t];
  let octsPerRow = shape.features / 8u;
  for (var oct = lane; oct < octsPerRow; oct += WORKGROUP) {
    let values = loadOct(token * octsPerRow + oct);
    hidden[2u * (t * octsPerRow + oct)] = values.low;
    hidden[2u * (t * octsPerRow + oct) + 1u] = values.high;
  }
}
