/**
 * Pareto frontiers of accuracy against measured KV memory, per model and workload: more score for no more memory held.
 */
import type { GroupSummary } from './groups.ts';
import { byString } from './order.ts';

export interface ParetoFrontier {
  readonly model: string;
  readonly workload: string;
  /** Keys of the groups on the frontier, by increasing measured memory. */
  readonly keys: readonly string[];
}

/**
 * The groups no other group beats on both axes (at most as much measured
 * memory and at least the score, one of them strictly). Ties in both keep
 * the first in report order.
 */
export function paretoFrontiers(groups: readonly GroupSummary[]): ParetoFrontier[] {
  const by = new Map<string, GroupSummary[]>();
  for (const g of groups) {
    if (!Number.isFinite(g.heldBytes) || !Number.isFinite(g.score.mean)) continue;
    const k = `${g.model}\u0000${g.workload}`;
    const list = by.get(k);
    if (list) list.push(g);
    else by.set(k, [g]);
  }
  const out: ParetoFrontier[] = [];
  for (const list of by.values()) {
    const first = list[0];
    if (!first) continue;
    const sorted = [...list].sort((a, b) => a.heldBytes - b.heldBytes || b.score.mean - a.score.mean);
    const keys: string[] = [];
    let best = Number.NEGATIVE_INFINITY;
    for (const g of sorted) {
      if (g.score.mean > best) {
        keys.push(g.key);
        best = g.score.mean;
      }
    }
    out.push({ model: first.model, workload: first.workload, keys });
  }
  return out.sort((a, b) => byString(a.model, b.model) || byString(a.workload, b.workload));
}
