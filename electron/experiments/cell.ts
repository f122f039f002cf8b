/**
 * One cell of a run: compress the sample's one prefill for a method and budget,
 * then score it — teacher-forced fidelity against the full cache, or
 * generation scored against the sample's answers — and turn it into a result
 * row with the flags a reader needs to trust it.
 */
import type { FidelityMetrics, ResultRow, SanityFlag } from '@kvlab/core';
import { scoreText } from '@kvlab/core';
import type { Compression } from '../engine/generate.ts';
import { argmax, cacheOf, compressionOf, generate } from '../engine/generate.ts';
import type { InferenceEngine, PrefillResult } from '../engine/inference-engine.ts';
import type { CacheSize } from '../engine/kv-cache.ts';
import { KvCache } from '../engine/kv-cache.ts';
import { fidelityFromLogits } from './fidelity.ts';
import { maxNew, stopIds } from './prompts.ts';
import type { Cell, CellContext } from './run-state.ts';

/**
 * Full-KV score below which a baseline is flagged 'low-baseline': a model that
 * cannot do the task uncompressed makes every compressed cell of it meaningless.
 */
const EXPECTED_BASELINE: Readonly<Record<string, number>> = { niah: 0.5, niah_whole: 0.5, exact: 0.3 };

export interface FullReference {
  /** Logits [M, V] for the continuation, from the full cache (position 0 from the prefill). */
  readonly logits: Float32Array;
  readonly greedy: number[];
}

const GREEDY_TOKENS = 32;

/** Tokens of a fidelity cell's greedy text (its prediction) for a continuation of `continuationTokens`: at most GREEDY_TOKENS, never stopped at EOS. */
export const fidelityGreedyTokens = (continuationTokens: number): number => Math.min(GREEDY_TOKENS, continuationTokens);

/**
 * The full cache's teacher-forced logits and greedy continuation: what every fidelity cell of a sample is
 * compared with. From copies of the prefill (it must stay for the compressed cells), or `inPlace`, where
 * there is no room for a copy: over the prefill's own arrays (KvCache.view) with steps that add nothing
 * to them, the greedy tokens fed again, all of them, at each step — the same logits up to float rounding
 * (a step's rows are computed independently, by kernels that may sum in another order) for
 * ~GREEDY_TOKENS/2 times the greedy steps' rows.
 */
export async function fullFidelityReference(
  engine: InferenceEngine,
  pre: PrefillResult,
  continuation: readonly number[],
  inPlace = false,
): Promise<FullReference> {
  const greedyN = fidelityGreedyTokens(continuation.length);
  if (!inPlace) {
    const logits = await teacherForce(engine, pre, KvCache.full(engine.shape, pre.keys, pre.values, pre.n), continuation);
    return { logits, greedy: await greedyFrom(engine, pre, cacheOf(engine, pre, {}), greedyN) };
  }
  const view = KvCache.view(engine.shape, pre.keys, pre.values, pre.n);
  const logits = await teacherForce(engine, pre, view, continuation, false);
  const greedy = [argmax(pre.logits.subarray(pre.logits.length - engine.config.vocabSize))];
  while (greedy.length < greedyN) greedy.push(argmax((await engine.step(view, greedy, { commit: false })).logits));
  return { logits, greedy };
}

/** Teacher-forced logits [M, V] for the continuation from `cache` (which it extends, unless `commit` is false). */
async function teacherForce(
  engine: InferenceEngine,
  pre: PrefillResult,
  cache: KvCache,
  continuation: readonly number[],
  commit = true,
): Promise<Float32Array> {
  const V = engine.config.vocabSize;
  const M = continuation.length;
  const logits = new Float32Array(M * V);
  // Position 0 is predicted by the (uncompressed) prefill, as compression happens after it: compression affects positions 1 … M−1.
  logits.set(pre.logits.subarray(pre.logits.length - V), 0);
  if (M > 1) {
    const r = await engine.step(cache, continuation.slice(0, M - 1), { allLogits: true, commit });
    logits.set(r.logits, V);
  }
  return logits;
}

/** What one cell computed, before it becomes a row. */
interface CellOutcome {
  readonly prediction: string;
  readonly score: number;
  readonly decodeTokens: number;
  readonly fidelity?: FidelityMetrics;
  readonly compressMs: number;
  readonly compression: Compression;
  /** What the cache held right after compression. */
  readonly held: CacheSize;
  readonly flags: SanityFlag[];
}

/** One cell: compress the sample's prefill, then score it — teacher-forced fidelity, or generation scored against the answers. */
export async function runCell(ctx: CellContext, cell: Cell): Promise<ResultRow> {
  const t2 = performance.now();
  const { continuation, full } = ctx;
  const out = continuation && full ? await fidelityCell(ctx, cell, { continuation, full }) : await generationCell(ctx, cell);
  const flags = [...out.flags, ...sanityFlags(ctx, cell, out)];
  return cellRow(ctx, cell, { ...out, flags, decodeMs: performance.now() - t2 });
}

/** Fidelity: the compressed cache's teacher-forced logits and greedy text against the full cache's. The prefill is compressed once. */
async function fidelityCell(ctx: CellContext, cell: Cell, ref: { continuation: readonly number[]; full: FullReference }): Promise<CellOutcome> {
  const { engine, pre } = ctx;
  const { continuation, full } = ref;
  const method = cell.method.config;
  const t1 = performance.now();
  const compression = compressionOf(engine, pre, method, cell.budget.spec);
  const cache = cacheOf(engine, pre, compression);
  const compressMs = performance.now() - t1;
  const held = cache.size();
  const logits = await teacherForce(engine, pre, cache, continuation);
  const greedyN = fidelityGreedyTokens(continuation.length);
  // Teacher forcing extended `cache`; the greedy run starts from a second cache built from the same plan.
  const greedy = method === 'full' ? full.greedy : await greedyFrom(engine, pre, cacheOf(engine, pre, compression), greedyN);
  const vocab = engine.config.vocabSize;
  const fidelity = fidelityFromLogits({ mine: logits, full: full.logits, targets: continuation, vocab, myGreedy: greedy, fullGreedy: full.greedy });
  const prediction = ctx.model.tokenizer.decode(greedy);
  return { prediction, score: fidelity.top1, decodeTokens: continuation.length - 1 + greedyN, fidelity, compressMs, compression, held, flags: [] };
}

/** Generation: decode from the compressed prefill and score the text against the sample's answers. */
async function generationCell(ctx: CellContext, cell: Cell): Promise<CellOutcome> {
  const { engine, model, group, run } = ctx;
  const sample = group.sample;
  const method = cell.method.config;
  const r = await generate(engine, ctx.ids, {
    method,
    ...(cell.budget.spec ? { budget: cell.budget.spec } : {}),
    maxTokens: maxNew(sample, run.def),
    prefill: ctx.pre,
    lastUseOfPrefill: ctx.lastUseOfPrefill ?? false,
    stopIds: stopIds(model, sample),
  });
  const prediction = model.tokenizer.decode(r.tokens);
  const score = scoreText(sample, prediction);
  const low = method === 'full' && score < (EXPECTED_BASELINE[sample.metric] ?? -1);
  return {
    prediction,
    score,
    decodeTokens: r.timings.decodeTokens,
    compressMs: r.timings.compressMs,
    compression: { ...(r.plan ? { plan: r.plan } : {}), ...(r.budget ? { budget: r.budget } : {}) },
    held: r.heldAfterCompression,
    flags: low ? ['low-baseline'] : [],
  };
}

/** What a reader of the row must know to trust its number: context overruns and budgets that did not compress. */
function sanityFlags(ctx: CellContext, cell: Cell, out: CellOutcome): SanityFlag[] {
  const flags: SanityFlag[] = [];
  // A prompt cut to fit says nothing about the length its cell is labelled with; one that (with its
  // output) runs past the context the model file declares is outside what the model was trained for.
  if (ctx.group.truncated) flags.push('truncated-to-context');
  else if (ctx.ids.length + out.decodeTokens > ctx.model.config.contextLength) flags.push('beyond-context');
  const budget = out.compression.budget;
  if (cell.method.config !== 'full' && budget) {
    if (budget.adjusted) flags.push('budget-raised');
    if (!budget.compress) flags.push('budget-covers-prompt');
    else if (out.held.bytes >= out.held.fullBytes) flags.push('not-compressed');
  }
  return flags;
}

function cellRow(ctx: CellContext, cell: Cell, out: CellOutcome & { readonly decodeMs: number }): ResultRow {
  const { sample } = ctx.group;
  const { plan, budget } = out.compression;
  const { held } = out;
  const { ids } = ctx;
  const L = ctx.engine.config.numLayers;
  return {
    kind: 'cell',
    cellId: cell.id,
    experimentHash: ctx.run.hash,
    experiment: ctx.run.def.name,
    model: ctx.modelInfo,
    workload: sample.workload,
    sampleId: sample.id,
    meta: sample.meta,
    promptTokens: ids.length,
    method: cell.method.spec,
    methodLabel: cell.method.label,
    methodParams: plan?.config ?? null,
    budget: cell.budget.text,
    metric: sample.metric,
    score: out.score,
    prediction: out.prediction,
    answers: sample.answers,
    ...(out.fidelity ? { fidelity: out.fidelity } : {}),
    kv: {
      layerBudgets: plan ? [...plan.layerBudgets] : new Array<number>(L).fill(ids.length),
      heldPerHead: held.perHead.map((h) => [...h]),
      heldBytes: held.bytes,
      slotBytes: held.slotBytes,
      fullBytes: held.fullBytes,
      nominalTokens: budget?.totalTokens ?? L * ids.length,
      nominalRatio: budget?.keepRatio ?? 1,
    },
    ...(plan?.stats.lmba ? { lmba: [...plan.stats.lmba] } : {}),
    ...(ctx.run.def.record.kept && plan ? { kept: plan.kept.map((layer) => layer.map((k) => [...k])) } : {}),
    timings: { prefillMs: ctx.pre.timings.prefillMs, compressMs: out.compressMs, decodeMs: out.decodeMs, decodeTokens: out.decodeTokens },
    flags: out.flags,
    provenance: { ...ctx.stamp, date: new Date().toISOString() },
  };
}

/** Greedy tokens from a prefill and a cache built from it (which it extends): the first from the prefill's logits. */
async function greedyFrom(engine: InferenceEngine, pre: PrefillResult, cache: KvCache, n: number): Promise<number[]> {
  const out: number[] = [];
  let next = argmax(pre.logits.subarray(pre.logits.length - engine.config.vocabSize));
  for (let i = 0; i < n; i++) {
    out.push(next);
    if (i + 1 === n) break;
    next = argmax((await engine.step(cache, [next])).logits);
  }
  return out;
}
