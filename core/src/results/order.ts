/**
 * The order methods and budgets are listed in: stable and independent of the order rows were written in, so a resumed sweep or a merge of shards gives the same report.
 */
import type { ResultRow } from '../api/rows.ts';

export const FULL = 'full';
export const isFullMethod = (r: { readonly method: string }): boolean => r.method === FULL;

/** 'full' first, then by label. */
export function compareMethods(a: string, b: string): number {
  if (a === b) return 0;
  if (a === FULL) return -1;
  if (b === FULL) return 1;
  return a < b ? -1 : 1;
}

/**
 * Orders budget strings by their mean nominal keep ratio over the rows
 * (smallest memory first, "full" last), then by the string, so "10%" comes
 * before "128" when 128 tokens is the larger share.
 */
export function budgetOrder(cells: readonly ResultRow[]): (a: string, b: string) => number {
  const sums = new Map<string, { s: number; n: number }>();
  for (const r of cells) {
    const e = sums.get(r.budget) ?? { s: 0, n: 0 };
    e.s += isFullMethod(r) ? Number.POSITIVE_INFINITY : r.kv.nominalRatio;
    e.n++;
    sums.set(r.budget, e);
  }
  const ratio = (b: string): number => {
    if (b === FULL) return Number.POSITIVE_INFINITY;
    const e = sums.get(b);
    return e ? e.s / e.n : Number.POSITIVE_INFINITY;
  };
  return (a, b) => {
    const d = ratio(a) - ratio(b);
    if (d < 0) return -1;
    if (d > 0) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
