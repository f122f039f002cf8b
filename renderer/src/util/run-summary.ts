/**
 * The Runs screen's live summary table and the pieces of a sample id it
 * shows: pure functions over result rows, so they are tested without a DOM.
 *
 * The table groups by method AND budget: a method's 10 % and 20 % cells hold
 * different shares of the cache and score differently, and one mean over both
 * ("KV held 15.0 %") describes neither. Compare has the full analysis (CIs,
 * per workload and model); this is the at-a-glance view while a run goes.
 */
import type { AnyRow } from '@kvlab/core';

export interface MethodBudgetSummary {
  readonly label: string;
  readonly budget: string;
  readonly cells: number;
  readonly meanScore: number;
  /** Mean of heldBytes / fullBytes over the cells (1 for a cell with no full-cache size). */
  readonly meanShare: number;
}

/** Budgets in reading order: 'full' first, then numbers by value within one spelling ('10%' before '20%' before '100%'). */
export function compareBudgets(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'full') return -1;
  if (b === 'full') return 1;
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Mean score and measured KV share per (method label, budget) over the cell
 * rows given (check and profile rows are skipped). Methods keep the order they
 * first appear in (the run's plan order: the full cache first); budgets within
 * a method go by compareBudgets.
 */
export function summarizeByMethodBudget(rows: readonly AnyRow[]): MethodBudgetSummary[] {
  const acc = new Map<string, { label: string; budget: string; n: number; score: number; share: number }>();
  const methodOrder = new Map<string, number>();
  for (const r of rows) {
    if (r.kind !== 'cell') continue;
    if (!methodOrder.has(r.methodLabel)) methodOrder.set(r.methodLabel, methodOrder.size);
    const key = `${r.methodLabel}\u0000${r.budget}`;
    const a = acc.get(key) ?? { label: r.methodLabel, budget: r.budget, n: 0, score: 0, share: 0 };
    a.n++;
    a.score += r.score;
    a.share += r.kv.fullBytes > 0 ? r.kv.heldBytes / r.kv.fullBytes : 1;
    acc.set(key, a);
  }
  return [...acc.values()]
    .sort((x, y) => (methodOrder.get(x.label) ?? 0) - (methodOrder.get(y.label) ?? 0) || compareBudgets(x.budget, y.budget))
    .map((a) => ({ label: a.label, budget: a.budget, cells: a.n, meanScore: a.score / a.n, meanShare: a.share / a.n }));
}

/**
 * A sample id split where a narrow column may cut it: the workload part (may
 * be shortened with an ellipsis) and the rest, which names the cell's context
 * length, depth and sample index ("niah-passkey" + "c256/d75/s0") and must stay
 * whole. An id without a '/' is all head.
 */
export function splitSampleId(id: string): { readonly head: string; readonly tail: string } {
  const i = id.indexOf('/');
  return i < 0 ? { head: id, tail: '' } : { head: id.slice(0, i + 1), tail: id.slice(i + 1) };
}
