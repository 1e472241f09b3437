/**
 * A kernel written for subgroup matrices (16 × 16 × 16, f16 operands, f32 results, subgroups of 32), rewritten so that
 * an adapter without them or without f16 (SwiftShader, CI) runs the same code: every matrix becomes the 8 elements
 * its invocation holds in row-major order (invocation i: elements 8i … 8i + 7), loads, stores and products go through
 * workgroup memory by the matrix rules of the extension (element (r, c) at offset + r·stride + c, or offset + c·stride
 * + r when column-major), f16 values are f32 rounded to f16 wherever the kernel converts to f16, f16 storage arrays are
 * read as pairs of halves from u32 words, and shuffles between invocations go through workgroup memory (SwiftShader's
 * subgroups hold 4). The rounding is the kernel's exactly; the products' sums are f32 in a fixed order, as a tensor
 * core's may not be. What it checks is the kernel's own logic: indexing, masks, the softmax, the merge.
 */
export const EMULATED_MATRIX_UNITS = { M: 16, N: 16, K: 16, subgroupSize: 32 } as const;

const ELEMENTS = 8;

export function emulateMatrixUnits(code: string): string {
  // Comments first: they name f16 and the matrix builtins too.
  let s = code
    .replace(/[ \t]*\/\/.*$/gm, '')
    .replace('diagnostic(off, chromium.subgroup_matrix_uniformity);\n', '')
    .replace('enable f16;\n', '')
    .replace('enable chromium_experimental_subgroup_matrix;\n', '');
  s = s.replace(/subgroup_matrix_(left|right)<f16, MATRIX, MATRIX>/g, 'EmulatedMatrix').replace(/subgroup_matrix_result<f32, MATRIX, MATRIX>/g, 'EmulatedMatrix');
  // Storage arrays of f16 become u32 words of two halves; workgroup ones hold f32 rounded to f16.
  const halfStorage = [...s.matchAll(/var<storage, read> (\w+): array<f16>;/g)].map((m) => m[1]);
  s = s.replace(/var<storage, read> (\w+): array<f16>;/g, 'var<storage, read> $1: array<u32>;');
  for (const name of halfStorage) s = s.replace(new RegExp(`(?<![&\\w])${name}\\[([^\\]]+)\\]`, 'g'), `emulatedHalf_${name}($1)`);
  s = s.replace(/vec4<f16>\(/g, 'roundToHalf4(').replace(/\bvec4<f16>/g, 'vec4<f32>').replace(/\bf16\(/g, 'roundToHalf(');
  s = s.replace(/\barray<f16, /g, 'array<f32, ').replace(/(\d)h\b/g, '$1');
  if (/\bf16\b/.test(s)) throw new Error('emulateMatrixUnits: an f16 the rewrite does not know is left in the kernel');
  const arrays = new Set<string>();
  s = s.replace(/subgroupMatrixLoad<EmulatedMatrix>\(&(\w+), /g, (_, name: string) => (arrays.add(name), `emulatedLoad_${name}(`));
  s = s.replace(/subgroupMatrixStore\(&(\w+), /g, (_, name: string) => (arrays.add(name), `emulatedStore_${name}(`));
  s = s.replace(/subgroupMatrixMultiplyAccumulate\(/g, 'emulatedMultiplyAccumulate(').replace(/subgroupShuffle\(/g, 'emulatedShuffle(');
  const read = (name: string, at: string) => (halfStorage.includes(name) ? `emulatedHalf_${name}(${at})` : `f32(${name}[${at}])`);
  let helpers = `
alias EmulatedMatrix = array<f32, ${ELEMENTS}>;
var<private> emulatedLane: u32;
var<workgroup> emulatedLeft: array<f32, 256>;
var<workgroup> emulatedRight: array<f32, 256>;
var<workgroup> emulatedShuffled: array<f32, 32>;
fn roundToHalf(x: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x; }
fn roundToHalf4(x: vec4<f32>) -> vec4<f32> { return vec4<f32>(roundToHalf(x.x), roundToHalf(x.y), roundToHalf(x.z), roundToHalf(x.w)); }
fn emulatedAt(offset: u32, e: u32, colMajor: bool, stride: u32) -> u32 {
  let flat = emulatedLane * ${ELEMENTS}u + e;
  return select(offset + (flat / 16u) * stride + flat % 16u, offset + (flat % 16u) * stride + flat / 16u, colMajor);
}
fn emulatedMultiplyAccumulate(a: EmulatedMatrix, b: EmulatedMatrix, c: EmulatedMatrix) -> EmulatedMatrix {
  for (var e = 0u; e < ${ELEMENTS}u; e++) {
    emulatedLeft[emulatedLane * ${ELEMENTS}u + e] = a[e];
    emulatedRight[emulatedLane * ${ELEMENTS}u + e] = b[e];
  }
  workgroupBarrier();
  var result = c;
  for (var e = 0u; e < ${ELEMENTS}u; e++) {
    let flat = emulatedLane * ${ELEMENTS}u + e;
    for (var k = 0u; k < 16u; k++) {
      result[e] += emulatedLeft[(flat / 16u) * 16u + k] * emulatedRight[k * 16u + flat % 16u];
    }
  }
  workgroupBarrier();
  return result;
}
fn emulatedShuffle(x: f32, source: u32) -> f32 {
  emulatedShuffled[emulatedLane] = x;
  workgroupBarrier();
  let y = emulatedShuffled[source];
  workgroupBarrier();
  return y;
}
`;
  for (const name of halfStorage) {
    helpers += `fn emulatedHalf_${name}(at: u32) -> f32 { return unpack2x16float(${name}[at / 2u])[at % 2u]; }\n`;
  }
  for (const name of arrays) {
    helpers += `fn emulatedLoad_${name}(offset: u32, colMajor: bool, stride: u32) -> EmulatedMatrix {
  var m: EmulatedMatrix;
  for (var e = 0u; e < ${ELEMENTS}u; e++) { m[e] = ${read(name, 'emulatedAt(offset, e, colMajor, stride)')}; }
  return m;
}
`;
    if (!halfStorage.includes(name)) {
      helpers += `fn emulatedStore_${name}(offset: u32, m: EmulatedMatrix, colMajor: bool, stride: u32) {
  for (var e = 0u; e < ${ELEMENTS}u; e++) { ${name}[emulatedAt(offset, e, colMajor, stride)] = m[e]; }
}
`;
    }
  }
  const entry = s.indexOf('@compute');
  s = s.slice(0, entry) + helpers + s.slice(entry);
  // The lane index for the helpers, set first thing in the entry point.
  return s.replace(/(fn main\((?:.|\n)*?@builtin\(local_invocation_index\) (\w+): u32(?:.|\n)*?\) \{\n)/, '$1  emulatedLane = $2;\n');
}
