import type { GpuContext } from '../kernels/gpu/context.ts';
import { createNodeGpuContext } from '../kernels/gpu/node.ts';

let context: Promise<GpuContext> | undefined;

/** One real WebGPU device (Dawn) per test file: a real GPU when there is one, SwiftShader otherwise. */
export function testGpu(): Promise<GpuContext> {
  context ??= createNodeGpuContext();
  return context;
}
