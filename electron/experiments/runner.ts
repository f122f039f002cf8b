/**
 * The experiment runner: expands an experiment into cells — (model, sample,
 * method, budget) — and runs them so that every sample is prefilled ONCE with
 * full attention; every (method, budget) then compresses that cached prefill
 * and decodes. k methods × b budgets cost one prefill plus k·b
 * compress-and-decode steps, not k·b prefills.
 *
 * Results are appended to the store as each cell finishes (a kill loses at
 * most the cell in flight); a rerun skips finished cells. Cells are grouped by
 * (model, sample) in a deterministic order, which is also how `--shard i/n`
 * slices them: group g belongs to shard g mod n, so shards never repeat a
 * prefill.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { BudgetSpec, CompressionPlan, ResolvedBudget, Sample } from '@kvlab/core';
import { canonicalJson, cellWeights, parseExperiment, resolveBudgets, resolveMethods, scoreText, WorkloadError, weightedEta } from '@kvlab/core';
import { leakCheckId, sampleCells } from '@kvlab/core';
import type { ExperimentDef, ResolvedMethod } from '@kvlab/core';
import { Engine } from '../engine/engine.ts';
import type { PrefillResult } from '../engine/engine.ts';
import { argmax, compressPrefill, generate, prefillForMethods, sampler } from '../engine/generate.ts';
import type { Method } from '../engine/generate.ts';
import type { CacheSize } from '../engine/kv-cache.ts';
import { KvCache } from '../engine/kv-cache.ts';
import { describeWeights, hasBlockWeights, loadModel } from '../engine/load.ts';
import type { LoadedModel } from '../engine/model.ts';
import type { HfTokenizer } from '../engine/tokenizers/hf.ts';
import { fidelityFromLogits } from './fidelity.ts';
import { fileSha256, provenance, providerStamp } from './provenance.ts';
import type { CheckRow, ResultRow, SanityFlag } from './rows.ts';
import type { SampleContext } from './samples.ts';
import { samplesForWorkload, tokenCounter } from './samples.ts';
import { ResultsStore } from './store.ts';

export interface RunOptions {
  /** Results folder (created if needed). */
  readonly outDir: string;
  /** Folder relative paths in the experiment resolve against (the experiment file's folder). */
  readonly baseDir: string;
  /** Take the i-th of n slices of the cells (0-based i). */
  readonly shard?: { readonly index: number; readonly count: number };
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: RunEvent) => void;
  /** Graph cache folder (default: the engine's). */
  readonly cacheDir?: string;
  /** Who writes, as a second writer of the folder is told (default: this process's command line). */
  readonly writer?: string;
}

export type RunEvent =
  | { readonly type: 'start'; readonly cellsTotal: number; readonly cellsDone: number; readonly prefills: number; readonly prefillsSaved: number }
  | {
      readonly type: 'progress';
      readonly cellsDone: number;
      readonly cellsTotal: number;
      readonly tokensPerSecond: number;
      readonly etaSeconds: number;
      readonly current: string;
    }
  | { readonly type: 'cell'; readonly row: ResultRow }
  | { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly message: string };

export interface RunSummary {
  readonly experimentHash: string;
  readonly cellsTotal: number;
  readonly cellsRun: number;
  readonly cellsSkipped: number;
  readonly prefills: number;
  /** Prefills a naive runner (one per cell) would have done on top. */
  readonly prefillsSaved: number;
  readonly cancelled: boolean;
  readonly seconds: number;
}

/** A sample's prompt length in tokens as the plan states it (NIAH/RULER: meta.tokens or meta.contextLength); 0 when it does not. */
function plannedTokens(sample: Sample): number {
  const m = sample.meta;
  return typeof m['tokens'] === 'number' ? m['tokens'] : typeof m['contextLength'] === 'number' ? m['contextLength'] : 0;
}

/** Expected full-KV score below which a baseline is flagged (landscape.md §4.8). */
const EXPECTED_BASELINE: Readonly<Record<string, number>> = { niah: 0.5, niah_whole: 0.5, exact: 0.3 };

export function experimentHash(def: ExperimentDef): string {
  return createHash('sha256').update(canonicalJson(def)).digest('hex');
}

interface Cell {
  readonly id: string;
  readonly method: ResolvedMethod;
  readonly budget: { readonly text: string; readonly spec?: BudgetSpec };
}

interface Group {
  readonly modelIndex: number;
  readonly sample: Sample;
  readonly cells: Cell[];
  /** The prompt was longer than the model's context and its middle was cut to fit (set when the group runs). */
  truncated?: boolean;
}

/** Runs (or resumes) an experiment. `raw` is the decoded experiment file. */
// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export async function runExperiment(raw: unknown, opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const def = parseExperiment(raw);
  const hash = experimentHash(def);
  const emit = opts.onEvent ?? (() => undefined);
  const methods = resolveMethods(def.methods);
  const budgets = resolveBudgets(def.budgets);
  const prov = provenance();
  // Takes the folder's single-writer lock; the finally below releases it on success, error and cancel alike.
  const store = ResultsStore.open(opts.outDir, def, hash, opts.writer !== undefined ? { command: opts.writer } : {});
  let prefills = 0;
  let cellsRun = 0;
  let cancelled = false;
  let cellsTotal: number;
  let skipped: number;
  let tokens = 0;
  let busyMs = 0;
  try {
    // Plan: load each model's tokenizer-side facts lazily, build its sample groups.
    const plans: { modelPath: string; model: LoadedModel; groups: Group[] }[] = [];
    let g = 0;
    for (const [mi, rel] of def.models.entries()) {
      const modelPath = resolve(opts.baseDir, rel);
      const model = await loadModel(modelPath, { floatWeights: def.engine.floatWeights ?? 'auto' });
      const ctx = await sampleContext(def, model, opts);
      const groups: Group[] = [];
      // Cells are keyed by sample id: two workloads that produce the same id would share (and on a rerun skip) each other's rows.
      const owner = new Map<string, number>();
      for (const [wi, w] of def.workloads.entries()) {
        for (const sample of samplesForWorkload(w, ctx)) {
          const first = owner.get(sample.id);
          if (first !== undefined && first !== wi) {
            throw new WorkloadError(
              sample.workload,
              `workloads.${wi} produces sample '${sample.id}', as workloads.${first} does, so their results would be mixed up; give one of them a "name" (NIAH) or run them as separate experiments`,
            );
          }
          owner.set(sample.id, wi);
          const shardOk = !opts.shard || g % opts.shard.count === opts.shard.index;
          g++;
          if (!shardOk) continue;
          const cells: Cell[] = sampleCells(mi, sample.id, methods, budgets);
          groups.push({ modelIndex: mi, sample, cells });
        }
      }
      plans.push({ modelPath, model, groups });
    }
    cellsTotal = plans.reduce((a, p) => a + p.groups.reduce((x, gr) => x + gr.cells.length, 0), 0);
    skipped = plans.reduce((a, p) => a + p.groups.reduce((x, gr) => x + gr.cells.filter((c) => store.has(c.id)).length, 0), 0);
    const pendingGroups = plans.reduce((a, p) => a + p.groups.filter((gr) => gr.cells.some((c) => !store.has(c.id))).length, 0);
    const pendingCells = cellsTotal - skipped;
    // Samples that will not fit are cut (fitPrompt) or run past the context: say so before the run, not only in the rows.
    for (const p of plans) {
      const limit = p.model.config.contextLength;
      const length = (gr: Group): number => plannedTokens(gr.sample);
      const fidelity = (gr: Group): boolean => gr.sample.metric === 'fidelity';
      const cut = p.groups.filter((gr) => !fidelity(gr) && length(gr) > promptRoom(p.model, gr.sample, def));
      const over = p.groups.filter((gr) => fidelity(gr) && length(gr) > limit);
      const name = `${p.model.config.name}'s context (${limit.toLocaleString('en-US')} tokens)`;
      if (cut.length > 0)
        emit({
          type: 'log',
          level: 'warn',
          message: `${cut.length} of ${p.groups.length} samples do not fit in ${name} with room for the answer: their middles are cut to fit and their rows are flagged 'truncated-to-context' — use shorter lengths`,
        });
      if (over.length > 0)
        emit({
          type: 'log',
          level: 'warn',
          message: `${over.length} of ${p.groups.length} fidelity samples are longer than ${name}: they are not cut, and their rows are flagged 'beyond-context'`,
        });
    }
    emit({ type: 'start', cellsTotal, cellsDone: skipped, prefills: pendingGroups, prefillsSaved: pendingCells - pendingGroups });
    // The ETA weighs each cell by its prompt's planned tokens (core's weightedEta says why): long contexts come last.
    const pendingGroupList = plans.flatMap((p) => p.groups.filter((gr) => gr.cells.some((c) => !store.has(c.id))));
    const groupWeight = new Map<Group, number>();
    cellWeights(pendingGroupList.map((gr) => plannedTokens(gr.sample))).forEach((w, i) => groupWeight.set(pendingGroupList[i] as Group, w));
    const pendingWeight = pendingGroupList.reduce((a, gr) => a + (groupWeight.get(gr) ?? 1) * gr.cells.filter((c) => !store.has(c.id)).length, 0);
    let doneWeight = 0;

    for (const plan of plans) {
      const pending = plan.groups.filter((gr) => gr.cells.some((c) => !store.has(c.id)));
      // The state-leak check re-runs this slice's FIRST full-KV cell in plan order — not the first one this process
      // happened to run — so a run resumed after a kill writes the same check row as an uninterrupted one, and a run
      // killed between its last cell and the check still owes (and writes) it.
      const leak = firstFullCell(plan.groups);
      if (pending.length === 0 && (!leak || store.has(leak.checkId))) continue;
      const { model } = plan;
      const sha = fileSha256(plan.modelPath);
      const engine = await Engine.create(model, {
        executionProvider: def.engine.executionProvider,
        ...(def.engine.threads ? { threads: def.engine.threads } : {}),
        ...(def.engine.prefillChunk ? { prefillChunk: def.engine.prefillChunk } : {}),
        ...(def.engine.exactMatmul ? { exactMatmul: true } : {}),
        ...(def.engine.kvType ? { kvType: def.engine.kvType } : {}),
        ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
      });
      if (engine.info.fallbackReason) emit({ type: 'log', level: 'warn', message: engine.info.fallbackReason });
      const modelInfo = {
        path: plan.modelPath,
        name: model.config.name,
        sha256: sha,
        layers: model.config.numLayers,
        kvHeads: model.config.numKvHeads,
        headDim: model.config.headDim,
      };
      emit({ type: 'log', level: 'info', message: `provider: ${engine.info.executionProvider} — ${engine.info.providerReason}` });
      const stamp = {
        ...prov,
        ...providerStamp(engine.info),
        threads: def.engine.threads ?? 0,
        seed: def.seed,
        weights: describeWeights(model),
        matmul: def.engine.exactMatmul || !hasBlockWeights(model) ? ('exact' as const) : ('int8' as const),
        kvType: engine.kvType,
      };
      try {
        for (const group of pending) {
          if (opts.signal?.aborted) {
            cancelled = true;
            break;
          }
          const fit = fitPrompt(model, group.sample, def);
          const ids = fit.ids;
          group.truncated = fit.truncated;
          const continuation = group.sample.continuation !== undefined ? model.tokenizer.encode(group.sample.continuation, { addBos: false }) : undefined;
          const needed = group.cells.filter((c) => !store.has(c.id));
          // One full-attention prefill for the whole group, with every statistic any of its methods needs.
          const tp = performance.now();
          const pre = await prefillForMethods(
            engine,
            ids,
            needed.map((c) => c.method.config),
            opts.signal,
          );
          prefills++;
          tokens += ids.length;
          busyMs += performance.now() - tp;
          // The full cache's outputs first: fidelity metrics compare against them.
          const full = continuation ? await fullFidelityReference(engine, pre, ids.length, continuation) : undefined;
          for (const cell of group.cells) {
            if (store.has(cell.id)) continue;
            if (opts.signal?.aborted) {
              cancelled = true;
              break;
            }
            const tc = performance.now();
            const row = await runCell(engine, model, group, cell, pre, ids, continuation, full, def, { hash, modelInfo, stamp });
            tokens += row.timings.decodeTokens;
            busyMs += performance.now() - tc;
            store.append(row);
            cellsRun++;
            doneWeight += groupWeight.get(group) ?? 1;
            emit({ type: 'cell', row });
            const done = skipped + cellsRun;
            emit({
              type: 'progress',
              cellsDone: done,
              cellsTotal,
              tokensPerSecond: tokens / (busyMs / 1000),
              etaSeconds: weightedEta(busyMs / 1000, doneWeight, pendingWeight - doneWeight),
              current: `${group.sample.id} ${cell.method.label} ${cell.budget.text}`,
            });
          }
          if (cancelled) break;
        }
        // State-leak guard: the first full-KV cell, re-run after every other sample, must give the same output.
        // Not cancelled: every cell of the slice is stored now, by this process or an earlier one.
        const firstRow = !cancelled && leak && !store.has(leak.checkId) ? store.rows().find((x) => x.cellId === leak.cell.id) : undefined;
        if (leak && firstRow) {
          const prediction = String(firstRow['prediction']);
          const ids = promptIds(model, leak.group.sample, def);
          const r = await generate(engine, ids, { maxTokens: maxNew(leak.group.sample, def) });
          const again = model.tokenizer.decode(r.tokens);
          const passed = again === prediction;
          const check: CheckRow = {
            kind: 'check',
            cellId: leak.checkId,
            experimentHash: hash,
            experiment: def.name,
            model: modelInfo,
            check: 'state-leak',
            passed,
            detail: passed
              ? 'the first full-KV cell re-run after all samples gave the same output'
              : `re-run gave ${JSON.stringify(again.slice(0, 80))}, first run ${JSON.stringify(prediction.slice(0, 80))}`,
            flags: passed ? [] : ['state-leak'],
          };
          store.append(check);
          if (!passed) emit({ type: 'log', level: 'warn', message: `state leak on ${model.config.name}: ${check.detail}` });
        }
      } finally {
        await engine.dispose();
      }
      if (cancelled) break;
    }
  } finally {
    store.close();
  }
  return {
    experimentHash: hash,
    cellsTotal,
    cellsRun,
    cellsSkipped: skipped,
    prefills,
    prefillsSaved: Math.max(0, cellsRun - prefills),
    cancelled,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Text sampled from the model itself (seeded, temperature 1) for fidelity
 * workloads with `texts: 'sampled'` — in-domain text for small models such as
 * stories260K (data.md §3). Sampled in segments that restart from BOS so no
 * segment runs past the context the model was trained at.
 */
/** What every workload of `def` is generated with for `model`: the same seed, token counter, texts and model-sampled text in a run and in `findSample`. */
async function sampleContext(def: ExperimentDef, model: LoadedModel, opts: Pick<RunOptions, 'baseDir' | 'cacheDir'>): Promise<SampleContext> {
  const counter = tokenCounter(model.tokenizer);
  const sampledText = await sampledTextFor(def, model, opts);
  return {
    seed: def.seed,
    counter,
    baseDir: opts.baseDir,
    ...(def.texts ? { textsDir: resolve(opts.baseDir, def.texts) } : {}),
    ...(sampledText !== undefined ? { sampledText } : {}),
  };
}

/** One sample of an experiment as a run built it, with the prompt token ids the run prefilled. */
export interface FoundSample {
  readonly sample: Sample;
  readonly modelIndex: number;
  readonly model: LoadedModel;
  readonly promptIds: number[];
}

/**
 * Rebuilds an experiment's samples exactly as `runExperiment` does and
 * returns the one with `sampleId` for the first model that has it (samples
 * depend on the model's tokenizer); undefined when none has it. `load` is
 * loadModel unless the caller already holds the model.
 */
export async function findSample(
  raw: unknown,
  sampleId: string,
  opts: Pick<RunOptions, 'baseDir' | 'cacheDir'>,
  load: (path: string) => Promise<LoadedModel> = loadModel,
): Promise<FoundSample | undefined> {
  const def = parseExperiment(raw);
  for (const [mi, rel] of def.models.entries()) {
    const model = await load(resolve(opts.baseDir, rel));
    const ctx = await sampleContext(def, model, opts);
    for (const w of def.workloads) {
      const sample = samplesForWorkload(w, ctx).find((s) => s.id === sampleId);
      if (sample) return { sample, modelIndex: mi, model, promptIds: promptIds(model, sample, def) };
    }
  }
  return undefined;
}

async function sampledTextFor(def: ExperimentDef, model: LoadedModel, opts: Pick<RunOptions, 'cacheDir'>): Promise<string | undefined> {
  const ws = def.workloads.filter((w) => w.kind === 'fidelity' && w.texts === 'sampled');
  if (ws.length === 0) return undefined;
  const need = Math.max(...ws.map((w) => (w.kind === 'fidelity' ? (Math.max(...w.promptTokens) + w.continuationTokens) * (w.samples + 1) : 0))) + 256;
  const engine = await Engine.create(model, opts.cacheDir ? { cacheDir: opts.cacheDir } : {});
  try {
    const segment = Math.min(256, model.config.contextLength);
    const bos = model.tokenizer.bosId ?? 1;
    const parts: string[] = [];
    let total = 0;
    for (let s = 0; total < need; s++) {
      const pre = await engine.prefill([bos]);
      const cache = KvCache.full(engine.shape, pre.keys, pre.values, 1);
      const pick = sampler({ temperature: 1, seed: def.seed * 7919 + s });
      const ids: number[] = [];
      let next = pick(pre.logits);
      while (ids.length < segment && !model.tokenizer.eosIds.includes(next) && next !== bos) {
        ids.push(next);
        next = pick((await engine.step(cache, [next])).logits);
      }
      total += ids.length;
      parts.push(model.tokenizer.decode(ids));
      if (s > 10_000) break;
    }
    return parts.join('\n');
  } finally {
    await engine.dispose();
  }
}

/** The first full-KV cell of a model's groups in plan order (the state-leak check's subject), if the methods include full. */
function firstFullCell(groups: readonly Group[]): { group: Group; cell: Cell; checkId: string } | undefined {
  for (const group of groups) {
    const cell = group.cells.find((c) => c.method.config === 'full');
    if (cell) return { group, cell, checkId: leakCheckId(cell.id) };
  }
  return undefined;
}

function maxNew(sample: Sample, def: ExperimentDef): number {
  return def.generation.maxNewTokens ?? sample.maxNewTokens;
}

/**
 * Prompt token ids: the chat template where the model has one and the sample
 * wants it, else BOS + text. A prompt longer than the model's context minus
 * the generation cap is cut in the middle, keeping its head and tail, as
 * LongBench's pred.py does.
 */
function promptIds(model: LoadedModel, sample: Sample, def: ExperimentDef): number[] {
  return fitPrompt(model, sample, def).ids;
}

/** Prompt tokens that fit in the model's context with room for the answer (its generation cap) and a margin of 32. */
function promptRoom(model: LoadedModel, sample: Sample, def: ExperimentDef): number {
  return model.config.contextLength - maxNew(sample, def) - 32;
}

/**
 * The prompt's token ids, and whether it had to be cut: a prompt longer than
 * the model's context (minus the generation cap) loses its middle, as LongBench
 * does. Fidelity samples are never cut (their NLL needs the whole text).
 */
function fitPrompt(model: LoadedModel, sample: Sample, def: ExperimentDef): { ids: number[]; truncated: boolean } {
  const tok = model.tokenizer as Partial<HfTokenizer> & LoadedModel['tokenizer'];
  let text = sample.prompt;
  let truncated = false;
  const room = promptRoom(model, sample, def);
  if (sample.metric !== 'fidelity' && room > 0) {
    const raw = tok.encode(text, { addBos: false });
    if (raw.length > room) {
      const half = Math.floor(room / 2);
      text = tok.decode(raw.slice(0, half)) + tok.decode(raw.slice(raw.length - half));
      truncated = true;
    }
  }
  const wantsTemplate = def.generation.chatTemplate === 'auto' && sample.meta['chatTemplate'] !== false && sample.metric !== 'fidelity';
  const ids = wantsTemplate && tok.chatTemplate && tok.encodeChat ? tok.encodeChat([{ role: 'user', content: text }]) : tok.encode(text);
  return { ids, truncated };
}

/** Extra stop ids: LongBench's samsum stops at a newline (meta.stopAtNewline). */
function stopIds(model: LoadedModel, sample: Sample): number[] {
  if (sample.meta['stopAtNewline'] !== true) return [];
  const nl = model.tokenizer.encode('\n', { addBos: false });
  return nl.length === 1 ? nl : [];
}

interface FullReference {
  /** Logits [M, V] for the continuation, from the full cache (position 0 from the prefill). */
  readonly logits: Float32Array;
  readonly greedy: number[];
}

const GREEDY_TOKENS = 32;

async function fullFidelityReference(engine: Engine, pre: PrefillResult, n: number, continuation: readonly number[]): Promise<FullReference> {
  const logits = await teacherForce(engine, pre, KvCache.full(engine.shape, pre.keys, pre.values, n), continuation);
  return { logits, greedy: await greedyFrom(engine, pre, 'full', undefined, Math.min(GREEDY_TOKENS, continuation.length)) };
}

/** Teacher-forced logits [M, V] for the continuation from `cache` (which it extends). */
async function teacherForce(engine: Engine, pre: PrefillResult, cache: KvCache, continuation: readonly number[]): Promise<Float32Array> {
  const V = engine.config.vocabSize;
  const M = continuation.length;
  const logits = new Float32Array(M * V);
  // Position 0 is predicted by the (uncompressed) prefill (spec §6): compression affects positions 1 … M−1.
  logits.set(pre.logits.subarray(pre.logits.length - V), 0);
  if (M > 1) {
    const r = await engine.step(cache, continuation.slice(0, M - 1), { allLogits: true });
    logits.set(r.logits, V);
  }
  return logits;
}

// eslint-disable-next-line max-lines-per-function, max-params -- SHAPE-TODO: split (or give the reason here)
async function runCell(
  engine: Engine,
  model: LoadedModel,
  group: Group,
  cell: Cell,
  pre: PrefillResult,
  ids: readonly number[],
  continuation: readonly number[] | undefined,
  full: FullReference | undefined,
  def: ExperimentDef,
  ctx: { hash: string; modelInfo: ResultRow['model']; stamp: Omit<ResultRow['provenance'], 'date'> },
): Promise<ResultRow> {
  const sample = group.sample;
  const method = cell.method.config;
  const flags: SanityFlag[] = [];
  const t2 = performance.now();
  let prediction: string;
  let score: number;
  let decodeTokens: number;
  let fidelity: ResultRow['fidelity'];
  let compressMs: number;
  let plan: CompressionPlan | undefined;
  let budget: ResolvedBudget | undefined;
  let held: CacheSize;
  if (continuation && full) {
    const t1 = performance.now();
    const c = compressPrefill(engine, pre, method, cell.budget.spec);
    compressMs = performance.now() - t1;
    ({ plan, budget } = c);
    held = c.cache.size();
    const logits = await teacherForce(engine, pre, c.cache, continuation);
    const greedyN = Math.min(GREEDY_TOKENS, continuation.length);
    const greedy = method === 'full' ? full.greedy : await greedyFrom(engine, pre, method, cell.budget.spec, greedyN);
    decodeTokens = continuation.length - 1 + greedyN;
    fidelity = fidelityFromLogits(logits, full.logits, continuation, engine.config.vocabSize, greedy, full.greedy);
    score = fidelity.top1;
    prediction = model.tokenizer.decode(greedy);
  } else {
    const r = await generate(engine, ids, {
      method,
      ...(cell.budget.spec ? { budget: cell.budget.spec } : {}),
      maxTokens: maxNew(sample, def),
      prefill: pre,
      stopIds: stopIds(model, sample),
    });
    ({ plan, budget } = r);
    held = r.heldAfterCompression;
    compressMs = r.timings.compressMs;
    decodeTokens = r.timings.decodeTokens;
    prediction = model.tokenizer.decode(r.tokens);
    score = scoreText(sample, prediction);
    if (method === 'full' && score < (EXPECTED_BASELINE[sample.metric] ?? -1)) flags.push('low-baseline');
  }
  // A prompt cut to fit says nothing about the length its cell is labelled with; one that (with its
  // output) runs past the context the model file declares is outside what the model was trained for.
  if (group.truncated) flags.push('truncated-to-context');
  else if (ids.length + decodeTokens > model.config.contextLength) flags.push('beyond-context');
  if (method !== 'full' && budget) {
    if (budget.adjusted) flags.push('budget-raised');
    if (!budget.compress) flags.push('budget-covers-prompt');
    else if (held.bytes >= held.fullBytes) flags.push('not-compressed');
  }
  const decodeMs = performance.now() - t2;
  const L = engine.config.numLayers;
  return {
    kind: 'cell',
    cellId: cell.id,
    experimentHash: ctx.hash,
    experiment: def.name,
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
    score,
    prediction,
    answers: sample.answers,
    ...(fidelity ? { fidelity } : {}),
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
    ...(def.record.kept && plan ? { kept: plan.kept.map((layer) => layer.map((k) => [...k])) } : {}),
    timings: { prefillMs: pre.timings.prefillMs, compressMs, decodeMs, decodeTokens },
    flags,
    provenance: { ...ctx.stamp, date: new Date().toISOString() },
  };
}

async function greedyFrom(engine: Engine, pre: PrefillResult, method: Method, budget: BudgetSpec | undefined, n: number): Promise<number[]> {
  const { cache } = compressPrefill(engine, pre, method, budget);
  const out: number[] = [];
  let next = argmax(pre.logits.subarray(pre.logits.length - engine.config.vocabSize));
  for (let i = 0; i < n; i++) {
    out.push(next);
    if (i + 1 === n) break;
    next = argmax((await engine.step(cache, [next])).logits);
  }
  return out;
}
