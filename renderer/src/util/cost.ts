/**
 * What an experiment will cost before it runs: samples, cells and prefills,
 * counted the way the runner expands an experiment (electron/experiments/runner.ts):
 * every sample is prefilled once per model, "full" adds one cell per sample and
 * every other method one cell per budget. The builder shows it next to the
 * Start button; the fake API uses the same sample grid to plan its runs, so the
 * counts the tests see match what the builder promised.
 *
 * Works on the experiment as written (ExperimentInput: defaults may be absent),
 * and tolerates half-typed input so the estimate updates while the user types.
 */
import type { ExperimentInput, WorkloadDefInput } from '@kvlab/core';
import { niahNaming } from '@kvlab/core';

/** One sample the runner would generate: enough to label a cell and size its prompt. */
export interface SampleSketch {
  readonly id: string;
  readonly workload: string;
  readonly promptTokens: number;
  readonly metric: string;
  readonly meta: Readonly<Record<string, string | number | boolean>>;
}

const nums = (xs: unknown): number[] => (Array.isArray(xs) ? xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)) : []);
const count = (x: unknown, fallback: number): number => (typeof x === 'number' && Number.isInteger(x) && x > 0 ? x : fallback);

/** LongBench rows live in a file the UI cannot read; without a `limit` this many per dataset is assumed (and the estimate says so). */
export const LONGBENCH_GUESS_PER_DATASET = 200;

/**
 * The samples of one workload, in the runner's order. `exact` is false for
 * LongBench, whose sample count depends on the file.
 */
export function sampleGrid(w: WorkloadDefInput): { samples: SampleSketch[]; exact: boolean } {
  const out: SampleSketch[] = [];
  switch (w.kind) {
    case 'niah': {
      // Named and scored as core's generateNiah does (niahNaming), in its order: length, sample, depth.
      const variant = w.variant ?? 'single';
      const { workload, metric } = niahNaming(w);
      for (const c of nums(w.contextLengths))
        for (let s = 0; s < count(w.samplesPerCell, 1); s++)
          for (const d of nums(w.depths))
            out.push({
              id: `${workload}/c${c}/d${d}/s${s}`,
              workload,
              promptTokens: c,
              metric,
              meta: { contextLength: c, depth: d, variant },
            });
      return { samples: out, exact: true };
    }
    case 'ruler':
      for (const c of nums(w.contextLengths))
        for (let s = 0; s < count(w.samples, 1); s++)
          out.push({
            id: `ruler-${w.task}/c${c}/s${s}`,
            workload: `ruler-${w.task}`,
            promptTokens: c,
            metric: 'niah',
            meta: { contextLength: c, task: w.task },
          });
      return { samples: out, exact: true };
    case 'fidelity':
      for (const p of nums(w.promptTokens))
        for (let s = 0; s < count(w.samples, 1); s++)
          out.push({
            id: `fidelity/p${p}/s${s}`,
            workload: 'fidelity',
            promptTokens: p,
            metric: 'fidelity',
            meta: { promptTokens: p, continuationTokens: count(w.continuationTokens, 1), source: w.texts === 'sampled' ? 'sampled' : 'texts' },
          });
      return { samples: out, exact: true };
    case 'longbench': {
      const datasets = w.datasets?.length ? w.datasets : ['(all datasets)'];
      const per = count(w.limit, LONGBENCH_GUESS_PER_DATASET);
      for (const ds of datasets)
        for (let i = 0; i < per; i++)
          out.push({ id: `longbench-${ds}/${i}`, workload: `longbench-${ds}`, promptTokens: 4096, metric: 'qa_f1', meta: { dataset: ds } });
      return { samples: out, exact: w.limit !== undefined && w.datasets !== undefined };
    }
  }
}

export interface CostEstimate {
  readonly models: number;
  readonly samples: number;
  /** Cells of one sample: full methods + compressed methods × budgets. */
  readonly cellsPerSample: number;
  readonly cells: number;
  /** One full-attention prefill per (model, sample). */
  readonly prefills: number;
  /** Prompt tokens prefilled over the whole run. */
  readonly promptTokens: number;
  /** False when a count is a guess (LongBench without limit/datasets). */
  readonly exact: boolean;
}

const isFull = (m: unknown): boolean => {
  const s = typeof m === 'string' ? m : typeof m === 'object' && m !== null && 'method' in m && typeof m.method === 'string' ? m.method : '';
  const t = s.trim().toLowerCase();
  return t === 'full' || t === 'fullkv';
};

export function estimateCost(exp: Pick<ExperimentInput, 'models' | 'methods' | 'budgets' | 'workloads'>): CostEstimate {
  const models = exp.models.length;
  const full = exp.methods.filter(isFull).length;
  const compressed = exp.methods.length - full;
  const cellsPerSample = full + compressed * exp.budgets.length;
  let samples = 0;
  let promptTokens = 0;
  let exact = true;
  for (const w of exp.workloads) {
    const g = sampleGrid(w);
    samples += g.samples.length;
    promptTokens += g.samples.reduce((a, s) => a + s.promptTokens, 0);
    exact &&= g.exact;
  }
  return { models, samples, cellsPerSample, cells: models * samples * cellsPerSample, prefills: models * samples, promptTokens: models * promptTokens, exact };
}
