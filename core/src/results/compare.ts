/**
 * What the app's Compare screen needs on top of the report aggregates
 * (aggregate.ts): the cell ids behind a chart point or heatmap cell (so a
 * click can open the samples it stands for) and the difference of two NIAH
 * grids (the Δ-heatmap). Pure, like aggregate.ts, and in core so the numbers
 * stay those of the report.
 */
import type { ResultRow } from '../api/rows.ts';
import { groupKey } from './groups.ts';
import type { NiahGrid } from './niah.ts';
import { byString } from './order.ts';
import { ReportError } from './rows.ts';

/** groupKey (model, workload, method label, budget) → the ids of its cells, sorted. */
export function cellIdsByGroup(cells: readonly ResultRow[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of cells) {
    const k = groupKey(r.model.name, r.workload, r.methodLabel, r.budget);
    const list = out.get(k);
    if (list) list.push(r.cellId);
    else out.set(k, [r.cellId]);
  }
  for (const list of out.values()) list.sort(byString);
  return out;
}

/** The ids of the cells averaged into one NIAH grid cell (depth %, context length), sorted. */
export function niahCellIds(
  cells: readonly ResultRow[],
  grid: Pick<NiahGrid, 'model' | 'workload' | 'methodLabel' | 'budget'>,
  depth: number,
  contextLength: number,
): string[] {
  return cells
    .filter(
      (r) =>
        r.model.name === grid.model &&
        r.workload === grid.workload &&
        r.methodLabel === grid.methodLabel &&
        r.budget === grid.budget &&
        r.meta['depth'] === depth &&
        r.meta['contextLength'] === contextLength,
    )
    .map((r) => r.cellId)
    .sort(byString);
}

export interface NiahDelta {
  readonly model: string;
  readonly workload: string;
  /** Method label and budget of the minuend (A) and the subtrahend (B). */
  readonly a: { readonly methodLabel: string; readonly budget: string };
  readonly b: { readonly methodLabel: string; readonly budget: string };
  /** The axes of the two grids (the same for grids of one model and workload, see niahGrids). */
  readonly depths: readonly number[];
  readonly lengths: readonly number[];
  /** delta[depth][length] = mean score of A − mean score of B; null where either has no sample. */
  readonly delta: readonly (readonly (number | null)[])[];
  /** Mean of the defined differences (NaN when none), and the largest |Δ|. */
  readonly meanDelta: number;
  readonly maxAbs: number;
}

/**
 * A − B cell by cell. Both grids must be of the same model and workload:
 * comparing haystacks of different workloads cell by cell means nothing.
 */
export function niahDelta(a: NiahGrid, b: NiahGrid): NiahDelta {
  if (a.model !== b.model || a.workload !== b.workload)
    throw new ReportError(`cannot subtract NIAH grids of different runs: ${a.model} · ${a.workload} vs ${b.model} · ${b.workload}`);
  const depths = [...new Set([...a.depths, ...b.depths])].sort((x, y) => x - y);
  const lengths = [...new Set([...a.lengths, ...b.lengths])].sort((x, y) => x - y);
  const at = (g: NiahGrid, d: number, l: number): number | null => {
    const di = g.depths.indexOf(d);
    const li = g.lengths.indexOf(l);
    return di < 0 || li < 0 ? null : (g.mean[di]?.[li] ?? null);
  };
  let sum = 0;
  let n = 0;
  let maxAbs = 0;
  const delta = depths.map((d) =>
    lengths.map((l) => {
      const va = at(a, d, l);
      const vb = at(b, d, l);
      if (va === null || vb === null) return null;
      const v = va - vb;
      sum += v;
      n++;
      maxAbs = Math.max(maxAbs, Math.abs(v));
      return v;
    }),
  );
  return {
    model: a.model,
    workload: a.workload,
    a: { methodLabel: a.methodLabel, budget: a.budget },
    b: { methodLabel: b.methodLabel, budget: b.budget },
    depths,
    lengths,
    delta,
    meanDelta: n > 0 ? sum / n : Number.NaN,
    maxAbs,
  };
}
