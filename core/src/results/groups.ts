/**
 * Groups of result cells by (model, workload, method, budget): mean score with its confidence interval, the measured and nominal KV memory and the fidelity metrics of each.
 */
import type { ResultRow, SanityFlag } from '../api/rows.ts';
import { budgetOrder, byString, compareMethods, isFullMethod } from './order.ts';
import { lowBaselineAlarm } from './low-baseline.ts';
import type { Stat } from './stat.ts';
import { meanOf, stat } from './stat.ts';

export interface FidelityStats {
  readonly nll: Stat;
  readonly ppl: Stat;
  readonly deltaNll: Stat;
  readonly kl: Stat;
  readonly top1: Stat;
  readonly greedyPrefix: Stat;
}

export interface GroupSummary {
  /** "model\u0000workload\u0000methodLabel\u0000budget" — unique and stable. */
  readonly key: string;
  readonly model: string;
  readonly workload: string;
  /** Canonical method string ("snapkv/zigzagkv+adakv", "full"). */
  readonly method: string;
  /** The label the experiment gave it (unique within the experiment). */
  readonly methodLabel: string;
  readonly budget: string;
  /** The metric(s) of the samples, joined with "+" when a workload mixes them. */
  readonly metric: string;
  readonly isFull: boolean;
  readonly score: Stat;
  /** Means over the group's rows, in bytes. */
  readonly heldBytes: number;
  readonly slotBytes: number;
  readonly fullBytes: number;
  /** Mean of nominalRatio × fullBytes: the memory the budget promised. */
  readonly nominalBytes: number;
  /** Mean nominal keep ratio (budget tokens / prompt tokens). */
  readonly nominalRatio: number;
  /** Mean heldBytes / fullBytes. */
  readonly measuredRatio: number;
  readonly promptTokens: number;
  /** Present when every row of the group carries fidelity metrics. */
  readonly fidelity?: FidelityStats;
  /** The union of the rows' sanity flags, sorted; 'low-baseline' only when it reaches LOW_BASELINE_ALARM_SHARE of the group's cells. */
  readonly flags: readonly SanityFlag[];
  readonly flaggedCells: number;
}

export const groupKey = (model: string, workload: string, methodLabel: string, budget: string): string => [model, workload, methodLabel, budget].join('\u0000');

/** Groups cells by (model, workload, method label, budget) and summarises each, in report order. */
export function groupCells(cells: readonly ResultRow[]): GroupSummary[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of cells) {
    const k = groupKey(r.model.name, r.workload, r.methodLabel, r.budget);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const out: GroupSummary[] = [];
  for (const [key, rs] of groups) {
    const first = rs[0];
    if (!first) continue;
    const withFid = rs.filter((r) => r.fidelity !== undefined);
    const fid = (pick: (f: NonNullable<ResultRow['fidelity']>) => number): Stat =>
      stat(withFid.map((r) => pick(r.fidelity as NonNullable<ResultRow['fidelity']>)));
    // A few low-baseline cells in a group are misses, not an alarm (lowBaselineAlarm): the group does not carry the flag then.
    const flags = [...new Set(rs.flatMap((r) => r.flags))].filter((f) => f !== 'low-baseline' || lowBaselineAlarm(rs)).sort(byString);
    const fidelity: FidelityStats | undefined =
      withFid.length === rs.length
        ? {
            nll: fid((f) => f.nll),
            ppl: fid((f) => f.ppl),
            deltaNll: fid((f) => f.deltaNll),
            kl: fid((f) => f.kl),
            top1: fid((f) => f.top1),
            greedyPrefix: fid((f) => f.greedyPrefix),
          }
        : undefined;
    out.push({
      key,
      model: first.model.name,
      workload: first.workload,
      method: first.method,
      methodLabel: first.methodLabel,
      budget: first.budget,
      metric: [...new Set(rs.map((r) => r.metric))].sort(byString).join('+'),
      isFull: isFullMethod(first),
      score: stat(rs.map((r) => r.score)),
      heldBytes: meanOf(rs.map((r) => r.kv.heldBytes)),
      slotBytes: meanOf(rs.map((r) => r.kv.slotBytes)),
      fullBytes: meanOf(rs.map((r) => r.kv.fullBytes)),
      nominalBytes: meanOf(rs.map((r) => r.kv.nominalRatio * r.kv.fullBytes)),
      nominalRatio: meanOf(rs.map((r) => r.kv.nominalRatio)),
      measuredRatio: meanOf(rs.map((r) => (r.kv.fullBytes > 0 ? r.kv.heldBytes / r.kv.fullBytes : Number.NaN))),
      promptTokens: meanOf(rs.map((r) => r.promptTokens)),
      ...(fidelity ? { fidelity } : {}),
      flags,
      flaggedCells: rs.filter((r) => r.flags.length > 0).length,
    });
  }
  const bo = budgetOrder(cells);
  return out.sort(
    (a, b) => byString(a.model, b.model) || byString(a.workload, b.workload) || compareMethods(a.methodLabel, b.methodLabel) || bo(a.budget, b.budget),
  );
}

export const groupLabel = (g: { model: string; workload: string; methodLabel: string; budget: string }): string =>
  `${g.model} · ${g.workload} · ${g.methodLabel} @ ${g.budget}`;
