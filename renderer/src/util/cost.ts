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
import type { AnyRow, ExperimentInput, WorkloadDefInput } from '@kvlab/core';
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

// -- Time ------------------------------------------------------------------------

/** How fast a model ran on this engine, measured: never a guess. */
export interface MeasuredSpeed {
  /** Prompt tokens per second of full-attention prefill. */
  readonly prefillTokensPerSecond: number;
  /** Generated tokens per second. */
  readonly decodeTokensPerSecond: number;
  /** Mean milliseconds a cell spent compressing the cache (0 when unmeasured). */
  readonly compressMsPerCell: number;
  /** Where the numbers come from, for the label ("12 result rows", "the last Playground run"). */
  readonly source: string;
}

/**
 * The speed a model showed in stored result rows (each row records its prefill, compression and
 * decode timings): total tokens over total time, so long and short samples weigh by their tokens.
 * Null when no row of the model has both a timed prefill and a timed decode.
 */
export function speedFromRows(rows: readonly AnyRow[], modelPath: string): MeasuredSpeed | null {
  let prefillTokens = 0;
  let prefillMs = 0;
  let decodeTokens = 0;
  let decodeMs = 0;
  let compressMs = 0;
  let n = 0;
  for (const r of rows) {
    if (r.kind !== 'cell' || r.model.path !== modelPath) continue;
    n++;
    if (r.timings.prefillMs > 0) {
      prefillTokens += r.promptTokens;
      prefillMs += r.timings.prefillMs;
    }
    if (r.timings.decodeMs > 0 && r.timings.decodeTokens > 0) {
      decodeTokens += r.timings.decodeTokens;
      decodeMs += r.timings.decodeMs;
    }
    compressMs += r.timings.compressMs;
  }
  if (prefillMs <= 0 || decodeMs <= 0) return null;
  return {
    prefillTokensPerSecond: prefillTokens / (prefillMs / 1000),
    decodeTokensPerSecond: decodeTokens / (decodeMs / 1000),
    compressMsPerCell: n > 0 ? compressMs / n : 0,
    source: `${n} result row${n === 1 ? '' : 's'}`,
  };
}

/** The speed a Playground run showed: its shared prefill, and the full cache's decode rate. Null when either is unmeasured. */
export function speedFromPlayground(
  r: { readonly promptTokens: number; readonly prefillMs: number; readonly tokensPerSecond: number } | undefined,
): MeasuredSpeed | null {
  if (!r || r.prefillMs <= 0 || r.tokensPerSecond <= 0) return null;
  return {
    prefillTokensPerSecond: r.promptTokens / (r.prefillMs / 1000),
    decodeTokensPerSecond: r.tokensPerSecond,
    compressMsPerCell: 0,
    source: 'the last Playground run',
  };
}

/**
 * Seconds one model's share of an experiment should take at a measured speed: every prompt token
 * prefilled once, and every cell compressing and generating up to `decodeTokensPerCell` tokens
 * (the generation cap; a cell that stops early at end-of-text takes less, so this leans long).
 * Attention cost grows with the prompt, so a speed measured on short prompts underestimates long ones.
 */
export function estimateSeconds(work: { readonly promptTokens: number; readonly cells: number }, speed: MeasuredSpeed, decodeTokensPerCell: number): number {
  const prefill = work.promptTokens / speed.prefillTokensPerSecond;
  const decode = (work.cells * decodeTokensPerCell) / speed.decodeTokensPerSecond;
  return prefill + decode + (work.cells * speed.compressMsPerCell) / 1000;
}
