/**
 * Fidelity curves: ΔNLL, KL and top-1 agreement against the budget, per method.
 */
import type { FidelityStats, GroupSummary } from './groups.ts';
import { byString, compareMethods } from './order.ts';
import type { Stat } from './stat.ts';

export interface FidelityPoint {
  readonly budget: string;
  readonly nominalRatio: number;
  readonly heldBytes: number;
  readonly deltaNll: Stat;
  readonly kl: Stat;
  readonly top1: Stat;
}

export interface FidelityCurve {
  readonly methodLabel: string;
  readonly method: string;
  /** By increasing nominal ratio. */
  readonly points: readonly FidelityPoint[];
}

export interface FidelityChart {
  readonly model: string;
  readonly workload: string;
  readonly curves: readonly FidelityCurve[];
}

/** Per (model, workload) with fidelity metrics: one curve per compressed method over its budgets. */
export function fidelityCharts(groups: readonly GroupSummary[]): FidelityChart[] {
  const by = new Map<string, Map<string, GroupSummary[]>>();
  for (const g of groups) {
    if (!g.fidelity || g.isFull) continue;
    const mw = `${g.model}\u0000${g.workload}`;
    const methods = by.get(mw) ?? new Map<string, GroupSummary[]>();
    const list = methods.get(g.methodLabel);
    if (list) list.push(g);
    else methods.set(g.methodLabel, [g]);
    by.set(mw, methods);
  }
  const out: FidelityChart[] = [];
  for (const [mw, methods] of by) {
    const [model = '', workload = ''] = mw.split('\u0000');
    const curves: FidelityCurve[] = [...methods.entries()]
      .sort(([a], [b]) => compareMethods(a, b))
      .map(([methodLabel, list]) => ({
        methodLabel,
        method: list[0]?.method ?? methodLabel,
        points: [...list]
          .sort((a, b) => a.nominalRatio - b.nominalRatio || byString(a.budget, b.budget))
          .map((g) => {
            const f = g.fidelity as FidelityStats;
            return { budget: g.budget, nominalRatio: g.nominalRatio, heldBytes: g.heldBytes, deltaNll: f.deltaNll, kl: f.kl, top1: f.top1 };
          }),
      }));
    out.push({ model, workload, curves });
  }
  return out.sort((a, b) => byString(a.model, b.model) || byString(a.workload, b.workload));
}
