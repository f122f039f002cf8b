/**
 * Number formatting for chart axes, tooltips and panels. Fixed digits (as the
 * CLI report prints them, electron/reports/html.ts) so the app and the report
 * read the same.
 */

export interface ByteUnit {
  readonly div: number;
  readonly name: string;
}

const UNITS: readonly ByteUnit[] = [
  { div: 1, name: 'B' },
  { div: 1024, name: 'KiB' },
  { div: 1024 ** 2, name: 'MiB' },
  { div: 1024 ** 3, name: 'GiB' },
];

/** The unit that keeps the largest value between 1 and 1024 (B, KiB, MiB, GiB), as the report's byteUnit. */
export function byteUnit(maxBytes: number): ByteUnit {
  let u = UNITS[0] as ByteUnit;
  for (const c of UNITS) if (maxBytes >= c.div) u = c;
  return u;
}

/** "12.3 KiB". */
export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const u = byteUnit(Math.abs(bytes));
  return `${(bytes / u.div).toFixed(u.div === 1 ? 0 : 1)} ${u.name}`;
}

/** A number with fixed digits, '–' when not finite. */
export const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/** A share as "12.5%". */
export const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');

/** A signed difference: "+0.25", "−0.10", "0.00". */
export function signed(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '–';
  const s = Math.abs(x).toFixed(digits);
  if (Number(s) === 0) return (0).toFixed(digits);
  return `${x > 0 ? '+' : '−'}${s}`;
}

/** Token counts as "512", "4K", "1.5K" (multiples of 512 as K), the report's heatmap axis labels. */
export function fmtTokens(t: number): string {
  if (t >= 1024 && (t * 2) % 1024 === 0) return `${t / 1024}K`;
  return String(t);
}
