/**
 * Aggregation of a results folder's rows into what the reports and the app's
 * Compare screen draw and tabulate. ONE implementation, in core, so the CLI's
 * static report (electron/reports) and the renderer show the same numbers;
 * each concern has its own file beside this one (rows, stat, order, groups,
 * pareto, niah, layer-budgets, fidelity, profiles, low-baseline, sanity,
 * summary) and this one puts them together. Pure functions over plain rows: no I/O, no
 * formatting, and the output never depends on the order rows were appended in
 * (a resumed sweep or a merge of shards appends in another order, and must
 * give the same report).
 *
 * Why the numbers are the ones below:
 *   - scores are averaged over samples per (model, workload, method, budget),
 *     with the sample standard deviation and a Student-t 95 % confidence
 *     interval, because sweeps on small models have few samples per cell and
 *     a normal interval would overstate certainty;
 *   - memory is the MEASURED KV bytes the cache held after compression
 *     (`kv.heldBytes`), not the nominal budget — the whole point of the lab
 *     is to compare methods at the memory they really use (a head-wise
 *     method that masks entries instead of freeing them saves nothing);
 *   - the Pareto frontier is taken per model and workload over those groups:
 *     more score for no more measured memory.
 *
 * Inputs are structural (`ExperimentRecord`, `RowRecord`) so the main
 * process passes its stored experiment and raw rows and the renderer passes
 * what `getResults` returned, without either importing the other's types.
 */
import type { FidelityChart } from './fidelity.ts';
import { fidelityCharts } from './fidelity.ts';
import type { GroupSummary } from './groups.ts';
import { groupCells } from './groups.ts';
import type { LayerBudgetChart } from './layer-budgets.ts';
import { layerBudgetCharts } from './layer-budgets.ts';
import type { NiahGrid } from './niah.ts';
import { niahGrids } from './niah.ts';
import { byString } from './order.ts';
import type { ParetoFrontier } from './pareto.ts';
import { paretoFrontiers } from './pareto.ts';
import type { ProfileSummary } from './profiles.ts';
import { profileSummaries } from './profiles.ts';
import type { ExperimentRecord, ReportRows, RowRecord } from './rows.ts';
import { splitRows } from './rows.ts';
import type { SanityEntry } from './sanity.ts';
import { sanityReport } from './sanity.ts';
import type { ExperimentSummary, ProvenanceEntry } from './summary.ts';
import { provenanceTable, summarize } from './summary.ts';

export interface ReportData {
  readonly summary: ExperimentSummary;
  readonly groups: readonly GroupSummary[];
  readonly pareto: readonly ParetoFrontier[];
  readonly niah: readonly NiahGrid[];
  readonly layerBudgets: readonly LayerBudgetChart[];
  readonly fidelity: readonly FidelityChart[];
  readonly profiles: readonly ProfileSummary[];
  readonly sanity: readonly SanityEntry[];
  readonly provenance: readonly ProvenanceEntry[];
}

/**
 * Everything the report draws. Rows are put in cell-id order first, so that
 * even the floating-point sums do not depend on the order rows were appended
 * in (resumed sweeps and merged shards append in other orders).
 */
export function aggregate(experiment: ExperimentRecord, stored: readonly RowRecord[]): ReportData {
  const split = splitRows(stored);
  const byId = <T extends { readonly cellId: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => byString(a.cellId, b.cellId));
  const rows: ReportRows = { cells: byId(split.cells), profiles: byId(split.profiles), checks: byId(split.checks) };
  const groups = groupCells(rows.cells);
  return {
    summary: summarize(experiment, rows),
    groups,
    pareto: paretoFrontiers(groups),
    niah: niahGrids(rows.cells),
    layerBudgets: layerBudgetCharts(rows.cells, rows.profiles),
    fidelity: fidelityCharts(groups),
    profiles: profileSummaries(rows.profiles),
    sanity: sanityReport(rows.cells, rows.checks),
    provenance: provenanceTable(rows),
  };
}
