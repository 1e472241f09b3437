import { requestNodeAdapter } from '../kernels/gpu/node.ts';
import { describeAdapter } from '../kernels/gpu/context.ts';

/** Fails the whole run, loudly, when no WebGPU adapter can be had: kernel tests never skip silently. */
export default async function setup(): Promise<void> {
  const adapter = await requestNodeAdapter();
  const description = describeAdapter(adapter);
  console.log(`WebGPU adapter for unit tests: ${description.description} (${description.vendor})`);
  // Workers started after this inherit the driver choice made here.
  if (process.env.VK_ICD_FILENAMES) console.log(`VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}`);
}
