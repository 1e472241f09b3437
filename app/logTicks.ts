/**
 * Ticks of a log-scale time axis: 1, 2 and 5 times the powers of ten from the decade at or below `min` to the tick at
 * or above `max`, so that the axis spans the data and every tick reads as a round figure.
 */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(min)); ; decade *= 10) {
    for (const mantissa of [1, 2, 5]) {
      const tick = +(mantissa * decade).toPrecision(1);
      // Only the last tick at or below min starts the axis.
      if (tick <= min) ticks.length = 0;
      ticks.push(tick);
      if (tick >= max && ticks.length > 1) return ticks;
    }
  }
}
