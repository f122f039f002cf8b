/**
 * Aggregation of a results folder's rows for the reports. The implementation
 * moved to core (core/src/results/aggregate.ts) so the app's Compare screen
 * and the CLI's report compute the same numbers with the same code; this
 * module re-exports it so the report writers and their tests keep their
 * imports. `StoredExperiment` and the store's raw rows fit core's structural
 * `ExperimentRecord` and `RowRecord`.
 */
export {
  ReportError,
  aggregate,
  allocatorOf,
  budgetOrder,
  compareMethods,
  FLAG_INFO,
  fidelityCharts,
  groupCells,
  groupKey,
  groupLabel,
  layerBudgetCharts,
  niahGrids,
  paretoFrontiers,
  profileSummaries,
  provenanceTable,
  sanityReport,
  splitRows,
  stat,
  summarize,
  tQuantile975,
} from '@kvlab/core';
export type {
  ExperimentRecord,
  ExperimentSummary,
  FidelityChart,
  FidelityCurve,
  FidelityPoint,
  FidelityStats,
  GroupSummary,
  LayerBudgetChart,
  LayerBudgetSeries,
  NiahGrid,
  ParetoFrontier,
  ProfileSummary,
  ProvenanceEntry,
  ReportData,
  ReportRows,
  RowRecord,
  SanityEntry,
  Stat,
} from '@kvlab/core';
