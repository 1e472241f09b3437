/**
 * Whether a clock is quantized, judged from durations it measured. Browsers coarsen their clocks against timing
 * attacks: Chrome's WebGPU timestamps (Dawn masks the low 16 bits of each nanosecond stamp, 65.536 µs; Chrome's
 * documentation rounds it to 100 µs) unless `--enable-webgpu-developer-features` is on, and `performance.now()`
 * (100 µs, or 5 µs when cross-origin isolated). A difference of two quantized stamps is a whole number of quanta,
 * so if every duration is a multiple of one quantum, the clock is quantized. A pass of a few microseconds then
 * reads as 0 or one quantum; read at a random phase, the reading is unbiased, so a mean over many steps converges.
 */
export type ClockResolution =
  | { kind: 'undecided' }
  | { kind: 'fine' }
  | { kind: 'quantized'; quantumMs: number };

/** The quanta browsers are known to use, in nanoseconds: Chrome's documented 100 µs, and Dawn's 2^16 ns mask. */
const KNOWN_QUANTA_NS = [100_000, 65_536];
/** Samples (zeros included) needed before any verdict. */
const MIN_SAMPLES = 4;
/** Nonzero samples needed to take their common divisor as the quantum, or to call the clock fine. */
const MIN_NONZERO = 4;
/** A common divisor finer than this is a clock's tick (tens of ns on GPUs), not a coarsening that matters. */
const MIN_QUANTUM_NS = 1_000;

/**
 * Judges a clock from durations in milliseconds (as `PassTimer.read` and the CPU clock give them). They are
 * rounded to whole nanoseconds first: that recovers the integer stamp differences exactly, and absorbs the
 * floating-point noise of `performance.now()` differences. The quantum is the greatest common divisor of at least
 * `MIN_NONZERO` nonzero samples, when it is at least `MIN_QUANTUM_NS` (for a fine clock it is a few ns). With
 * fewer, a known quantum is accepted when every nonzero sample is within a thousandth of a quantum of a multiple
 * of it: a fine clock does that about once in 500 samples, and never reads exactly zero.
 */
export function detectClockQuantum(durationsMs: readonly number[]): ClockResolution {
  const samples = durationsMs.filter((ms) => Number.isFinite(ms) && ms >= 0).map((ms) => Math.round(ms * 1e6));
  const nonzero = samples.filter((ns) => ns > 0);
  if (samples.length < MIN_SAMPLES || nonzero.length === 0) return { kind: 'undecided' };
  const divisor = nonzero.reduce(gcd);
  if (nonzero.length >= MIN_NONZERO && divisor >= MIN_QUANTUM_NS) return { kind: 'quantized', quantumMs: divisor / 1e6 };
  const known = KNOWN_QUANTA_NS.find((quantumNs) => nonzero.every((ns) => nearMultiple(ns, quantumNs)));
  if (known) return { kind: 'quantized', quantumMs: known / 1e6 };
  return nonzero.length >= MIN_NONZERO ? { kind: 'fine' } : { kind: 'undecided' };
}

function nearMultiple(ns: number, quantumNs: number): boolean {
  const remainder = ns % quantumNs;
  return Math.min(remainder, quantumNs - remainder) <= quantumNs / 1000;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
