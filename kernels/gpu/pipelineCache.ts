/** Compute pipelines per device, keyed by a readable variant name: each WGSL variant compiles once. */
const caches = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

export function cachedComputePipeline(device: GPUDevice, key: string, code: string): GPUComputePipeline {
  let cache = caches.get(device);
  if (!cache) {
    cache = new Map();
    caches.set(device, cache);
  }
  let pipeline = cache.get(key);
  if (!pipeline) {
    pipeline = device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module: device.createShaderModule({ label: key, code }) },
    });
    cache.set(key, pipeline);
  }
  return pipeline;
}
