/**
 * Number formatting shared by the reports (HTML, PDF) and the app's screens
 * and charts, so a byte count, a share or a duration reads the same on screen
 * and on paper, and the tests can assert on one spelling.
 *
 * Conventions: a value that is missing or not finite prints as NO_VALUE (the
 * en dash); digits are fixed per formatter so the output is deterministic; a
 * negative difference is signed with the minus sign "−", not a hyphen.
 */

/** What every formatter prints for a missing or non-finite value. */
export const NO_VALUE = '–';

export interface ByteUnit {
  readonly div: number;
  readonly name: string;
}

const BYTE_UNITS: readonly ByteUnit[] = [
  { div: 1, name: 'B' },
  { div: 1024, name: 'KiB' },
  { div: 1024 ** 2, name: 'MiB' },
  { div: 1024 ** 3, name: 'GiB' },
];

/** The unit that keeps the largest value between 1 and 1024 (B, KiB, MiB, GiB), so one axis or table column shares it. */
export function byteUnit(maxBytes: number): ByteUnit {
  let u = BYTE_UNITS[0] as ByteUnit;
  for (const c of BYTE_UNITS) if (maxBytes >= c.div) u = c;
  return u;
}

/**
 * Bytes in binary units with as many digits as read well: 1536 → "1.5 KiB",
 * 123456789 → "118 MiB" (two digits under 10, one under 100, none above).
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return NO_VALUE;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${bytes < 0 ? '-' : ''}${v.toFixed(digits)} ${units[u]}`;
}

/** Bytes with one fixed decimal in the unit byteUnit picks: "12.3 KiB" (chart labels and tooltips, where digits line up). */
export function formatBytesFixed(bytes: number): string {
  if (!Number.isFinite(bytes)) return NO_VALUE;
  const u = byteUnit(Math.abs(bytes));
  return `${(bytes / u.div).toFixed(u.div === 1 ? 0 : 1)} ${u.name}`;
}

/** A number with fixed digits: formatFixed(0.12345, 3) → "0.123". */
export function formatFixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : NO_VALUE;
}

/** Integers with thousands separators: 1234567 → "1,234,567". */
export function formatInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : NO_VALUE;
}

/** Progress counts with thousands separators: formatOfTotal(2048, 32768) → "2,048 of 32,768". */
export function formatOfTotal(done: number, total: number): string {
  return `${formatInt(done)} of ${formatInt(total)}`;
}

/** Large counts compactly: 260032 → "260K", 1.2e9 → "1.2B". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return NO_VALUE;
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(abs >= 1e10 ? 0 : 1)}B`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(abs >= 1e4 ? 0 : 1)}K`;
  return String(Math.round(n));
}

/** A share in percent: 0.1234 → "12.3%". */
export function formatPercent(share: number, digits = 1): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(digits)}%` : NO_VALUE;
}

/** A signed difference: "+0.25", "−0.10", and "0.00" when it rounds to zero (no "+0.00" or "−0.00"). */
export function formatSigned(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return NO_VALUE;
  const s = Math.abs(x).toFixed(digits);
  if (Number(s) === 0) return (0).toFixed(digits);
  return `${x > 0 ? '+' : '−'}${s}`;
}

/** Token counts as "512", "4K", "1.5K": multiples of 512 from 1024 up as K, the way context lengths are named. */
export function formatTokens(t: number): string {
  if (t >= 1024 && (t * 2) % 1024 === 0) return `${t / 1024}K`;
  return String(t);
}

/** A rate: 1234.5 → "1,235 tok/s"; small rates keep a decimal. */
export function formatRate(tokensPerSecond: number): string {
  if (!Number.isFinite(tokensPerSecond) || tokensPerSecond <= 0) return `${NO_VALUE} tok/s`;
  return `${tokensPerSecond >= 100 ? formatInt(tokensPerSecond) : tokensPerSecond.toFixed(1)} tok/s`;
}

/** A duration in seconds for an ETA: 75 → "1m 15s", 3700 → "1h 1m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return NO_VALUE;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** A local time of day (24 h) for log lines and run lists; the input unchanged when it is not a date. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString('en-GB', { hour12: false });
}

/** Message text of anything thrown (an Error, an API error object, a string). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  if (typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string') return e.message;
  return String(e);
}
