import { describe, expect, it } from 'vitest';
import { SHORTEST_SWEEP_CONTEXT, sweepContexts } from './stressSweep.ts';

describe('sweepContexts', () => {
  it('halves from the target down when doubling', () => {
    expect(sweepContexts(262144, 5, 'doubling')).toEqual([16384, 32768, 65536, 131072, 262144]);
    expect(sweepContexts(3000, 3, 'doubling')).toEqual([750, 1500, 3000]);
  });

  it('spaces evenly up to the target', () => {
    expect(sweepContexts(256, 3, 'even')).toEqual([85, 171, 256]);
    expect(sweepContexts(1000, 1, 'even')).toEqual([1000]);
  });

  it('stops at the shortest context and drops the repeats below it', () => {
    expect(sweepContexts(64, 6, 'doubling')).toEqual([SHORTEST_SWEEP_CONTEXT, 32, 64]);
    expect(sweepContexts(20, 4, 'even')).toEqual([SHORTEST_SWEEP_CONTEXT, 20]);
  });
});
