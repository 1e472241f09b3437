import { EngineError } from '../../errors/engineError.ts';
import { createGpuContext, type GpuContext } from './context.ts';

/** The GPU context of a page or worker, from `navigator.gpu`. */
export async function createBrowserGpuContext(): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new EngineError(
      'gpu-unavailable',
      'This browser has no WebGPU (navigator.gpu is missing). Use a current Chrome, Edge or Chromium over https or ' +
        'localhost; on Linux start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new EngineError(
      'gpu-unavailable',
      'WebGPU is present but returned no adapter. Check chrome://gpu; on a machine without a GPU, Chromium needs ' +
        'its SwiftShader Vulkan driver (--enable-unsafe-webgpu --enable-features=Vulkan).',
    );
  }
  return createGpuContext(adapter);
}
