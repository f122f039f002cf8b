/**
 * NIAH grids: needle depth × context length → mean score, per method and budget.
 */
import type { ResultRow } from '../api/rows.ts';
import { groupKey } from './groups.ts';
import { budgetOrder, byString, compareMethods } from './order.ts';

export interface NiahGrid {
  readonly model: string;
  readonly workload: string;
  readonly method: string;
  readonly methodLabel: string;
  readonly budget: string;
  /** Needle depths in %, ascending (rows; drawn top to bottom as in gkamradt/KVCache-Factory). */
  readonly depths: readonly number[];
  /** Context lengths in tokens, ascending (columns). */
  readonly lengths: readonly number[];
  /** mean[depth][length]: mean score, null where no sample ran. */
  readonly mean: readonly (readonly (number | null)[])[];
  readonly count: readonly (readonly number[])[];
}

const numMeta = (r: ResultRow, k: string): number | undefined => {
  const v = r.meta[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/**
 * One grid per (model, workload, method, budget) over the cells whose meta
 * has a numeric `depth` and `contextLength`. All grids of a (model,
 * workload) share the same axes so they can be compared side by side.
 */
export function niahGrids(cells: readonly ResultRow[]): NiahGrid[] {
  const niah = cells.filter((r) => numMeta(r, 'depth') !== undefined && numMeta(r, 'contextLength') !== undefined);
  const axes = new Map<string, { depths: Set<number>; lengths: Set<number> }>();
  const groups = new Map<string, ResultRow[]>();
  for (const r of niah) {
    const mw = `${r.model.name}\u0000${r.workload}`;
    const a = axes.get(mw) ?? { depths: new Set<number>(), lengths: new Set<number>() };
    a.depths.add(numMeta(r, 'depth') ?? 0);
    a.lengths.add(numMeta(r, 'contextLength') ?? 0);
    axes.set(mw, a);
    const k = groupKey(r.model.name, r.workload, r.methodLabel, r.budget);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const out: NiahGrid[] = [];
  for (const rs of groups.values()) {
    const first = rs[0];
    if (!first) continue;
    const a = axes.get(`${first.model.name}\u0000${first.workload}`);
    if (!a) continue;
    const depths = [...a.depths].sort((x, y) => x - y);
    const lengths = [...a.lengths].sort((x, y) => x - y);
    const sums = depths.map(() => lengths.map(() => 0));
    const count = depths.map(() => lengths.map(() => 0));
    for (const r of rs) {
      const di = depths.indexOf(numMeta(r, 'depth') ?? Number.NaN);
      const li = lengths.indexOf(numMeta(r, 'contextLength') ?? Number.NaN);
      const srow = sums[di];
      const crow = count[di];
      if (!srow || !crow || li < 0) continue;
      srow[li] = (srow[li] ?? 0) + r.score;
      crow[li] = (crow[li] ?? 0) + 1;
    }
    const mean = sums.map((row, di) => row.map((s, li) => ((count[di]?.[li] ?? 0) > 0 ? s / (count[di]?.[li] ?? 1) : null)));
    out.push({
      model: first.model.name,
      workload: first.workload,
      method: first.method,
      methodLabel: first.methodLabel,
      budget: first.budget,
      depths,
      lengths,
      mean,
      count,
    });
  }
  const bo = budgetOrder(cells);
  return out.sort(
    (a, b) => byString(a.model, b.model) || byString(a.workload, b.workload) || compareMethods(a.methodLabel, b.methodLabel) || bo(a.budget, b.budget),
  );
}
