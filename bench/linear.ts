// Decode projection benchmark: the GEMV of every matrix of a model shape, under several schedules, in one run.
//   node dist-node/linear.mjs [--shape llama-3.2-1b] [--quick] [--repeats N] [--toggles enable-dawn-features=...]
// 1. The floor: the adapter's read bandwidth, from a streaming-read kernel.
// 2. Each matrix of one decode step (fused q/k/v, o, fused gate/up with SwiGLU, down, the LM head) under each
//    schedule: GPU time, effective bandwidth and its share of the floor; the engine's own choice marked.
// 3. The cost of a dispatch: a chain of small GEMVs that each depend on the last (Dawn puts a barrier between
//    them) against the same number writing separate buffers, and one alone.
// 4. The RMS norm folded into the GEMV that reads it, against a norm dispatch before it.
// 5. One decode step's projections, in the engine's order and with its schedules, against their weight bytes.
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import type { GpuContext } from '../kernels/gpu/context.ts';
import { measureReadBandwidth } from '../kernels/bandwidth/measureBandwidth.ts';
import { createStorageBuffer } from '../kernels/gpu/buffers.ts';
import { fillRandom } from '../kernels/gpu/fillRandom.ts';
import { measurePasses } from '../kernels/gpu/timing.ts';
import { dispatch, type BoundKernel } from '../kernels/model/boundKernel.ts';
import { bindLinear, linearSchedule, reducedPartialSums, type LinearSchedule } from '../kernels/model/linear.ts';
import { bindRmsNorm } from '../kernels/model/rmsNorm.ts';
import { GREEDY, Sampler, samplerBatch, samplerWorkgroup } from '../kernels/model/sampler.ts';
import { StepUniform } from '../kernels/model/stepUniform.ts';
import { runProgram } from '../cli/exit.ts';
import { parseFlags } from '../cli/flags.ts';
import { projectionBenchFlags } from './benchFlags.ts';
import { formatTable } from '../cli/table.ts';

interface Matrix {
  name: string;
  inFeatures: number;
  outFeatures: number;
  gated?: boolean;
  accumulate?: boolean;
  /** RMS norm folded in (as the engine runs q/k/v and gate/up). */
  normed?: boolean;
  /** How many times one decode step runs it. */
  perStep: number;
}

const SCHEDULES: LinearSchedule[] = [
  { workgroup: 64, rows: 4, batchSteps: 1 },
  { workgroup: 64, rows: 4, batchSteps: 4 },
  { workgroup: 64, rows: 8, batchSteps: 2 },
  { workgroup: 128, rows: 1, batchSteps: 4 },
  { workgroup: 128, rows: 2, batchSteps: 2 },
  { workgroup: 128, rows: 2, batchSteps: 4 },
  { workgroup: 128, rows: 4, batchSteps: 2 },
  { workgroup: 128, rows: 4, batchSteps: 4 },
  { workgroup: 256, rows: 1, batchSteps: 2 },
  { workgroup: 256, rows: 2, batchSteps: 1 },
  { workgroup: 256, rows: 2, batchSteps: 4 },
  { workgroup: 256, rows: 4, batchSteps: 2 },
  { workgroup: 256, rows: 8, batchSteps: 1 },
  { workgroup: 32, rows: 4, batchSteps: 1 },
  { workgroup: 64, rows: 2, batchSteps: 1 },
  { workgroup: 64, rows: 2, batchSteps: 2 },
  { workgroup: 64, rows: 1, batchSteps: 4 },
  { workgroup: 64, rows: 2, batchSteps: 8 },
  { workgroup: 128, rows: 1, batchSteps: 2 },
  { workgroup: 128, rows: 1, batchSteps: 8 },
  { workgroup: 128, rows: 2, batchSteps: 8 },
  { workgroup: 256, rows: 1, batchSteps: 4 },
  { workgroup: 256, rows: 2, batchSteps: 2 },
  { workgroup: 256, rows: 4, batchSteps: 1 },
  { workgroup: 256, rows: 16, batchSteps: 1 },
];

// A CPU adapter (SwiftShader) runs a workgroup's invocations in turn, so its candidates are small workgroups; the GPU
// list above takes minutes a matrix there.
const CPU_SCHEDULES: LinearSchedule[] = [
  { workgroup: 8, rows: 1, batchSteps: 1 },
  { workgroup: 8, rows: 2, batchSteps: 1 },
  { workgroup: 8, rows: 3, batchSteps: 1 },
  { workgroup: 16, rows: 2, batchSteps: 1 },
  { workgroup: 16, rows: 4, batchSteps: 1 },
  { workgroup: 32, rows: 4, batchSteps: 1 },
  { workgroup: 32, rows: 8, batchSteps: 1 },
  { workgroup: 64, rows: 16, batchSteps: 1 },
];

const scheduleName = (s: LinearSchedule) => `w${s.workgroup} r${s.rows} b${s.batchSteps}`;

interface Buffers {
  x: GPUBuffer;
  weights: GPUBuffer;
  y: GPUBuffer;
  normWeight: GPUBuffer;
}

function matrixBuffers(context: GpuContext, m: Matrix): Buffers {
  const { device } = context;
  const weightBytes = (m.gated ? 2 : 1) * m.outFeatures * m.inFeatures * 2;
  const weights = createStorageBuffer(device, `${m.name} weights`, weightBytes);
  fillRandom(device, weights, weightBytes / 4, 'f16', 11);
  const x = createStorageBuffer(device, `${m.name} x`, m.inFeatures * 4);
  fillRandom(device, x, m.inFeatures, 'f32', 12);
  const normWeight = createStorageBuffer(device, `${m.name} norm`, m.inFeatures * 4);
  fillRandom(device, normWeight, m.inFeatures, 'f32', 13);
  return { x, weights, y: createStorageBuffer(device, `${m.name} y`, m.outFeatures * 4), normWeight };
}

function bind(context: GpuContext, m: Matrix, b: Buffers, schedule?: LinearSchedule): BoundKernel {
  const norm = m.normed ? { weight: b.normWeight, eps: 1e-5 } : undefined;
  return bindLinear(context, { label: m.name, inFeatures: m.inFeatures, outFeatures: m.outFeatures, weightDtype: 'f16', x: b.x, weights: b.weights, y: b.y, gated: m.gated, accumulate: m.accumulate, norm, schedule });
}

const weightBytes = (m: Matrix) => (m.gated ? 2 : 1) * m.outFeatures * m.inFeatures * 2;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const repeats = Number(flags.get('repeats') ?? (quick ? 5 : 30));
  const { toggles, shapeName, config } = projectionBenchFlags(flags, quick);

  const context = await createNodeGpuContext(toggles);
  console.log(`adapter: ${context.adapter.description} (${context.adapter.vendor}); timestamp-query: ${context.features.timestampQuery}; subgroups: ${context.features.subgroups} (${context.features.subgroupMinSize}–${context.features.subgroupMaxSize})`);
  if (toggles.length) console.log(`DIAGNOSTIC RUN with Dawn toggles ${toggles.join(' ')}: not what Chrome runs`);
  const { gbps: floor, bytes: bandwidthBytes } = await measureReadBandwidth(context, { quick, repeats });
  console.log(`streaming read (the floor): ${floor.toPrecision(4)} GB/s over ${(bandwidthBytes / 1024 ** 2).toFixed(0)} MiB`);

  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize, numLayers } = config;
  const matrices: Matrix[] = [
    { name: 'norm+qkv', inFeatures: h, outFeatures: (numHeads + 2 * numKvHeads) * headDim, normed: true, perStep: numLayers },
    { name: 'o (+residual)', inFeatures: numHeads * headDim, outFeatures: h, accumulate: true, perStep: numLayers },
    { name: 'norm+gate+up+SwiGLU', inFeatures: h, outFeatures: inter, gated: true, normed: true, perStep: numLayers },
    { name: 'down (+residual)', inFeatures: inter, outFeatures: h, accumulate: true, perStep: numLayers },
    { name: 'lm head', inFeatures: h, outFeatures: vocabSize, perStep: 1 },
  ];
  console.log(`\nshape ${shapeName}: one GEMV per matrix (f16 weights), median of ${repeats} passes; * = the engine's schedule`);
  const rows: (string | number)[][] = [];
  const best = new Map<string, { name: string; us: number }>();
  for (const m of matrices) {
    const buffers = matrixBuffers(context, m);
    const own = linearSchedule(m, context.adapter.isCpu);
    const candidates = context.adapter.isCpu ? CPU_SCHEDULES : SCHEDULES;
    const schedules = [own, ...candidates.filter((s) => scheduleName(s) !== scheduleName(own))];
    for (const schedule of schedules) {
      if (Math.ceil(m.outFeatures / schedule.rows) > context.limits.maxComputeWorkgroupsPerDimension) continue;
      if (schedule !== own && m.gated && schedule.rows > 8) continue;
      if (reducedPartialSums(schedule.rows, m) > schedule.workgroup) continue;
      const kernel = bind(context, m, buffers, schedule);
      const { ms } = await measurePasses(context, repeats, (pass) => dispatch(pass, kernel, { tokenCount: 1 }));
      const us = ms * 1000;
      const gbps = weightBytes(m) / (ms * 1e6);
      const name = `${scheduleName(schedule)}${schedule === own ? ' *' : ''}`;
      rows.push([m.name, (weightBytes(m) / 1e6).toFixed(1), name, us.toFixed(1), gbps.toFixed(0), ((100 * gbps) / floor).toFixed(1)]);
      if (!best.has(m.name) || us < best.get(m.name)!.us) best.set(m.name, { name: scheduleName(schedule), us });
    }
    for (const b of Object.values(buffers)) b.destroy();
  }
  console.log(formatTable(['matrix', 'MB', 'schedule', 'µs', 'GB/s', '% of floor'], rows));
  console.log('\nbest per matrix: ' + [...best].map(([m, b]) => `${m}: ${b.name} (${b.us.toFixed(1)} µs)`).join('; '));

  // The cost of a dispatch, from a small GEMV (the o projection of one head's width) repeated.
  const small: Matrix = { name: 'small', inFeatures: 256, outFeatures: 256, accumulate: true, perStep: 1 };
  const chain = 64;
  const shared = matrixBuffers(context, small);
  const dependent = bind(context, small, shared);
  const separate = Array.from({ length: chain }, () => {
    const y = createStorageBuffer(context.device, 'separate y', small.outFeatures * 4);
    return { y, kernel: bind(context, small, { ...shared, y }) };
  });
  const one = (await measurePasses(context, repeats, (pass) => dispatch(pass, dependent, { tokenCount: 1 }))).ms;
  const chained = (await measurePasses(context, repeats, (pass) => { for (let i = 0; i < chain; i++) dispatch(pass, dependent, { tokenCount: 1 }); })).ms;
  const independent = (await measurePasses(context, repeats, (pass) => { for (const s of separate) dispatch(pass, s.kernel, { tokenCount: 1 }); })).ms;
  console.log(`\ndispatch cost (${chain} small GEMVs in one pass): one alone ${(one * 1000).toFixed(2)} µs; ` +
    `each in a chain writing one buffer ${((chained * 1000) / chain).toFixed(2)} µs; each writing its own buffer ${((independent * 1000) / chain).toFixed(2)} µs`);
  for (const s of separate) s.y.destroy();
  for (const b of Object.values(shared)) b.destroy();

  // The RMS norm folded into the q/k/v GEMV, against the norm as a dispatch of its own before it.
  {
    const m = matrices[0];
    const buffers = matrixBuffers(context, m);
    const step = new StepUniform(context.device);
    step.write({ tokenCount: 1, position: 0, pageTableOffset: 0, lastRow: 0 });
    const normed = createStorageBuffer(context.device, 'normed', m.inFeatures * 4);
    const norm = bindRmsNorm(context.device, { label: 'norm', features: m.inFeatures, eps: 1e-5, step: step.buffer, x: buffers.x, weight: buffers.normWeight, y: normed });
    const plain = bind(context, { ...m, normed: false }, { ...buffers, x: normed });
    const fused = bind(context, m, buffers);
    const separateMs = (await measurePasses(context, repeats, (pass) => { dispatch(pass, norm, { tokenCount: 1 }); dispatch(pass, plain, { tokenCount: 1 }); })).ms;
    const fusedMs = (await measurePasses(context, repeats, (pass) => dispatch(pass, fused, { tokenCount: 1 }))).ms;
    console.log(`\nRMS norm + q/k/v: as two dispatches ${(separateMs * 1000).toFixed(1)} µs, folded into the GEMV ${(fusedMs * 1000).toFixed(1)} µs (${(separateMs / fusedMs).toFixed(2)}x)`);
    for (const b of [...Object.values(buffers), normed, step.buffer]) b.destroy();
  }

  // One step's projections in the engine's order and schedules (no norms, rope or attention between them).
  const layers = Math.min(numLayers, 4);
  const stepMatrices = matrices.flatMap((m) => Array.from({ length: m.perStep === 1 ? 1 : layers }, () => m));
  const stepBuffers = stepMatrices.map((m) => matrixBuffers(context, m));
  const stepKernels = stepMatrices.map((m, i) => bind(context, m, stepBuffers[i]));
  const stepMs = (await measurePasses(context, repeats, (pass) => { for (const k of stepKernels) dispatch(pass, k, { tokenCount: 1 }); })).ms;
  const stepBytes = stepMatrices.reduce((sum, m) => sum + weightBytes(m), 0);
  console.log(`\n${layers} layers' projections and the LM head, one pass: ${(stepMs * 1000).toFixed(1)} µs for ${(stepBytes / 1e6).toFixed(0)} MB: ` +
    `${(stepBytes / (stepMs * 1e6)).toFixed(0)} GB/s, ${((100 * stepBytes) / (stepMs * 1e6) / floor).toFixed(1)}% of the floor`);
  for (const b of stepBuffers) for (const buffer of Object.values(b)) buffer.destroy();

  // The sampler over the LM head's logits, greedy and drawing.
  {
    const { device } = context;
    const step = new StepUniform(device);
    step.write({ tokenCount: 1, position: 0, pageTableOffset: 0, lastRow: 0 });
    const logits = createStorageBuffer(device, 'logits', vocabSize * 4);
    fillRandom(device, logits, vocabSize, 'f32', 5);
    const tokens = createStorageBuffer(device, 'tokens', 16);
    const sampled = createStorageBuffer(device, 'sampled', 16);
    const sampler = new Sampler(device, { vocabSize, step: step.buffer, logits, tokens, sampled, workgroup: samplerWorkgroup(context.adapter.isCpu), batch: samplerBatch(context.adapter.isCpu) });
    const times: string[] = [];
    for (const [name, settings] of [['greedy', GREEDY], ['temperature 0.7, top-k 40, top-p 0.9', { temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1, seed: 1 }]] as const) {
      sampler.begin(settings, []);
      const { ms } = await measurePasses(context, repeats, (pass) => {
        for (const kernel of sampler.kernels) dispatch(pass, kernel, { tokenCount: 1 });
      });
      times.push(`${name} ${(ms * 1000).toFixed(1)} µs`);
    }
    console.log(`\nsampling ${vocabSize} logits: ${times.join('; ')}`);
  }
  context.device.destroy();
}

runProgram(main);
