import { Engine, type LoadOptions, type ModelInfo } from '../engine/engine.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';
import type { GridCalibration } from '../kernels/attention/calibrate.ts';
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import { fileCalibrationStore } from './calibrationFile.ts';

/**
 * The engine of a CLI command: the model folder loaded on the GPU that Dawn finds (`loaded N MB` on stderr unless
 * `quiet`), with the LeanAttention grid calibrated earlier on this adapter (bench-decode or generate --calibrate),
 * else timed now; a calibration that fails leaves the default grid.
 */
export async function loadEngine(directory: string, options: LoadOptions, quiet = false): Promise<{ engine: Engine; info: ModelInfo; calibration?: GridCalibration }> {
  // A lost device is replaced by a new one on the next request (serve keeps serving).
  const engine = new Engine(await createNodeGpuContext(), createNodeGpuContext);
  const info = await engine.load(nodeModelFiles(directory), {
    ...options,
    onProgress: (p) => {
      if (!quiet && p.phase === 'uploading' && p.tensorsDone === p.tensorsTotal) {
        process.stderr.write(`loaded ${(p.bytesTotal / 1e6).toFixed(1)} MB of weights from ${directory}\n`);
      }
    },
  });
  const calibration = await engine.calibrate(fileCalibrationStore(), 8192).catch(() => undefined);
  return { engine, info, calibration };
}
