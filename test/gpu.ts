import type { GpuContext } from '../engine/gpu/context.ts';
import { createNodeGpuContext } from '../engine/gpu/node.ts';

let context: Promise<GpuContext> | undefined;

/** One real WebGPU device (Dawn) per test file: a real GPU when there is one, SwiftShader otherwise. */
export function testGpu(): Promise<GpuContext> {
  context ??= createNodeGpuContext();
  return context;
}
