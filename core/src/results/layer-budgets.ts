/**
 * Per-layer budgets of each allocator, with the LMBA overlay the layer-profile rows measured.
 */
import type { ProfileRow, ResultRow } from '../api/rows.ts';
import { parseMethodSpec } from '../method-spec.ts';
import { budgetOrder, byString, compareMethods, FULL, isFullMethod } from './order.ts';
import { meanVectors } from './stat.ts';

/** The layer allocator of a method string ("snapkv/zigzagkv+adakv" → "zigzagkv"); null for the full cache. */
export function allocatorOf(method: string): string | null {
  if (method === FULL) return null;
  try {
    const spec = parseMethodSpec(method);
    return spec === 'full' ? null : spec.allocator.id;
  } catch {
    // A method this build does not know (a newer results folder): read the string.
    const main = method.split('+')[0] ?? method;
    const parts = main.split('/');
    return parts[1] ?? parts[0] ?? method;
  }
}

export interface LayerBudgetSeries {
  readonly allocator: string;
  /** Method labels pooled into this allocator's series. */
  readonly methods: readonly string[];
  /** Mean tokens per KV head the allocator gave each layer, over the pooled cells. */
  readonly budgets: readonly number[];
  readonly n: number;
}

export interface LayerBudgetChart {
  readonly model: string;
  readonly budget: string;
  readonly layers: number;
  readonly series: readonly LayerBudgetSeries[];
  /** Mean LMBA per layer (tokens), from the cells' own measurement or else the model's profile rows. */
  readonly lmba?: readonly number[];
  readonly lmbaSource?: 'cells' | 'profile';
}

/**
 * Per (model, budget): one series per layer allocator (scorers and Ada-KV do
 * not change the per-layer budgets, so their cells are pooled), each the mean
 * of `kv.layerBudgets` over every cell of that allocator across workloads and
 * samples. The LMBA overlay is the mean of the cells' `lmba` where the
 * allocator measured it (ZigZagKV), else the mean of the model's profile rows.
 */
export function layerBudgetCharts(cells: readonly ResultRow[], profiles: readonly ProfileRow[] = []): LayerBudgetChart[] {
  const by = new Map<string, ResultRow[]>();
  for (const r of cells) {
    if (isFullMethod(r) || r.kv.layerBudgets.length === 0) continue;
    const k = `${r.model.name}\u0000${r.budget}`;
    const list = by.get(k);
    if (list) list.push(r);
    else by.set(k, [r]);
  }
  const out: LayerBudgetChart[] = [];
  for (const rs of by.values()) {
    const first = rs[0];
    if (!first) continue;
    const layers = Math.max(...rs.map((r) => r.kv.layerBudgets.length));
    const perAlloc = new Map<string, ResultRow[]>();
    for (const r of rs) {
      const a = allocatorOf(r.method) ?? r.method;
      const list = perAlloc.get(a);
      if (list) list.push(r);
      else perAlloc.set(a, [r]);
    }
    const series: LayerBudgetSeries[] = [...perAlloc.entries()]
      .sort(([a], [b]) => byString(a, b))
      .map(([allocator, list]) => ({
        allocator,
        methods: [...new Set(list.map((r) => r.methodLabel))].sort(compareMethods),
        budgets: meanVectors(
          list.map((r) => r.kv.layerBudgets),
          layers,
        ),
        n: list.length,
      }));
    const cellLmba = rs.map((r) => r.lmba).filter((l): l is number[] => Array.isArray(l) && l.length === layers);
    const profLmba = profiles.filter((p) => p.model.name === first.model.name && p.lmba.length === layers).map((p) => p.lmba);
    const overlay: Pick<LayerBudgetChart, 'lmba' | 'lmbaSource'> =
      cellLmba.length > 0
        ? { lmba: meanVectors(cellLmba, layers), lmbaSource: 'cells' }
        : profLmba.length > 0
          ? { lmba: meanVectors(profLmba, layers), lmbaSource: 'profile' }
          : {};
    out.push({ model: first.model.name, budget: first.budget, layers, series, ...overlay });
  }
  const bo = budgetOrder(cells);
  return out.sort((a, b) => byString(a.model, b.model) || bo(a.budget, b.budget));
}
