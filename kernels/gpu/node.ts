import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { EngineError } from '../../errors/engineError.ts';
import { createGpuContext, type GpuContext } from './context.ts';

/** SwiftShader, the CPU Vulkan driver that Debian's chromium package ships: WebGPU on a machine with no GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn's instance must outlive every device made from it.
const liveInstances: GPU[] = [];

/**
 * Dawn rounds timestamps down to multiples of 65.536 µs by default (a timing-attack defence for browsers); in Node
 * the benchmarks, the CLI and the tests want the GPU's real clock. `extraToggles` adds Dawn toggles (diagnosis).
 */
const DAWN_TOGGLES = ['disable-dawn-features=timestamp_quantization'];

async function requestDawnAdapter(extraToggles: string[]): Promise<GPUAdapter | null> {
  const gpu = create([...DAWN_TOGGLES, ...extraToggles]);
  liveInstances.push(gpu);
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

/** Finds a WebGPU adapter through Dawn: a real GPU first, then SwiftShader when none answers. */
export async function requestNodeAdapter(extraToggles: string[] = []): Promise<GPUAdapter> {
  Object.assign(globalThis, globals);
  // The Vulkan loader complains on every start without it; Dawn does not need it.
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'lean-decode-xdg-'));
  let adapter = await requestDawnAdapter(extraToggles);
  if (!adapter && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    adapter = await requestDawnAdapter(extraToggles);
  }
  if (!adapter) {
    throw new EngineError(
      'gpu-unavailable',
      'Dawn (the `webgpu` package) found no WebGPU adapter. On a machine without a GPU install Debian\'s chromium ' +
        `package (apt-get install -y chromium libvulkan1) for its SwiftShader driver at ${SWIFTSHADER_ICD}, or set ` +
        'VK_ICD_FILENAMES to a Vulkan driver manifest.',
    );
  }
  return adapter;
}

/** A device on the first adapter Dawn finds; `extraToggles` are Dawn instance toggles (`enable-dawn-features=...`). */
export async function createNodeGpuContext(extraToggles: string[] = []): Promise<GpuContext> {
  return createGpuContext(await requestNodeAdapter(extraToggles), availableParallelism());
}
