/**
 * Axis ticks at round numbers, for the app's charts and the static report's
 * (electron/reports/svg.ts). recharts' own ticks for a fixed or 'auto'
 * domain split the range into equal parts and round the step to two
 * significant digits, which gives axes like 0 / 65 / 130 / 195 / 250 tokens or
 * 0.95 / 1.90 / 2.85 MiB: hard to read off and to compare between charts.
 * Here the step is always 1, 2 or 5 × 10^k and the axis ends on a tick, so
 * every label is a round number and the last one bounds the data.
 */

/** The 1/2/5 × 10^k step that cuts `span` into at most `maxTicks - 1` intervals, as few as that allows. */
export function niceStep(span: number, maxTicks = 6): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const intervals = Math.max(1, Math.floor(maxTicks) - 1);
  const raw = span / intervals;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The smallest 1/2/5 step at or above the raw step (the small tolerance keeps 0.3/3 from rounding up to 0.5 by float noise).
  const m = [1, 2, 5, 10].find((f) => f * mag >= raw * (1 - 1e-9)) ?? 10;
  return m * mag;
}

/** The 1/2/5 × 10^k step after `step` (1 → 2 → 5 → 10). */
function nextStep(step: number): number {
  const mag = 10 ** Math.floor(Math.log10(step) + 1e-9);
  const m = Math.round(step / mag);
  return (m < 2 ? 2 : m < 5 ? 5 : 10) * mag;
}

/**
 * Ticks from at or below `lo` to at or above `hi`, at a niceStep apart (at
 * most `maxTicks` of them). Values are rounded to the step's decimals, so
 * 0.1 + 0.2 prints as 0.3. A degenerate range (lo = hi, or not finite) gets
 * [lo, lo + 1] — an axis still needs two ends.
 */
export function niceTicks(lo: number, hi: number, maxTicks = 6): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return lo === 0 ? [0, 1] : niceTicks(Math.min(0, lo), Math.max(0, hi), maxTicks);
  let step = niceStep(hi - lo, maxTicks);
  let start = Math.floor(lo / step + 1e-9) * step;
  let end = Math.ceil(hi / step - 1e-9) * step;
  // Widening both ends to the step can add an interval too many: go up to the next 1/2/5 step until it fits.
  while (Math.round((end - start) / step) + 1 > Math.max(2, maxTicks)) {
    step = nextStep(step);
    start = Math.floor(lo / step + 1e-9) * step;
    end = Math.ceil(hi / step - 1e-9) * step;
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const n = Math.round((end - start) / step);
  return Array.from({ length: n + 1 }, (_, i) => Number((start + i * step).toFixed(decimals)));
}

/** Ticks for an axis from 0 up to at least `max` (bars, bytes, tokens): niceTicks(0, max). */
export function ticksFromZero(max: number, maxTicks = 6): number[] {
  return niceTicks(0, max > 0 && Number.isFinite(max) ? max : 1, maxTicks);
}

/** Digits to print a tick at `step` with (0 for steps ≥ 1, 1 for 0.5, 2 for 0.05 …). */
export function tickDigits(ticks: readonly number[]): number {
  const step = ticks.length > 1 ? Math.abs((ticks[1] ?? 0) - (ticks[0] ?? 0)) : 1;
  return step > 0 ? Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) : 0;
}
