import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/gpu.ts';
import { createStorageBuffer, largestStorageBinding, readBuffer } from '../gpu/buffers.ts';
import { createCacheEviction, StreamRead, streamReadWorkgroup } from './streamRead.ts';

// A GPU's workgroup and a CPU adapter's, both checked on whichever adapter runs the tests, with one load in flight
// per invocation and with several (whose last round runs past the end of the buffer).
describe.each([
  { workgroupSize: streamReadWorkgroup(false), loads: 1 },
  { workgroupSize: streamReadWorkgroup(true), loads: 1 },
  { workgroupSize: streamReadWorkgroup(false), loads: 4 },
  { workgroupSize: streamReadWorkgroup(true), loads: 3 },
])('stream_read.wgsl, workgroup of $workgroupSize, $loads loads in flight', ({ workgroupSize, loads }) => {
  it.each([
    { words: 4 * 1000, grid: 7 },
    { words: 4 * 65_536, grid: 64 },
    { words: 4 * 3, grid: 5 },
    { words: 4 * 50_000, grid: 9 },
  ])('sums $words random words over a grid of $grid like the CPU', async ({ words, grid }) => {
    const { device } = await testGpu();
    const data = new Uint32Array(words);
    for (let i = 0; i < words; i++) data[i] = (Math.random() * 2 ** 32) >>> 0;
    const source = createStorageBuffer(device, 'source', data);
    const kernel = new StreamRead(device, source, data.byteLength, grid, workgroupSize, loads);
    device.queue.writeBuffer(kernel.sums, 0, new Uint32Array(grid).fill(0xdeadbeef));

    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    kernel.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const sums = new Uint32Array(await readBuffer(device, kernel.sums, grid * 4));

    // Each workgroup's expected sum, from the grid-stride assignment spelled out on the CPU.
    const expected = new Uint32Array(grid);
    const vec4Count = words / 4;
    for (let v = 0; v < vec4Count; v++) {
      const workgroup = Math.floor(v / workgroupSize) % grid;
      for (let c = 0; c < 4; c++) expected[workgroup] = (expected[workgroup] + data[v * 4 + c]) >>> 0;
    }
    expect(Array.from(sums)).toEqual(Array.from(expected));
  });
});

describe('createCacheEviction', () => {
  it('refuses a read larger than one binding, or not of whole 16-byte words, saying what it can read', async () => {
    const context = await testGpu();
    const limit = largestStorageBinding(context.limits);
    expect(() => createCacheEviction(context, limit + 16)).toThrow(`largest binding (${limit} bytes): got ${limit + 16}`);
    expect(() => createCacheEviction(context, 1000)).toThrow('whole 16-byte words');
    createCacheEviction(context, 1 << 16).destroy();
  });
});
