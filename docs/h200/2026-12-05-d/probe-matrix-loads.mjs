// Which subgroup-matrix loads give the elements the extension says they do, on this adapter: the question the
// matrix-unit decode kernel (853aa47, reverted in 34725cd) left open when every float64 case failed on the H200 while
// the prefill kernel, which loads its matrices from workgroup memory only, passed in the same call.
//
// Each case loads one 16 × 16 f16 matrix with subgroupMatrixLoad from a source of 4,096 distinct halves (the integers
// −2048 … 2047, exact in f16), multiplies it by an identity matrix (exact in f32), stores the product and compares
// every element with the extension's rule: element (row i, column j) is source[offset + i·stride + j], or
// source[offset + j·stride + i] column-major. What differs, it names by the source index it got.
//
//   node docs/h200/2026-12-05-d/probe-matrix-loads.mjs [DAWN_TOGGLE ...]
//   (the H200: enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia[,disable_robustness])
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const toggles = ['disable-dawn-features=timestamp_quantization', ...process.argv.slice(2)];
const gpu = create(toggles);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('no WebGPU adapter');
const info = adapter.info;
console.log(`adapter: ${info.vendor} ${info.architecture} ${info.description}; toggles: ${toggles.join(' ')}`);
console.log(`subgroup matrix configs: ${JSON.stringify(info.subgroupMatrixConfigs ?? [])}`);
const wanted = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];
const features = wanted.filter((f) => adapter.features.has(f));
console.log(`features: ${features.join(', ') || 'none of ' + wanted.join(', ')}`);
const device = await adapter.requestDevice({
  requiredFeatures: features,
  requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize },
});
const hasMatrices = features.length === wanted.length;

const COUNT = 4096;
const SIDE = 16;
const valueOf = (index) => index - 2048;
const indexOf = (value) => value + 2048;

function halfBits(value) {
  // Integers up to 2048 in magnitude: exact in f16.
  if (value === 0) return 0;
  const sign = value < 0 ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  const exponent = Math.floor(Math.log2(magnitude));
  const mantissa = Math.round((magnitude / 2 ** exponent - 1) * 1024);
  return sign | ((exponent + 15) << 10) | mantissa;
}

const sourceHalves = new Uint16Array(COUNT);
for (let i = 0; i < COUNT; i++) sourceHalves[i] = halfBits(valueOf(i));
const source = device.createBuffer({ size: COUNT * 2, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(source, 0, sourceHalves);

const POISON = -12345;

/** Runs `code` on `workgroups` workgroups, its `result` poisoned first; its `outputs` f32 results, or undefined on error. */
async function dispatch(name, code, workgroups, outputs) {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const output = device.createBuffer({ size: outputs * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(output, 0, new Float32Array(outputs).fill(POISON));
  const readback = device.createBuffer({ size: outputs * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: source } }, { binding: 1, resource: { buffer: output } }] }));
  pass.dispatchWorkgroups(workgroups);
  pass.end();
  encoder.copyBufferToBuffer(output, 0, readback, 0, outputs * 4);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) {
    console.log(`${name}: ERROR ${error.message.split('\n').slice(0, 6).join(' | ')}`);
    return undefined;
  }
  await readback.mapAsync(GPUMapMode.READ);
  const values = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  return values;
}

/** Runs `body` (WGSL statements) in one workgroup of `workgroup` invocations; returns `outputs` f32 results. */
function run(name, body, workgroup, outputs) {
  const code = `
diagnostic(off, chromium.subgroup_matrix_uniformity);
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
const MATRIX: u32 = 16u;
@group(0) @binding(0) var<storage, read> source: array<f16>;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;
var<workgroup> staged: array<f16, ${COUNT}>;
var<workgroup> identity: array<f16, 256>;
var<workgroup> block: array<f32, ${outputs}>;
@compute @workgroup_size(${workgroup})
fn main(@builtin(local_invocation_index) lane: u32) {
  for (var i = lane; i < ${COUNT}u; i += ${workgroup}u) { staged[i] = source[i]; }
  for (var i = lane; i < 256u; i += ${workgroup}u) { identity[i] = select(0.0h, 1.0h, i / 16u == i % 16u); }
  workgroupBarrier();
  let subgroup = lane / 32u;
  let eyeLeft = subgroupMatrixLoad<subgroup_matrix_left<f16, MATRIX, MATRIX>>(&identity, 0u, false, 16u);
  let eyeRight = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&identity, 0u, false, 16u);
  let zero = subgroup_matrix_result<f32, MATRIX, MATRIX>();
${body}
}`;
  return dispatch(name, code, 1, outputs);
}

let passed = 0;
let failed = 0;
/** Compares `got` (SIDE × SIDE row-major per block) with `expected(block, i, j)`: a source index, or −1 to skip. */
function report(name, got, blocks, expected) {
  if (!got) {
    failed++;
    return;
  }
  const wrong = [];
  let checked = 0;
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < SIDE; i++) {
      for (let j = 0; j < SIDE; j++) {
        const want = expected(b, i, j);
        if (want < 0) continue;
        checked++;
        const value = got[b * 256 + i * SIDE + j];
        if (value !== valueOf(want)) wrong.push(`[${b}](${i},${j}) want ${want} got ${value === POISON ? 'unwritten' : Number.isInteger(value) ? indexOf(value) : value}`);
      }
    }
  }
  if (wrong.length === 0) passed++;
  else failed++;
  console.log(`${wrong.length ? 'FAIL' : 'ok  '} ${name}: ${wrong.length} of ${checked} wrong${wrong.length ? '; ' + wrong.slice(0, 6).join('; ') : ''}`);
}

// Plain f16 storage reads, no matrices: the pool as the decode kernel bound it.
{
  const code = `enable f16;
@group(0) @binding(0) var<storage, read> source: array<f16>;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) { result[id.x] = f32(source[id.x]); }`;
  if (features.includes('shader-f16')) {
    const name = 'plain f16 storage reads';
    const values = await dispatch(name, code, COUNT / 64, COUNT);
    let wrong = 0;
    if (values) for (let i = 0; i < COUNT; i++) if (values[i] !== valueOf(i)) wrong++;
    if (!values || wrong) failed++;
    else passed++;
    if (values) console.log(`${wrong ? 'FAIL' : 'ok  '} ${name}: ${wrong} of ${COUNT} wrong`);
  } else {
    console.log('skipped plain f16 storage reads: no shader-f16');
  }
}

if (!hasMatrices) {
  console.log(`skipped the matrix cases: the adapter lacks ${wanted.filter((f) => !features.includes(f)).join(', ')}`);
} else {
  // Where element (i, j) of a matrix loaded at (offset, colMajor, stride) comes from; −1 past the source (unchecked).
  const at = (offset, colMajor, stride) => (i, j) => {
    const index = offset + (colMajor ? j * stride + i : i * stride + j);
    return index < COUNT ? index : -1;
  };
  const placements = [
    [0, 16],
    [0, 128],
    [16, 128],
    [3 * 128 + 32, 128],
    [136, 136],
    // The last rows of the source: a load that ends exactly at its end.
    [COUNT - 15 * 128 - 16, 128],
  ];
  for (const workgroup of [32, 128]) {
    const subgroups = workgroup / 32;
    for (const from of ['source', 'staged']) {
      for (const kind of ['Right', 'Left']) {
        for (const colMajor of [false, true]) {
          for (const [offset, stride] of placements) {
            const product = kind === 'Right' ? 'subgroupMatrixMultiplyAccumulate(eyeLeft, m, zero)' : 'subgroupMatrixMultiplyAccumulate(m, eyeRight, zero)';
            const body = `
  let m = subgroupMatrixLoad<subgroup_matrix_${kind.toLowerCase()}<f16, MATRIX, MATRIX>>(&${from}, ${offset}u, ${colMajor}, ${stride}u);
  subgroupMatrixStore(&block, subgroup * 256u, ${product}, false, 16u);
  workgroupBarrier();
  for (var i = lane; i < ${subgroups * 256}u; i += ${workgroup}u) { result[i] = block[i]; }`;
            const name = `wg ${workgroup}, ${kind.toLowerCase()} from ${from === 'source' ? 'storage' : 'workgroup'}, ${colMajor ? 'column' : 'row'}-major, offset ${offset}, stride ${stride}`;
            const rule = at(offset, colMajor, stride);
            report(name, await run(name, body, workgroup, subgroups * 256), subgroups, (_, i, j) => rule(i, j));
          }
        }
      }
    }

    // Offsets known only at run time (the decode kernel's came from the page table): read from the source itself.
    for (const offset of [16, 416]) {
      const name = `wg ${workgroup}, right from storage, column-major, offset ${offset} known at run time, stride 128`;
      const body = `
  let offset = u32(f32(source[${2048 + offset}u]));
  let m = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&source, offset, true, 128u);
  subgroupMatrixStore(&block, subgroup * 256u, subgroupMatrixMultiplyAccumulate(eyeLeft, m, zero), false, 16u);
  workgroupBarrier();
  for (var i = lane; i < ${subgroups * 256}u; i += ${workgroup}u) { result[i] = block[i]; }`;
      const rule = at(offset, true, 128);
      report(name, await run(name, body, workgroup, subgroups * 256), subgroups, (_, i, j) => rule(i, j));
    }
    // The product stored straight to storage (row-major) instead of through workgroup memory.
    {
      const name = `wg ${workgroup}, right from storage, column-major, offset 16, stride 128, stored to storage`;
      const body = `
  let m = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&source, 16u, true, 128u);
  subgroupMatrixStore(&result, subgroup * 256u, subgroupMatrixMultiplyAccumulate(eyeLeft, m, zero), false, 16u);`;
      const rule = at(16, true, 128);
      report(name, await run(name, body, workgroup, subgroups * 256), subgroups, (_, i, j) => rule(i, j));
    }
    // A result matrix loaded back from workgroup memory (the decode kernel's rescaling of O did this).
    {
      const name = `wg ${workgroup}, result matrix stored and loaded back from workgroup memory`;
      const body = `
  let m = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&staged, 16u, true, 128u);
  subgroupMatrixStore(&block, subgroup * 256u, subgroupMatrixMultiplyAccumulate(eyeLeft, m, zero), false, 16u);
  workgroupBarrier();
  let back = subgroupMatrixLoad<subgroup_matrix_result<f32, MATRIX, MATRIX>>(&block, subgroup * 256u, false, 16u);
  workgroupBarrier();
  subgroupMatrixStore(&block, subgroup * 256u, subgroupMatrixMultiplyAccumulate(eyeLeft, eyeRight, back), false, 16u);
  workgroupBarrier();
  for (var i = lane; i < ${subgroups * 256}u; i += ${workgroup}u) { result[i] = block[i]; }`;
      // eyeLeft · eyeRight adds the identity to the loaded product.
      const rule = at(16, true, 128);
      const got = await run(name, body, workgroup, subgroups * 256);
      if (got) for (let b = 0; b < subgroups; b++) for (let i = 0; i < SIDE; i++) got[b * 256 + i * SIDE + i] -= 1;
      report(name, got, subgroups, (_, i, j) => rule(i, j));
    }
    // Arrays of right matrices assigned under a branch that is uniform in fact (the decode kernel's K and V blocks):
    // the 8 blocks of a 16-token tile's Kᵀ at d = 128, rows 3 … 18 of the source.
    for (const from of ['source', 'staged']) {
      const name = `wg ${workgroup}, array of 8 right matrices from ${from === 'source' ? 'storage' : 'workgroup memory'} under a branch, column-major, stride 128`;
      // Unrolled, as the kernel's builder unrolled it: constant indices into the array of matrices.
      const blocks = [0, 1, 2, 3, 4, 5, 6, 7];
      const body = `
  var blocks: array<subgroup_matrix_right<f16, MATRIX, MATRIX>, 8>;
  if (${from}[0] < 0.0h) {
${blocks.map((k) => `    blocks[${k}] = subgroupMatrixLoad<subgroup_matrix_right<f16, MATRIX, MATRIX>>(&${from}, ${3 * 128 + k * 16}u, true, 128u);`).join('\n')}
  }
${blocks.map((k) => `  subgroupMatrixStore(&block, (subgroup * 8u + ${k}u) * 256u, subgroupMatrixMultiplyAccumulate(eyeLeft, blocks[${k}], zero), false, 16u);`).join('\n')}
  workgroupBarrier();
  for (var i = lane; i < ${subgroups * 8 * 256}u; i += ${workgroup}u) { result[i] = block[i]; }`;
      report(name, await run(name, body, workgroup, subgroups * 8 * 256), subgroups * 8, (b, i, j) => at(3 * 128 + (b % 8) * 16, true, 128)(i, j));
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
