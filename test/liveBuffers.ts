/**
 * Counts the GPU buffers of `device` that are created from now on and not yet destroyed (it wraps the device's
 * createBuffer and each new buffer's destroy): a count that grows while the engine decodes is a leak.
 */
export function countLiveBuffers(device: GPUDevice): () => number {
  let live = 0;
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = createBuffer(descriptor);
    live++;
    const destroy = buffer.destroy.bind(buffer);
    buffer.destroy = () => {
      live--;
      destroy();
    };
    return buffer;
  };
  return () => live;
}
