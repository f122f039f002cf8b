/**
 * The state one call of runExperiment carries, shared by the runner (plan,
 * models, samples) and the cell code (cell.ts): a run's plan and counters,
 * one model's engine, and what every cell of one sample shares.
 */
import type { BudgetSpec, ExperimentDef, Provenance, ResolvedBudgetEntry, ResolvedMethod, ResultRow, Sample } from '@kvlab/core';
import type { PrefillNeeds } from '../engine/generate.ts';
import type { EngineOpener, InferenceEngine, OpenedModel, PrefillResult } from '../engine/inference-engine.ts';
import type { FullReference } from './cell.ts';
import type { RunEvent, RunOptions } from './runner.ts';
import type { ResultsStore } from './store.ts';
import type { KvRoom } from './memory.ts';

export interface Cell {
  readonly id: string;
  readonly method: ResolvedMethod;
  readonly budget: { readonly text: string; readonly spec?: BudgetSpec };
}

export interface Group {
  readonly modelIndex: number;
  readonly sample: Sample;
  readonly cells: Cell[];
  /** The prompt was longer than the model's context and its middle was cut to fit (set when the group runs). */
  truncated?: boolean;
}

/** One model of the experiment, with the samples (groups of cells) this slice runs on it. */
export interface ModelPlan {
  readonly path: string;
  readonly model: OpenedModel;
  readonly groups: Group[];
}

/** Counters a run keeps from its plan to its outcome. */
export interface Progress {
  cellsTotal: number;
  skipped: number;
  cellsRun: number;
  prefills: number;
  cancelled: boolean;
  /** Tokens prefilled and decoded, and the milliseconds spent on them (the progress events' speed). */
  tokens: number;
  busyMs: number;
  /** The ETA's weights: each pending group's weight per cell, their total, and what is done. */
  readonly groupWeight: Map<Group, number>;
  pendingWeight: number;
  doneWeight: number;
}

/** Everything one call of runExperiment carries. */
export interface Run {
  readonly def: ExperimentDef;
  readonly hash: string;
  readonly opts: RunOptions;
  readonly open: EngineOpener;
  readonly emit: (e: RunEvent) => void;
  readonly methods: readonly ResolvedMethod[];
  readonly budgets: readonly ResolvedBudgetEntry[];
  /** Each method's prefill statistics, parsed once for the whole run. */
  readonly needs: ReadonlyMap<ResolvedMethod, PrefillNeeds>;
  readonly prov: Provenance;
  readonly store: ResultsStore;
  readonly t0: number;
  readonly progress: Progress;
}

/** One model's engine, and what every row it writes records about the model and the machine. */
export interface ModelRun {
  readonly run: Run;
  readonly model: OpenedModel;
  readonly engine: InferenceEngine;
  readonly modelInfo: ResultRow['model'];
  readonly stamp: Omit<ResultRow['provenance'], 'date'>;
  /** What a sample's K/V may take (memory.ts): checked before each prefill. */
  readonly kvRoom: KvRoom;
}

/** What every cell of one sample shares: its prompt, its one prefill, and (fidelity) the full cache's outputs. */
export interface CellContext extends ModelRun {
  readonly group: Group;
  readonly ids: readonly number[];
  readonly pre: PrefillResult;
  readonly continuation: readonly number[] | undefined;
  readonly full: FullReference | undefined;
  /** Nothing reads the prefill's K/V after this cell: generate takes them over and empties `pre` of them (generate's lastUseOfPrefill). */
  readonly lastUseOfPrefill?: boolean;
}
