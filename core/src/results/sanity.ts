/**
 * The sanity guards' flags, gathered per flag with where they were raised, and what each flag means.
 */
import type { CheckRow, ResultRow, SanityFlag } from '../api/rows.ts';
import { groupCells, groupKey, groupLabel } from './groups.ts';
import { lowBaselineAlarm } from './low-baseline.ts';
import { byString } from './order.ts';

/** How 'low-baseline' reads when no group reaches the alarm share. */
const LOW_BASELINE_NOTE =
  "Some full-KV cells scored below what the workload expects, but fewer than a quarter of any baseline group's cells: single misses (a model's ordinary error rate), not a sign of a broken harness.";

export const FLAG_INFO: Readonly<Record<SanityFlag, { readonly severity: 'warning' | 'info'; readonly text: string }>> = {
  'low-baseline': {
    severity: 'warning',
    text: 'The full-KV baseline scored far below what the workload expects: suspect the harness, the prompt template or the model before the compression.',
  },
  'not-compressed': {
    severity: 'warning',
    text: 'A compressed method held as many KV bytes as the full cache although its budget was below the prompt: compression did not run.',
  },
  'state-leak': {
    severity: 'warning',
    text: "Re-running a sample's full-KV cell gave a different output: state leaks between samples.",
  },
  'budget-covers-prompt': {
    severity: 'info',
    text: 'The budget covers the whole prompt, so nothing was compressed.',
  },
  'truncated-to-context': {
    severity: 'warning',
    text: "The prompt was longer than the model's context length and its middle was cut to fit (LongBench's convention): these cells did not test the context length they are labelled with. Use lengths within the model's context.",
  },
  'beyond-context': {
    severity: 'warning',
    text: 'Prompt plus output ran past the context length the model file declares: the model was not trained for these positions, so the results say little about compression.',
  },
  'budget-raised': {
    severity: 'info',
    text: "The budget was below what the method can keep of this prompt (its protected tokens + 1 per layer, or its allocator's minimum) and was raised to the smallest budget that works; the KV numbers are what was kept.",
  },
};

export interface SanityEntry {
  readonly flag: SanityFlag | string;
  readonly severity: 'warning' | 'info';
  readonly text: string;
  readonly cells: number;
  /** "model · workload · method @ budget" of each affected group, in report order. */
  readonly groups: readonly string[];
  /** Up to five affected cell ids, sorted. */
  readonly examples: readonly string[];
}

/**
 * Every flag raised by any cell or check row, warnings first, with where it
 * was raised (check rows count as "model · check <name>: detail").
 */
export function sanityReport(cells: readonly ResultRow[], checks: readonly CheckRow[] = []): SanityEntry[] {
  const by = new Map<string, { cells: ResultRow[]; checks: CheckRow[] }>();
  const entry = (f: string): { cells: ResultRow[]; checks: CheckRow[] } => {
    const e = by.get(f) ?? { cells: [], checks: [] };
    by.set(f, e);
    return e;
  };
  for (const r of cells) for (const f of new Set(r.flags)) entry(f).cells.push(r);
  for (const c of checks) for (const f of new Set(c.flags)) entry(f).checks.push(c);
  const out: SanityEntry[] = [];
  for (const [flag, e] of by) {
    let info = (FLAG_INFO as Readonly<Record<string, { severity: 'warning' | 'info'; text: string }>>)[flag] ?? { severity: 'warning' as const, text: flag };
    if (flag === 'low-baseline') {
      // Judged per group of the full cache (every cell of it, not only the flagged ones): see LOW_BASELINE_ALARM_SHARE.
      const keys = new Set(e.cells.map((r) => groupKey(r.model.name, r.workload, r.methodLabel, r.budget)));
      const alarm = [...keys].some((k) => lowBaselineAlarm(cells.filter((r) => groupKey(r.model.name, r.workload, r.methodLabel, r.budget) === k)));
      if (!alarm) info = { severity: 'info', text: LOW_BASELINE_NOTE };
    }
    const checkLabels = e.checks.map((c) => `${c.model.name} · check ${String(c.check)}${c.detail ? `: ${String(c.detail)}` : ''}`).sort(byString);
    out.push({
      flag,
      severity: info.severity,
      text: info.text,
      cells: e.cells.length + e.checks.length,
      groups: [...groupCells(e.cells).map(groupLabel), ...checkLabels],
      examples: [...e.cells, ...e.checks]
        .map((r) => r.cellId)
        .sort(byString)
        .slice(0, 5),
    });
  }
  return out.sort((a, b) => (a.severity === b.severity ? byString(a.flag, b.flag) : a.severity === 'warning' ? -1 : 1));
}
