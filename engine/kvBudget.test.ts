import { expect, it } from 'vitest';
import { kvBudgetFromLimits } from './kvCache.ts';

const MiB = 1024 * 1024;
const limits = (binding: number, buffer = binding) => ({ maxStorageBufferBindingSize: binding, maxBufferSize: buffer });

it('the KV budget follows the adapter class its largest binding shows, within 256 MiB and 4 GiB', () => {
  expect(kvBudgetFromLimits(limits(128 * MiB))).toBe(256 * MiB); // WebGPU's default limit, phones
  expect(kvBudgetFromLimits(limits(1024 * MiB))).toBe(2048 * MiB); // laptop GPUs
  expect(kvBudgetFromLimits(limits(4096 * MiB - 4))).toBe(4096 * MiB); // desktop GPUs: capped
  expect(kvBudgetFromLimits(limits(2048 * MiB, 512 * MiB))).toBe(1024 * MiB); // the smaller of the two limits counts
});
