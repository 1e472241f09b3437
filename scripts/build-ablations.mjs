// Builds the decode step's ablations: copies of dist-node/ in which one part of the step is removed or emptied, so
// that `bench-decode` run from each (beside the plain build, in one GPU call) says what that part costs inside the
// model. Their outputs are wrong by design (but those of the exact alternatives, marked so): run them with
// `bench-decode --skip-mask` and read only the times.
//   node scripts/build-ablations.mjs [NAME...]        (default: all; each into dist-ablate-NAME/)
//   NAME may join several with '+' (kv-rows-64+no-unpack): their replacements applied in turn, in one build.
// Each ablation is a few text replacements in a copy of the tracked sources; an anchor that no longer matches stops
// the script, so a refactor cannot silently measure the wrong thing.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

// Conditions uniform in every workgroup, always true (no grid is that large) or never true (pages hold at least
// one token) at run time, that no compiler can decide: the code and bindings they bypass stay in the kernel.
const ALWAYS = 'workgroupId.x < 4000000000u';
const NEVER = 'params.pageSize == 0u';
const RETURN_AT_ONCE = `  if (${ALWAYS}) { return; }\n`;
const ATTENTION = 'kernels/attention/streamed_attention.wgsl';
const KV_F16_VECTORS = 'kernels/attention/kv_f16_vectors.wgsl';
const TOKEN_LOOP = '    for (var base = firstToken; base < endToken; base += STEP) {';
const ATTENTION_ENTRY = '  @builtin(workgroup_id) workgroupId: vec3<u32>,\n) {\n';
// A step's V loads, issued after its K loads.
const V_LOADS = `      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          v[u][w] = values[firstWord[u] + w * LANES];
        }
      }
`;
const STREAM_MERGE = /    \/\/ Merge the streams: [\s\S]*?\n(    tile = segmentEnd;)/;
const NO_ATTENTION = {
  file: 'engine/model.ts',
  from: 'encodeAttention = (pass, layer) => attention.encodeInPass(pass, bindings[layer]);',
  to: 'encodeAttention = () => 0;',
};
const EMPTY_PROJECTIONS = { file: 'kernels/model/linear.wgsl', from: '  {{SUBGROUP_BUILTINS}}\n) {\n', to: `  {{SUBGROUP_BUILTINS}}\n) {\n${RETURN_AT_ONCE}` };

const STAGGER_ANCHOR = '  let rowStart = subgroupLane - rowLane;\n';
/** The anchor, then `spins` dependent multiply-adds in odd subgroups whose result the query scale depends on. */
function staggered(spins) {
  return `${STAGGER_ANCHOR}  var spin = params.scale;
  if (((lane / subgroupSize) & 1u) == 1u) {
    for (var i = 0u; i < ${spins}u; i++) {
      spin = fma(spin, 1.0000001, 1e-7);
    }
  }
  let queryScale = select(params.scale, 0.5, spin == -1.0);
`;
}

const DECODE_ATTENTION = 'kernels/attention/decodeAttention.ts';
const LINEAR = 'kernels/model/linear.ts';
const MERGE = 'kernels/attention/merge_partials.wgsl';
const VARIANT = 'kernels/attention/variant.ts';
const RANGE_CLAIMS = '@group(0) @binding(9) var<storage, read_write> rangeClaims: array<atomic<u32>, 4>;';
/** The ablation's replacements: ranges claimed at run time, `k` ranges per workgroup of the calibrated grid. */
function claimedRanges(k) {
  return [
    {
      file: ATTENTION,
      from: '@group(0) @binding(8) var<storage, read_write> partials: array<f32>;\n',
      to: `@group(0) @binding(8) var<storage, read_write> partials: array<f32>;
// (next ticket, ranges, workgroups dispatched, unused)
${RANGE_CLAIMS}
var<workgroup> claimed: u32;
`,
    },
    {
      file: ATTENTION,
      from: '  let range = workRanges[workgroupId.x];\n  let rangeEnd = range.y;\n',
      to: `  if (lane == 0u) {
    claimed = atomicLoad(&rangeClaims[1]);
  }
  let rangeCount = workgroupUniformLoad(&claimed);
  if (lane == 0u) {
    claimed = atomicLoad(&rangeClaims[2]);
  }
  let dispatched = workgroupUniformLoad(&claimed);
  var rangeIndex = workgroupId.x;
  while (rangeIndex < rangeCount) {
  if (lane == 0u) {
    claimed = atomicAdd(&rangeClaims[0], 1u);
  }
  let range = workRanges[rangeIndex];
  let rangeEnd = range.y;
`,
    },
    {
      file: ATTENTION,
      from: '    segment += 1u;\n  }\n}\n',
      to: '    segment += 1u;\n  }\n  rangeIndex = dispatched + workgroupUniformLoad(&claimed);\n  }\n}\n',
    },
    { file: MERGE, from: '@group(0) @binding(4) var<storage, read_write> out: array<f32>;\n', to: `@group(0) @binding(4) var<storage, read_write> out: array<f32>;\n${RANGE_CLAIMS.replace('binding(9)', 'binding(5)')}\n` },
    {
      file: MERGE,
      from: '  let split = splitHeads[workgroupId.x / ROWS];\n',
      to: '  if (workgroupId.x == 0u && lane == 0u) {\n    atomicStore(&rangeClaims[0], 0u);\n  }\n  let split = splitHeads[workgroupId.x / ROWS];\n',
    },
    { file: DECODE_ATTENTION, from: '  private readonly splitHeads: GPUBuffer;\n', to: '  private readonly splitHeads: GPUBuffer;\n  private readonly rangeClaims: GPUBuffer;\n' },
    {
      file: DECODE_ATTENTION,
      from: "    this.splitHeads = createStorageBuffer(device, 'attention split heads', 16 * maxHeads);\n",
      to: "    this.splitHeads = createStorageBuffer(device, 'attention split heads', 16 * maxHeads);\n    this.rangeClaims = createStorageBuffer(device, 'range claims', 16);\n",
    },
    {
      file: DECODE_ATTENTION,
      from: '        { binding: 8, resource: { buffer: this.partials } },\n',
      to: "        { binding: 8, resource: { buffer: this.partials } },\n        ...(this.variant.kind === 'streamed' ? [{ binding: 9, resource: { buffer: this.rangeClaims } }] : []),\n",
    },
    {
      file: DECODE_ATTENTION,
      from: '        { binding: 4, resource: { buffer: io.out } },\n',
      to: '        { binding: 4, resource: { buffer: io.out } },\n        { binding: 5, resource: { buffer: this.rangeClaims } },\n',
    },
    {
      file: DECODE_ATTENTION,
      from: '      const plan = this.plan.build(tiles, { kernel, grid: this.grid, splits: this.splits });\n',
      to: `      const plan = this.plan.build(tiles, { kernel, grid: kernel === 'lean' ? ${k} * this.grid : this.grid, splits: this.splits });\n`,
    },
    {
      file: DECODE_ATTENTION,
      from: '    queue.writeBuffer(this.heads, 0, this.headRecords',
      to: '    queue.writeBuffer(this.rangeClaims, 0, new Uint32Array([0, this.plan.rangeCount, this.dispatchedRanges(), 0]));\n    queue.writeBuffer(this.heads, 0, this.headRecords',
    },
    {
      file: DECODE_ATTENTION,
      from: '      pass.dispatchWorkgroups(this.plan.rangeCount);\n',
      to: '      pass.dispatchWorkgroups(this.dispatchedRanges());\n',
    },
    {
      file: DECODE_ATTENTION,
      from: '  destroy(): void {\n',
      to: "  private dispatchedRanges(): number {\n    return this.kernel === 'lean' && this.variant.kind === 'streamed' ? Math.min(this.plan.rangeCount, this.grid) : this.plan.rangeCount;\n  }\n\n  destroy(): void {\n",
    },
  ];
}

const ABLATIONS = {
  // Decode records no attention dispatch: the step's other 69 (on the 1B shape) alone.
  'no-attention': [NO_ATTENTION],
  // The attention kernel returns at once (the merge dispatch still runs): a dispatch's own cost.
  'empty-attention': [{ file: ATTENTION, from: ATTENTION_ENTRY, to: ATTENTION_ENTRY + RETURN_AT_ONCE }],
  // The attention kernel skips its loop over the tokens: what the rest of it (plan, queries, merges) costs.
  'no-token-loop': [
    {
      file: ATTENTION,
      from: TOKEN_LOOP,
      to: `    for (var base = select(firstToken, endToken, ${ALWAYS}); base < endToken; base += STEP) {`,
    },
  ],
  // The attention kernel's token loop loads K and V but does no arithmetic on them (each word folded into one
  // integer): whether the loop is bound by its loads or by its arithmetic.
  'kv-loads-only': [
    {
      file: ATTENTION,
      from: /      \/\/ Scores of this lane's own rows[\s\S]*?\n(    }\n\n    \/\/ Merge the streams)/,
      to: `      // unroll
      for (var u = 0u; u < UNROLL; u++) {
        // unroll
        for (var w = 0u; w < VECTORS; w++) {
          loadSink ^= k[u][w].x ^ k[u][w].y ^ k[u][w].z ^ k[u][w].w ^ v[u][w].x ^ v[u][w].y ^ v[u][w].z ^ v[u][w].w;
        }
      }
$1`,
    },
    {
      file: ATTENTION,
      from: TOKEN_LOOP,
      to: `    var loadSink = 0u;\n${TOKEN_LOOP}`,
    },
    {
      file: ATTENTION,
      from: '    // Merge the streams:',
      to: `    if (${NEVER}) {\n      partials[0] = bitcast<f32>(loadSink);\n    }\n    // Merge the streams:`,
    },
  ],
  // The attention kernel skips the merge of its streams at the end of a segment and writes no output or partial
  // state (o and the softmax state folded into one value that is never written): what that merge costs.
  'no-stream-merge': [
    {
      file: ATTENTION,
      from: STREAM_MERGE,
      to: `    var stateSink = 0.0;
    // unroll
    for (var j = 0u; j < LANE_ROWS; j++) {
      stateSink += runningMax[j] + runningSum[j];
    }
    // unroll
    for (var r = 0u; r < ROWS; r++) {
      // unroll
      for (var i = 0u; i < LANE_QUADS; i++) {
        stateSink += dot(acc[r][i], vec4<f32>(1.0));
      }
    }
    if (${NEVER}) {
      out[0] = stateSink;
      partials[0] = stateSink;
    }
$1`,
    },
  ],
  // What parts of the token loop's arithmetic cost (outputs wrong by design except int-unpack's). No rescaling of o
  // when a row's running max grows (and no shuffle of the factor from the row's owner):
  'no-rescale': [{ file: ATTENTION, from: '          acc[r][i] *= rowRescale;\n', to: '' }],
  // q·k not summed across a K row's lanes (each lane keeps its own share): the reduce-scatter's shuffles.
  'no-score-shuffles': [
    { file: ATTENTION, from: 'kept + subgroupShuffleXor(given, partner)', to: 'kept + given' },
    { file: ATTENTION, from: '(*held)[j] += subgroupShuffleXor((*held)[j + half], partner);', to: '(*held)[j] += (*held)[j + half];' },
    { file: ATTENTION, from: '(*held)[j] += subgroupShuffleXor((*held)[j], partner);', to: '(*held)[j] += (*held)[j];' },
  ],
  // Each lane uses its own rows' softmax values for every row instead of taking them from the rows' owners: the
  // shuffles that hand the weights and the rescaling factors on.
  'no-weight-shuffles': [
    { file: ATTENTION, from: '  return subgroupShuffle(owned, rowStart + rowOwner(r));\n', to: '  return owned;\n' },
  ],
  // K and V words taken as f32 bits, not unpacked from halves: what unpack2x16float costs at most.
  'no-unpack': [
    {
      file: KV_F16_VECTORS,
      from: /  return array\(\n    vec4<f32>\(unpack2x16float\(word.x\), unpack2x16float\(word.y\)\),\n    vec4<f32>\(unpack2x16float\(word.z\), unpack2x16float\(word.w\)\),\n  \);/,
      to: '  return array(bitcast<vec4<f32>>(word), bitcast<vec4<f32>>(word.yxwz));',
    },
  ],
  // Halves widened by integer operations (magnitude shifted into an f32's bits, times 2^112, the sign or'ed in), in
  // place of unpack2x16float: exact for normal halves; whether the conversion instruction is the cost.
  'int-unpack': [
    {
      file: KV_F16_VECTORS,
      from: /  return array\(\n    vec4<f32>\(unpack2x16float\(word.x\), unpack2x16float\(word.y\)\),\n    vec4<f32>\(unpack2x16float\(word.z\), unpack2x16float\(word.w\)\),\n  \);/,
      to: `  return array(
    vec4<f32>(halvesByIntegers(word.x), halvesByIntegers(word.y)),
    vec4<f32>(halvesByIntegers(word.z), halvesByIntegers(word.w)),
  );
}

fn halvesByIntegers(word: u32) -> vec2<f32> {
  let magnitudes = (vec2<u32>(word, word >> 16u) & vec2<u32>(0x7fffu)) << vec2<u32>(13u);
  let signs = vec2<u32>(word << 16u, word) & vec2<u32>(0x80000000u);
  return bitcast<vec2<f32>>(magnitudes | signs) * 5.192296858534828e33;`,
    },
  ],
  // An exact alternative (outputs right): every lane holds the query rows in row order, the reduce-scatter selecting
  // the rows it keeps (as before the per-lane order).
  'rows-in-order': [{ file: ATTENTION, from: 'const ROWS_PERMUTED: bool = ROWS == PADDED_ROWS;', to: 'const ROWS_PERMUTED: bool = false;' }],
  // An exact alternative: the merge loads 8 partial states a part at once, not 4 (a head split 33 ways at d=128 is
  // one round of loads for every part, not two for the first).
  'merge-batch-8': [{ file: VARIANT, from: 'const MERGE_BATCH = 4;', to: 'const MERGE_BATCH = 8;' }],
  // K and V rows wrapped into the pool's first N (64: 16 KiB of each at d=128, within an SM's L1; 2,048: 512 KiB,
  // within the L2), so that after the first touch they come from a cache, not from memory: the kernel's time when
  // its loads hardly wait, i.e. what its arithmetic costs on its own.
  ...Object.fromEntries([64, 2048].map((rows) => [
    `kv-rows-${rows}`,
    [
      {
        file: ATTENTION,
        from: '        let row = page * pageRows + kvHeadRow + read % PAGE_SIZE;\n',
        to: `        let row = (page * pageRows + kvHeadRow + read % PAGE_SIZE) % ${rows}u;\n`,
      },
    ],
  ])),
  // Odd subgroups spin (a chain of dependent multiply-adds) before their first load: whether every workgroup
  // starting its loads and its arithmetic in step is what the token loop's fixed cost is made of.
  ...Object.fromEntries([100, 300, 1000].map((spins) => [
    `stagger-${spins}`,
    [
      { file: ATTENTION, from: STAGGER_ANCHOR, to: staggered(spins) },
      { file: ATTENTION, from: 'laneQuad(rowLane, w, j)] * params.scale;', to: 'laneQuad(rowLane, w, j)] * queryScale;' },
    ],
  ])),
  // LeanAttention's grid cut into K times as many ranges as workgroups: each workgroup takes its own range, then
  // claims the next free one with an atomic counter (reset by the merge dispatch), so a workgroup that ran ahead takes
  // work a slower one would have had: whether the workgroups finishing apart (a tail) is the token loop's fixed cost.
  ...Object.fromEntries([2, 4].map((k) => [`claimed-ranges-${k}`, claimedRanges(k)])),
  // An exact alternative: a step's V loads issued once its scores are taken, into registers its K loads no longer
  // need, so that K and V of a step are never held at once: whether fewer registers buy a third workgroup an SM
  // (run it at a grid of 3 a SM) worth the V loads' latency it no longer hides behind the scores.
  'v-after-scores': [
    { file: ATTENTION, from: V_LOADS, to: '' },
    { file: ATTENTION, from: '      // Online softmax of the own rows:', to: `${V_LOADS}      // Online softmax of the own rows:` },
  ],
  // Exact alternatives: streamed workgroups of 160 or 192 invocations (5 or 6 subgroups of 32): whether two of them
  // still fit an SM's registers, i.e. whether the kernel's residency can grow past 8 subgroups an SM.
  ...Object.fromEntries([160, 192].map((workgroup) => [
    `workgroup-${workgroup}`,
    [
      { file: VARIANT, from: 'const STREAMED_WORKGROUP = 128;', to: `const STREAMED_WORKGROUP = ${workgroup};` },
      { file: VARIANT, from: '(workgroup & (workgroup - 1)) === 0', to: 'workgroup % 32 === 0' },
    ],
  ])),
  // Exact alternatives: one schedule for every decode GEMV of a kind (linearSchedule's rules, whatever the row width),
  // to compare inside the step; a single GEMV timed alone (bench/linear.ts) reads at whatever clock the GPU dropped to
  // between rows.
  ...Object.fromEntries([
    ['gated', /^(  if \(b\.gated\) return ).*;$/m, [[64, 4, 1], [256, 4, 1], [128, 2, 8], [256, 2, 2], [128, 4, 2], [128, 2, 2], [64, 4, 2]]],
    ['long-rows', /^(  if \(b\.inFeatures >= 8192\) return ).*;$/m, [[128, 2, 8], [256, 2, 4], [128, 4, 4]]],
    ['lm-head', /^(  if \(b\.outFeatures >= 65536\) return ).*;$/m, [[256, 2, 4], [128, 2, 8]]],
    ['other', /^(  return )[^;]*batchSteps[^;]*;$/m, [[128, 4, 2], [64, 2, 8], [128, 4, 4], [128, 2, 2], [64, 4, 4]]],
  ].flatMap(([kind, rule, schedules]) => schedules.map(([workgroup, rows, batchSteps]) => [
    `linear-${kind}-w${workgroup}-r${rows}-b${batchSteps}`,
    // $1: the rule's line up to its schedule.
    [{ file: LINEAR, from: rule, to: `$1{ workgroup: ${workgroup}, rows: ${rows}, batchSteps: ${batchSteps} };` }],
  ]))),
  // Every decode GEMV returns at once: the projections' dispatches without their reading.
  'empty-projections': [EMPTY_PROJECTIONS],
  // Both: the fixed cost of the step's remaining dispatches (embedding, norms, sampling run as ever).
  'empty-projections-no-attention': [NO_ATTENTION, EMPTY_PROJECTIONS],
};

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(ABLATIONS);
/** The replacements of a name, or of each of the names it joins with '+', in turn. */
function replacementsOf(name) {
  return name.split('+').flatMap((part) => {
    if (!(part in ABLATIONS)) throw new Error(`no ablation ${part}; there are: ${Object.keys(ABLATIONS).join(', ')}`);
    return ABLATIONS[part];
  });
}
const replacements = new Map(names.map((name) => [name, replacementsOf(name)]));

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0');
// The weights stay behind: the build imports only the built-in model's small JSON files.
const sources = tracked.filter((file) => file && !/^(docs|e2e|app)\//.test(file) && !file.endsWith('.safetensors'));
for (const name of names) {
  const copy = mkdtempSync(join(tmpdir(), `ablate-${name}-`));
  try {
    for (const file of sources) cpSync(join(root, file), join(copy, file));
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    for (const { file, from, to } of replacements.get(name)) {
      const path = join(copy, file);
      const text = readFileSync(path, 'utf8');
      if (typeof from === 'string' ? !text.includes(from) : !from.test(text)) {
        throw new Error(`ablation ${name}: ${file} no longer contains ${typeof from === 'string' ? JSON.stringify(from) : from}`);
      }
      writeFileSync(path, text.replace(from, to));
    }
    const out = join(root, `dist-ablate-${name}`);
    execFileSync('npx', ['vite', 'build', '-c', 'vite.node.config.ts', '--outDir', out], { cwd: copy, stdio: ['ignore', 'ignore', 'inherit'] });
    console.log(`built ${out}`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
