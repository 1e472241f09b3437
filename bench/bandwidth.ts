// The read ceiling: how fast a WGSL kernel can stream memory on this adapter, over the shapes that decide it.
//   node dist-node/bandwidth.mjs [--quick] [--repeats N] [--toggles enable-dawn-features=...]
// The streaming read of 1 GiB (32 MiB with --quick) for every workgroup size × loads in flight per invocation ×
// grid, GB/s from timestamp queries; then the best shape and the floor the other benchmarks judge against (the best
// of `measureReadBandwidth`'s few shapes). The decode kernels cannot read faster than the best cell here.
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import { createReadSource, maxReadGrid, measureReadBandwidth, readBandwidthBytes, timeStreamRead, type StreamReadShape } from '../kernels/bandwidth/measureBandwidth.ts';
import { runProgram } from '../cli/exit.ts';
import { parseFlags } from '../cli/flags.ts';
import { toggleFlags } from './benchFlags.ts';
import { formatTable } from '../cli/table.ts';

const WORKGROUPS = [128, 256, 512, 1024];
const LOADS = [1, 2, 4, 8];
// Powers of two, and multiples of the H200's 132 SMs beside them (WebGPU does not say how many a GPU has).
const GRIDS = [256, 264, 512, 528, 1024, 1056, 2048, 2112, 4096, 8192, 16384];
const QUICK_WORKGROUPS = [64, 256];
const QUICK_LOADS = [1, 4];
const QUICK_GRIDS = [16, 64];

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const repeats = Number(flags.get('repeats') ?? (quick ? 3 : 20));
  const toggles = toggleFlags(flags);
  const context = await createNodeGpuContext(toggles);
  console.log(`adapter: ${context.adapter.description} (${context.adapter.vendor})`);
  if (toggles.length) console.log(`DIAGNOSTIC RUN with Dawn toggles ${toggles.join(' ')}: not what Chrome runs`);

  const bytes = readBandwidthBytes(context, quick);
  const workgroups = (quick ? QUICK_WORKGROUPS : WORKGROUPS).filter((w) => w <= context.limits.maxComputeInvocationsPerWorkgroup);
  const grids = quick ? QUICK_GRIDS : GRIDS;
  const source = await createReadSource(context, bytes);
  const rows: (string | number)[][] = [];
  let best: (StreamReadShape & { gbps: number }) | undefined;
  for (const workgroup of workgroups) {
    for (const loads of quick ? QUICK_LOADS : LOADS) {
      const maxGrid = maxReadGrid(context, bytes, workgroup, loads);
      const cells: (string | number)[] = [];
      // A CPU adapter pays for every workgroup (8,192 took SwiftShader 13 s a pass): --quick leaves out the largest grid.
      for (const grid of quick ? grids : [...grids, maxGrid]) {
        if (grid > maxGrid) {
          cells.push('');
          continue;
        }
        const gbps = await timeStreamRead(context, source, bytes, { grid, workgroup, loads }, repeats);
        cells.push(+gbps.toPrecision(3));
        if (!best || gbps > best.gbps) best = { grid, workgroup, loads, gbps };
      }
      rows.push([workgroup, loads, ...cells]);
    }
  }
  source.destroy();
  console.log(`\nstreaming read of ${(bytes / 1024 ** 2).toFixed(0)} MiB, GB/s (median of ${repeats} passes), by workgroup size, 16-byte loads in flight per invocation and grid ("max": one round of loads per invocation)`);
  console.log(formatTable(['workgroup', 'loads', ...grids.map(String), ...(quick ? [] : ['max'])], rows));
  if (best) console.log(`\nbest: ${best.gbps.toPrecision(4)} GB/s (${best.grid} workgroups of ${best.workgroup}, ${best.loads} in flight each)`);
  const floor = await measureReadBandwidth(context, { quick, repeats });
  console.log(`the floor the benchmarks use (measureReadBandwidth): ${floor.gbps.toPrecision(4)} GB/s`);
  context.device.destroy();
}

runProgram(main);
