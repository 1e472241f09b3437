// Rotary position embedding on q and k, then k and v appended to the paged KV cache. q, k and v come from one
// projection: row t of qkv is [q heads | k heads | v heads]; the rotated q goes to its own buffer (attention's input).
// The q and k heads are in rope-paired order (engine/weights.ts): element 2i of a head is dimension i and element
// 2i + 1 is dimension i + D/2, the two that Hugging Face's rotate_half turns together (rope_kv_store.wgsl) by angle
// position · invFreq_i; v heads are in dimension order. q, k and v leave in dimension order.
// cos and sin come from a table computed in float64 on the host (row = position, column = i).
// Grid: (tokens, queryHeads + kvHeads); invocation m < D/4 owns dimensions 2m, 2m+1 and their partners
// 2m + D/2, 2m+1 + D/2 (elements 4m..4m+3 of a q or k head): two rotations whose results form whole packed words
// of the f16 pool.
{{STEP}}

const HEAD_DIM: u32 = {{HEAD_DIM}}u;
const HALF: u32 = HEAD_DIM / 2u;
const KV_F16: bool = {{KV_F16}};

struct Shape {
  queryHeads: u32,
  kvHeads: u32,
  pageSize: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read_write> q: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> pageTable: array<u32>;
@group(0) @binding(6) var<storage, read_write> keyPool: array<u32>;
@group(0) @binding(7) var<storage, read_write> valuePool: array<u32>;

{{KV_STORE}}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) m: u32, @builtin(workgroup_id) workgroupId: vec3<u32>) {
  if (m >= HEAD_DIM / 4u) {
    return;
  }
  let t = workgroupId.x;
  let head = workgroupId.y;
  let position = step.position + t;
  let low = 2u * m;
  let high = low + HALF;
  // Dimensions low, high, low + 1, high + 1 of a q or k head.
  let paired = 4u * m;
  let angle0 = rope[position * HALF + low];
  let angle1 = rope[position * HALF + low + 1u];
  let qkvRow = t * (shape.queryHeads + 2u * shape.kvHeads) * HEAD_DIM;

  if (head < shape.queryHeads) {
    let source = qkvRow + head * HEAD_DIM + paired;
    let r0 = rotate(qkv[source], qkv[source + 1u], angle0);
    let r1 = rotate(qkv[source + 2u], qkv[source + 3u], angle1);
    let base = (t * shape.queryHeads + head) * HEAD_DIM;
    q[base + low] = r0.x;
    q[base + low + 1u] = r1.x;
    q[base + high] = r0.y;
    q[base + high + 1u] = r1.y;
    return;
  }

  let kvHead = head - shape.queryHeads;
  let k = qkvRow + head * HEAD_DIM;
  let v = k + shape.kvHeads * HEAD_DIM;
  let rowWord = kvRowWord(step.pageTableOffset, position, kvHead, shape.kvHeads, shape.pageSize);
  let r0 = rotate(qkv[k + paired], qkv[k + paired + 1u], angle0);
  let r1 = rotate(qkv[k + paired + 2u], qkv[k + paired + 3u], angle1);
  storePair(true, rowWord, low, vec2<f32>(r0.x, r1.x));
  storePair(true, rowWord, high, vec2<f32>(r0.y, r1.y));
  storePair(false, rowWord, low, vec2<f32>(qkv[v + low], qkv[v + low + 1u]));
  storePair(false, rowWord, high, vec2<f32>(qkv[v + high], qkv[v + high + 1u]));
}
