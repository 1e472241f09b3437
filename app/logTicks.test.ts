import { describe, expect, it } from 'vitest';
import { logTicks } from './logTicks.ts';

describe('logTicks', () => {
  it('runs 1-2-5 from the last tick at or below the least value to the first at or above the greatest', () => {
    expect(logTicks(0.034, 13.7)).toEqual([0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20]);
    expect(logTicks(3.25, 9.09)).toEqual([2, 5, 10]);
  });

  it('keeps a value on a tick as the axis end', () => {
    expect(logTicks(0.1, 5)).toEqual([0.1, 0.2, 0.5, 1, 2, 5]);
  });

  it('spans two ticks when every value is the same', () => {
    expect(logTicks(1, 1)).toEqual([1, 2]);
    expect(logTicks(3, 3)).toEqual([2, 5]);
  });
});
