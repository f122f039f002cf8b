/**
 * Mean, standard deviation and Student-t 95 % confidence interval of a group's samples: sweeps on small models have few samples per cell, and a normal interval would overstate certainty.
 */

/** Mean, sample standard deviation (n − 1) and the half-width of a Student-t 95 % CI. */
export interface Stat {
  readonly n: number;
  readonly mean: number;
  /** 0 for a single value. */
  readonly std: number;
  /** Half-width of the 95 % confidence interval of the mean; 0 for a single value. */
  readonly ci95: number;
}

// Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1…30.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t(0.975, df): the table up to 30, then the Cornish–Fisher expansion around z = 1.96 (error < 1e-4 there). */
export function tQuantile975(df: number): number {
  if (df < 1) return Number.NaN;
  const tab = T975[Math.floor(df) - 1];
  if (tab !== undefined) return tab;
  const z = 1.959964;
  const z3 = z ** 3;
  const z5 = z ** 5;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2);
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { n: 0, mean: Number.NaN, std: Number.NaN, ci95: Number.NaN };
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n === 1) return { n, mean, std: 0, ci95: 0 };
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / (n - 1));
  return { n, mean, std, ci95: (tQuantile975(n - 1) * std) / Math.sqrt(n) };
}

export const meanOf = (values: readonly number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);

export const meanVectors = (vs: readonly (readonly number[])[], len: number): number[] => {
  const out = new Array<number>(len).fill(0);
  for (const v of vs) for (let i = 0; i < len; i++) out[i] = (out[i] ?? 0) + (v[i] ?? 0);
  return out.map((s) => s / Math.max(1, vs.length));
};
