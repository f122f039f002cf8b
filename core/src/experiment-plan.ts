/**
 * How an experiment expands into cells, in one place: the runner and the
 * renderer's fake API both call it, so a cell has the same id wherever it is
 * planned, and a resumed run finds its finished cells by id.
 *
 * Every sample is prefilled once per model; "full" adds one cell per sample,
 * every other method one cell per budget, in the experiment's order of methods,
 * then budgets. A cell's id is `m<model index>/<sample id>/<method label>/<budget>`;
 * the state-leak check, re-running a model's first full-KV cell after all its
 * samples, is that cell's id + `#leak-check`.
 */
import type { BudgetSpec } from './budget.ts';
import type { ResolvedMethod } from './experiment.ts';

/** One cell of a sample: a method at a budget ('full' for the uncompressed cache). */
export interface PlannedCell {
  readonly id: string;
  readonly method: ResolvedMethod;
  readonly budget: { readonly text: string; readonly spec?: BudgetSpec };
}

/** A budget as the plan needs it: its text as written (trimmed) and, where parsed, its spec. */
export interface PlanBudget {
  readonly text: string;
  readonly spec?: BudgetSpec;
}

export function cellId(modelIndex: number, sampleId: string, methodLabel: string, budget: string): string {
  return `m${modelIndex}/${sampleId}/${methodLabel}/${budget}`;
}

/** The id of the state-leak check row of the cell `firstFullCellId`. */
export function leakCheckId(firstFullCellId: string): string {
  return `${firstFullCellId}#leak-check`;
}

/** The cells of one sample of one model: "full" once, every other method at every budget. */
export function sampleCells(modelIndex: number, sampleId: string, methods: readonly ResolvedMethod[], budgets: readonly PlanBudget[]): PlannedCell[] {
  const cells: PlannedCell[] = [];
  for (const m of methods) {
    if (m.config === 'full') cells.push({ id: cellId(modelIndex, sampleId, m.label, 'full'), method: m, budget: { text: 'full' } });
    else for (const b of budgets) cells.push({ id: cellId(modelIndex, sampleId, m.label, b.text), method: m, budget: b });
  }
  return cells;
}

/** A cell with the model and sample it belongs to. */
export interface PlannedSampleCell<S> extends PlannedCell {
  readonly modelIndex: number;
  readonly sample: S;
}

/** Every cell of an experiment: for each model, each sample (in workload order), its cells. */
export function planCells<S extends { readonly id: string }>(plan: {
  readonly models: number;
  readonly samples: readonly S[];
  readonly methods: readonly ResolvedMethod[];
  readonly budgets: readonly PlanBudget[];
}): PlannedSampleCell<S>[] {
  const out: PlannedSampleCell<S>[] = [];
  for (let mi = 0; mi < plan.models; mi++)
    for (const sample of plan.samples) for (const c of sampleCells(mi, sample.id, plan.methods, plan.budgets)) out.push({ ...c, modelIndex: mi, sample });
  return out;
}
