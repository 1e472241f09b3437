// Rotary position embedding on q and k, then k and v appended to the paged KV cache. q, k and v come from one
// projection: row t of qkv is [q heads | k heads | v heads]; the rotated q goes to its own buffer (attention's input).
// Hugging Face's rotate_half convention: dimension i pairs with i + D/2 and turns by angle position · invFreq_i:
//   x'_i       = x_i · cos − x_{i+D/2} · sin
//   x'_{i+D/2} = x_{i+D/2} · cos + x_i · sin
// cos and sin come from a table computed in float64 on the host (row = position, column = i).
// Grid: (tokens, queryHeads + kvHeads); invocation m < D/4 owns dimensions 2m, 2m+1 and their partners
// 2m + D/2, 2m+1 + D/2: two rotations whose results form whole packed words of the f16 pool.
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

fn rotate(x: f32, partner: f32, angle: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(x * angle.x - partner * angle.y, partner * angle.x + x * angle.y);
}

// Writes dims (d, d + 1) of a K or V row into the pool at row word offset `rowWord`.
fn storePair(isKey: bool, rowWord: u32, d: u32, pair: vec2<f32>) {
  if (KV_F16) {
    let word = pack2x16float(pair);
    if (isKey) { keyPool[rowWord + d / 2u] = word; } else { valuePool[rowWord + d / 2u] = word; }
  } else {
    let words = bitcast<vec2<u32>>(pair);
    if (isKey) {
      keyPool[rowWord + d] = words.x;
      keyPool[rowWord + d + 1u] = words.y;
    } else {
      valuePool[rowWord + d] = words.x;
      valuePool[rowWord + d + 1u] = words.y;
    }
  }
}

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
  let angle0 = rope[position * HALF + low];
  let angle1 = rope[position * HALF + low + 1u];
  let qkvRow = t * (shape.queryHeads + 2u * shape.kvHeads) * HEAD_DIM;

  if (head < shape.queryHeads) {
    let source = qkvRow + head * HEAD_DIM;
    let r0 = rotate(qkv[source + low], qkv[source + high], angle0);
    let r1 = rotate(qkv[source + low + 1u], qkv[source + high + 1u], angle1);
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
  let page = pageTable[step.pageTableOffset + position / shape.pageSize];
  let slot = position % shape.pageSize;
  let rowWords = select(HEAD_DIM, HEAD_DIM / 2u, KV_F16);
  let rowWord = ((page * shape.kvHeads + kvHead) * shape.pageSize + slot) * rowWords;
  let r0 = rotate(qkv[k + low], qkv[k + high], angle0);
  let r1 = rotate(qkv[k + low + 1u], qkv[k + high + 1u], angle1);
  storePair(true, rowWord, low, vec2<f32>(r0.x, r1.x));
  storePair(true, rowWord, high, vec2<f32>(r0.y, r1.y));
  storePair(false, rowWord, low, vec2<f32>(qkv[v + low], qkv[v + low + 1u]));
  storePair(false, rowWord, high, vec2<f32>(qkv[v + high], qkv[v + high + 1u]));
}
