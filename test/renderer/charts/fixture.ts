/**
 * Chart test data: the CLI report's hand-written fixture (test/reports/fixtures.ts,
 * every number a closed formula), aggregated by core exactly as the report and
 * the Compare screen do, plus the report's HTML for cross-checking numbers.
 */
import type { AnyRow, GroupSummary, NiahGrid, ResultRow } from '@kvlab/core';
import { aggregate, cellIdsByGroup, methodColors, splitRows } from '@kvlab/core';
import { renderHtmlReport } from '../../../electron/reports/html.ts';
import { EXPERIMENT, fixtureRows } from '../../reports/fixtures.ts';

export const ZZ = 'ZigZag, "quoted" <b>';
export const rows: AnyRow[] = fixtureRows();
export const cells: readonly ResultRow[] = splitRows(rows).cells;
export const data = aggregate(EXPERIMENT, rows);
export const colors = methodColors(data.summary.methods);
export const ids = cellIdsByGroup(cells);
export const reportHtml = (): string => renderHtmlReport({ experiment: EXPERIMENT, rows: fixtureRows() });

export const groupsOf = (workload: string): GroupSummary[] => data.groups.filter((g) => g.workload === workload);
export const frontierOf = (workload: string): readonly string[] => data.pareto.find((p) => p.workload === workload)?.keys ?? [];
export function gridOf(label: string, budget: string): NiahGrid {
  const g = data.niah.find((x) => x.methodLabel === label && x.budget === budget);
  if (!g) throw new Error(`no grid ${label} @ ${budget}`);
  return g;
}

export const unescapeHtml = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? e);
