import type { AdapterDescription, GpuContext, GpuFeatures } from '../kernels/gpu/context.ts';

/** What the engine got from WebGPU, as plain data a UI can show. */
export interface GpuReport {
  adapter: AdapterDescription;
  features: GpuFeatures;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
}

export function reportGpu(context: GpuContext): GpuReport {
  const { limits } = context;
  return {
    adapter: context.adapter,
    features: context.features,
    limits: {
      maxBufferSize: limits.maxBufferSize,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  };
}
