import { describe, expect, it } from 'vitest';
import { seededRandom } from '../kernels/gpu/seededRandom.ts';
import { detectClockQuantum } from './clockQuantum.ts';

/** Durations as `PassTimer.read` returns them: integer nanosecond stamp differences, in milliseconds. */
const fromNs = (ns: number[]) => ns.map((d) => d / 1e6);
/** Whole multiples of `quantumNs`, zeros included, as a quantized clock reads passes of a few to tens of µs. */
const multiples = (quantumNs: number, counts: number[]) => fromNs(counts.map((k) => k * quantumNs));

describe('detectClockQuantum', () => {
  it('calls unquantized durations fine', () => {
    // Chromium on SwiftShader (headless, --enable-unsafe-webgpu): passes of one decode step, ns.
    expect(detectClockQuantum(fromNs([534_637, 1_246_160, 2_700_095, 1_786_418, 7_749_879, 3_357_637, 2_070_147]))).toEqual({ kind: 'fine' });
    // GPU.md's SwiftShader figures, as milliseconds with 0.1 µs digits.
    expect(detectClockQuantum([0.6418, 0.6571, 0.6602, 0.6489, 3.9115])).toEqual({ kind: 'fine' });
  });

  it('never calls random real-looking durations quantized (1,000 steps of a 6-layer model)', () => {
    const random = seededRandom(13);
    for (let trial = 0; trial < 1000; trial++) {
      const layers = Array.from({ length: 6 }, () => Math.round(2_000 + random() * 60_000));
      const step = Math.round(500_000 + random() * 5_000_000);
      expect(detectClockQuantum(fromNs([step, ...layers])).kind).toBe('fine');
    }
  });

  it('finds 100 µs in multiples of it, zeros included', () => {
    expect(detectClockQuantum(multiples(100_000, [37, 0, 1, 0, 0, 1, 0]))).toEqual({ kind: 'quantized', quantumMs: 0.1 });
    expect(detectClockQuantum(multiples(100_000, [0, 0, 0, 2]))).toEqual({ kind: 'quantized', quantumMs: 0.1 });
  });

  it('finds 100 µs in differences of performance.now() stamps (floating-point noise included)', () => {
    const stamps = [384.7, 384.8, 385.4, 385.4, 386.9, 387.0];
    const differences = stamps.slice(1).map((t, i) => t - stamps[i]);
    expect(differences[0]).not.toBe(0.1);
    expect(detectClockQuantum(differences)).toEqual({ kind: 'quantized', quantumMs: 0.1 });
  });

  it("finds Dawn's 65.536 µs mask", () => {
    expect(detectClockQuantum(multiples(65_536, [52, 0, 1, 1, 0, 0, 2]))).toEqual({ kind: 'quantized', quantumMs: 0.065536 });
  });

  it('finds a quantum it does not know, as the common divisor of enough nonzero durations', () => {
    // performance.now() of a cross-origin isolated page (5 µs) and Firefox's (1 ms).
    expect(detectClockQuantum(multiples(5_000, [412, 0, 3, 7, 5, 0, 4]))).toEqual({ kind: 'quantized', quantumMs: 0.005 });
    expect(detectClockQuantum(multiples(1_000_000, [3, 0, 1, 2, 1, 1]))).toEqual({ kind: 'quantized', quantumMs: 1 });
  });

  it('stays undecided on too few samples', () => {
    expect(detectClockQuantum([])).toEqual({ kind: 'undecided' });
    expect(detectClockQuantum(multiples(100_000, [3, 0, 1]))).toEqual({ kind: 'undecided' });
    expect(detectClockQuantum([0, 0, 0, 0, 0, 0])).toEqual({ kind: 'undecided' });
    // Two nonzero durations that fit no known quantum: too few to name one, or to call the clock fine.
    expect(detectClockQuantum(fromNs([12_000, 0, 0, 36_000]))).toEqual({ kind: 'undecided' });
  });
});
