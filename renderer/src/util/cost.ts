/**
 * What an experiment will cost before it runs: samples, cells and prefills,
 * counted the way core expands an experiment for the runner (experiment-plan.ts):
 * every sample is prefilled once per model, "full" adds one cell per sample and
 * every other method one cell per budget. The builder shows it next to the
 * Start button; the fake API plans its runs from the same core sketches, so the
 * counts the tests see match what the builder promised.
 *
 * Works on the experiment as written (ExperimentInput: defaults may be absent),
 * and tolerates half-typed input so the estimate updates while the user types.
 */
import type { AnyRow, ExperimentInput, SampleGrid, WorkloadDefInput } from '@kvlab/core';
import { sketchWorkload } from '@kvlab/core';

/**
 * The samples of one workload, in the runner's order: core's sketch from the
 * workload registry (each kind names and orders its samples in one place, for
 * its generator and its sketch alike). `exact` is false for LongBench, whose
 * sample count depends on the file.
 */
export function sampleGrid(w: WorkloadDefInput): SampleGrid {
  return sketchWorkload(w);
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
