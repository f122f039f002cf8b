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
 *
 * This file is the run's order of events (plan, models, samples, the
 * state-leak check); one cell is cell.ts, a sample's prompt ids prompts.ts,
 * and the state they share run-state.ts.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Sample } from '@kvlab/core';
import {
  canonicalJson,
  cellWeights,
  formatBytesFixed,
  formatOfTotal,
  parseExperiment,
  resolveBudgets,
  resolveMethods,
  WorkloadError,
  weightedEta,
} from '@kvlab/core';
import type { ExperimentDef } from '@kvlab/core';
import { leakCheckId, sampleCells } from '@kvlab/core';
import { openModel } from '../engine/engine.ts';
import { generate, prefillNeeds, prefillWith, unionNeeds } from '../engine/generate.ts';
import type { EngineOpener, InferenceEngine, OpenedModel } from '../engine/inference-engine.ts';
import { fileSha256, provenance, providerStamp } from './provenance.ts';
import type { CheckRow, ResultRow } from '@kvlab/core';
import type { SampleContext } from './samples.ts';
import { samplesForWorkload } from './samples.ts';
import { ResultsStore } from './store.ts';
import { fidelityGreedyTokens, fullFidelityReference, runCell } from './cell.ts';
import { fitPrompt, maxNew, promptIds, roomFor, sampleContext } from './prompts.ts';
import type { CacheConfig } from './memory.ts';
import { compressedShare, kvRoomOf, planSampleKv } from './memory.ts';
import { availableMemory } from '../engine/load.ts';
import type { Cell, CellContext, Group, ModelPlan, ModelRun, Run } from './run-state.ts';

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
  /** Opens each model and starts its engines (default: the real engine's openModel; tests pass a fake). */
  readonly openModel?: EngineOpener;
  /** Bytes of memory the run may use once a model's engine has started (default: load.ts's availableMemory); see memory.ts. */
  readonly availableMemory?: () => number;
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

/** How one call of runExperiment went (the API's RunSummary is a run as the host lists it). */
export interface RunOutcome {
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

export function experimentHash(def: ExperimentDef): string {
  return createHash('sha256').update(canonicalJson(def)).digest('hex');
}

/** Runs (or resumes) an experiment. `raw` is the decoded experiment file. */
export async function runExperiment(raw: unknown, opts: RunOptions): Promise<RunOutcome> {
  const run = startRun(raw, opts);
  try {
    const plans = await planModels(run);
    announcePlan(run, plans);
    for (const plan of plans) {
      await runModel(run, plan);
      if (run.progress.cancelled) break;
    }
  } finally {
    run.store.close();
  }
  return outcome(run);
}

/** Parses the experiment, resolves its methods and budgets once, and takes the results folder's single-writer lock. */
function startRun(raw: unknown, opts: RunOptions): Run {
  const t0 = performance.now();
  const def = parseExperiment(raw);
  const hash = experimentHash(def);
  const methods = resolveMethods(def.methods);
  const budgets = resolveBudgets(def.budgets);
  const prov = provenance();
  // The lock is released by runExperiment's finally, on success, error and cancel alike.
  const store = ResultsStore.open(opts.outDir, def, hash, opts.writer !== undefined ? { command: opts.writer } : {});
  return {
    def,
    hash,
    opts,
    open: opts.openModel ?? openModel,
    emit: opts.onEvent ?? (() => undefined),
    methods,
    budgets,
    needs: new Map(methods.map((m) => [m, prefillNeeds([m.config])])),
    prov,
    store,
    t0,
    progress: {
      cellsTotal: 0,
      skipped: 0,
      cellsRun: 0,
      prefills: 0,
      cancelled: false,
      tokens: 0,
      busyMs: 0,
      groupWeight: new Map(),
      pendingWeight: 0,
      doneWeight: 0,
    },
  };
}

/** Opens every model (its tokenizer-side facts; no engine yet) and builds its sample groups for this slice. */
async function planModels(run: Run): Promise<ModelPlan[]> {
  const plans: ModelPlan[] = [];
  // Groups are dealt to shards in plan order across all models: group g belongs to shard g mod n.
  const dealt = { next: 0 };
  for (const [mi, rel] of run.def.models.entries()) {
    const path = resolve(run.opts.baseDir, rel);
    const model = await run.open(path, { floatWeights: run.def.engine.floatWeights ?? 'auto' });
    const ctx = await sampleContext(run.def, model, run.opts);
    plans.push({ path, model, groups: planGroups(run, mi, ctx, dealt) });
  }
  return plans;
}

function planGroups(run: Run, modelIndex: number, ctx: SampleContext, dealt: { next: number }): Group[] {
  const groups: Group[] = [];
  // Cells are keyed by sample id: two workloads that produce the same id would share (and on a rerun skip) each other's rows.
  const owner = new Map<string, number>();
  for (const [wi, w] of run.def.workloads.entries()) {
    for (const sample of samplesForWorkload(w, ctx)) {
      const first = owner.get(sample.id);
      if (first !== undefined && first !== wi) {
        throw new WorkloadError(
          sample.workload,
          `workloads.${wi} produces sample '${sample.id}', as workloads.${first} does, so their results would be mixed up; give one of them a "name" (NIAH) or run them as separate experiments`,
        );
      }
      owner.set(sample.id, wi);
      const shardOk = !run.opts.shard || dealt.next % run.opts.shard.count === run.opts.shard.index;
      dealt.next++;
      if (shardOk) groups.push({ modelIndex, sample, cells: sampleCells(modelIndex, sample.id, run.methods, run.budgets) });
    }
  }
  return groups;
}

/** Counts what is done and what is not, warns about samples that do not fit, says 'start', and weighs the pending cells for the ETA. */
function announcePlan(run: Run, plans: readonly ModelPlan[]): void {
  const p = run.progress;
  const groups = plans.flatMap((plan) => plan.groups);
  const pendingCells = (gr: Group): number => neededCells(run, gr).length;
  const pending = groups.filter((gr) => pendingCells(gr) > 0);
  p.cellsTotal = groups.reduce((a, gr) => a + gr.cells.length, 0);
  p.skipped = groups.reduce((a, gr) => a + gr.cells.length - pendingCells(gr), 0);
  for (const plan of plans) warnOverlong(run, plan);
  run.emit({
    type: 'start',
    cellsTotal: p.cellsTotal,
    cellsDone: p.skipped,
    prefills: pending.length,
    prefillsSaved: p.cellsTotal - p.skipped - pending.length,
  });
  // The ETA weighs each cell by its prompt's planned tokens (core's weightedEta says why): long contexts come last.
  cellWeights(pending.map((gr) => plannedTokens(gr.sample))).forEach((w, i) => p.groupWeight.set(pending[i] as Group, w));
  p.pendingWeight = pending.reduce((a, gr) => a + (p.groupWeight.get(gr) ?? 1) * pendingCells(gr), 0);
}

/** Samples that will not fit are cut (fitPrompt) or run past the context: say so before the run, not only in the rows. */
function warnOverlong(run: Run, plan: ModelPlan): void {
  const { model, groups } = plan;
  const limit = model.config.contextLength;
  const length = (gr: Group): number => plannedTokens(gr.sample);
  const fidelity = (gr: Group): boolean => gr.sample.metric === 'fidelity';
  const cut = groups.filter((gr) => !fidelity(gr) && length(gr) > roomFor(model, gr.sample, run.def));
  const over = groups.filter((gr) => fidelity(gr) && length(gr) > limit);
  const name = `${model.config.name}'s context (${limit.toLocaleString('en-US')} tokens)`;
  if (cut.length > 0)
    run.emit({
      type: 'log',
      level: 'warn',
      message: `${cut.length} of ${groups.length} samples do not fit in ${name} with room for the answer: their middles are cut to fit and their rows are flagged 'truncated-to-context' — use shorter lengths`,
    });
  if (over.length > 0)
    run.emit({
      type: 'log',
      level: 'warn',
      message: `${over.length} of ${groups.length} fidelity samples are longer than ${name}: they are not cut, and their rows are flagged 'beyond-context'`,
    });
}

/** Runs a model's pending groups on one engine, then its state-leak check. */
async function runModel(run: Run, plan: ModelPlan): Promise<void> {
  const pending = plan.groups.filter((gr) => gr.cells.some((c) => !run.store.has(c.id)));
  // The state-leak check re-runs this slice's FIRST full-KV cell in plan order — not the first one this process
  // happened to run — so a run resumed after a kill writes the same check row as an uninterrupted one, and a run
  // killed between its last cell and the check still owes (and writes) it.
  const leak = firstFullCell(plan.groups);
  if (pending.length === 0 && (!leak || run.store.has(leak.checkId))) return;
  const sha = fileSha256(plan.path);
  const engine = await startEngine(run, plan.model);
  try {
    const mr = modelRun(run, plan, engine, sha);
    checkPlannedKv(mr, pending);
    for (const group of pending) {
      if (stopRequested(run)) break;
      await runGroup(mr, group);
      if (run.progress.cancelled) break;
    }
    // Not cancelled: every cell of the slice is stored now, by this process or an earlier one.
    if (!run.progress.cancelled && leak) await checkStateLeak(mr, leak);
  } finally {
    await engine.dispose();
  }
}

async function startEngine(run: Run, model: OpenedModel): Promise<InferenceEngine> {
  const e = run.def.engine;
  const engine = await model.startEngine({
    executionProvider: e.executionProvider,
    ...(e.threads ? { threads: e.threads } : {}),
    ...(e.prefillChunk ? { prefillChunk: e.prefillChunk } : {}),
    ...(e.exactMatmul ? { exactMatmul: true } : {}),
    ...(e.kvType ? { kvType: e.kvType } : {}),
    ...(run.opts.cacheDir ? { cacheDir: run.opts.cacheDir } : {}),
  });
  if (engine.info.fallbackReason) run.emit({ type: 'log', level: 'warn', message: engine.info.fallbackReason });
  run.emit({ type: 'log', level: 'info', message: `provider: ${engine.info.executionProvider} — ${engine.info.providerReason}` });
  return engine;
}

/** What a run's user can change when a sample's K/V do not fit (memory.ts). */
const RUN_REMEDY = { halve: 'set "engine": { "kvType": "f16" }', shorten: 'use shorter samples' } as const;

function modelRun(run: Run, plan: ModelPlan, engine: InferenceEngine, sha256: string): ModelRun {
  const { model } = plan;
  const c = model.config;
  // Measured now, with the model loaded and its engine started, before any sample: later figures would count the last sample's garbage.
  const available = (run.opts.availableMemory ?? availableMemory)();
  return {
    run,
    model,
    engine,
    kvRoom: kvRoomOf(plan.path, engine, RUN_REMEDY, available),
    modelInfo: { path: plan.path, name: c.name, sha256, layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim },
    stamp: {
      ...run.prov,
      ...providerStamp(engine.info),
      threads: run.def.engine.threads ?? 0,
      seed: run.def.seed,
      weights: model.weights,
      matmul: run.def.engine.exactMatmul || !model.blockWeights ? 'exact' : 'int8',
      kvType: engine.kvType,
    },
  };
}

/** Marks the run cancelled when its signal has fired; true then. */
function stopRequested(run: Run): boolean {
  if (run.opts.signal?.aborted) run.progress.cancelled = true;
  return run.progress.cancelled;
}

/**
 * Refuses, before the first prefill, a run whose longest sample of known length cannot hold its K/V
 * (memory.ts), and says what the longest one will take. Samples whose length the plan does not state
 * (LongBench files) are checked before their own prefill.
 */
function checkPlannedKv(mr: ModelRun, pending: readonly Group[]): void {
  const { run, model, kvRoom } = mr;
  const known = pending
    .map((gr) => {
      const s = gr.sample;
      const fidelity = s.metric === 'fidelity';
      const planned = plannedTokens(s);
      // Longer generation prompts are cut to fit the context (fitPrompt); fidelity prompts never are.
      const promptTokens = fidelity ? planned : Math.min(planned, roomFor(model, s, run.def));
      return {
        what: `sample '${s.id}'`,
        promptTokens,
        // A fidelity sample decodes its continuation, whatever the experiment's answer allowance (generation.maxNewTokens).
        decodeTokens: fidelity ? s.maxNewTokens : maxNew(s, run.def),
        fidelity,
        compressedShare: compressedShare(mr.engine.shape, cacheConfigs(neededCells(run, gr)), promptTokens),
      };
    })
    .filter((s) => s.promptTokens > 0);
  if (known.length === 0) return;
  const plans = known.map((s) => ({ s, plan: planSampleKv(kvRoom, s) }));
  const largest = plans.reduce((a, b) => (b.plan.bytes > a.plan.bytes ? b : a));
  const inPlace = plans.filter((p) => p.plan.inPlace).length;
  run.emit({
    type: 'log',
    level: 'info',
    message:
      `KV cache: the largest ${largest.s.what} holds about ${formatBytesFixed(largest.plan.bytes)} of ${kvRoom.kvType} K/V at once; ${formatBytesFixed(kvRoom.available)} is available` +
      (inPlace > 0
        ? `; ${inPlace} fidelity sample(s) have no room for a copy of their prompt's K/V, so their full-cache reference reads the prefill in place (slower, same numbers)`
        : ''),
  });
}

/** A sample's cells whose rows the results folder does not hold yet. */
function neededCells(run: Run, group: Group): Cell[] {
  return group.cells.filter((c) => !run.store.has(c.id));
}

/** The caches a sample's cells build: method and budget each (memory.ts). */
function cacheConfigs(cells: readonly Cell[]): CacheConfig[] {
  return cells.map((c) => ({ method: c.method.config, budget: c.budget.spec }));
}

/** One sample: one full-attention prefill with every statistic its pending methods need, then each pending cell. */
async function runGroup(mr: ModelRun, group: Group): Promise<void> {
  const { run, model, engine } = mr;
  const p = run.progress;
  const fit = fitPrompt(model, group.sample, run.def);
  group.truncated = fit.truncated;
  const continuation = group.sample.continuation !== undefined ? model.tokenizer.encode(group.sample.continuation, { addBos: false }) : undefined;
  const needed = neededCells(run, group);
  const kv = planSampleKv(mr.kvRoom, {
    what: `sample '${group.sample.id}'`,
    promptTokens: fit.ids.length,
    decodeTokens: continuation?.length ?? maxNew(group.sample, run.def),
    fidelity: continuation !== undefined,
    compressedShare: compressedShare(engine.shape, cacheConfigs(needed), fit.ids.length),
  });
  const tp = performance.now();
  const needs = unionNeeds(needed.map((c) => run.needs.get(c.method) ?? prefillNeeds([c.method.config])));
  const pre = await prefillWith(engine, fit.ids, needs, {
    ...(run.opts.signal ? { signal: run.opts.signal } : {}),
    onProgress: prefillProgress(run, group, tp),
  });
  p.prefills++;
  p.tokens += fit.ids.length;
  p.busyMs += performance.now() - tp;
  // The full cache's outputs first: fidelity metrics compare against them.
  const full = continuation ? await fullFidelityReference(engine, pre, continuation, kv.inPlace) : undefined;
  const ctx: CellContext = { ...mr, group, ids: fit.ids, pre, continuation, full };
  const order = lastUseOrder(needed, continuation !== undefined);
  for (const [i, cell] of order.entries()) {
    if (stopRequested(run)) break;
    const tc = performance.now();
    const row = await runCell({ ...ctx, lastUseOfPrefill: i === order.length - 1 }, cell);
    recordCell(run, { group, cell, row }, tc);
  }
}

/**
 * The order a sample's cells run in. Generating from the full cache last lets that cell take over the
 * prefill's K/V instead of copying them (generate's lastUseOfPrefill), so the prompt's K/V are never
 * held twice: at 8B and 32K tokens that is 8 GiB of float32. Fidelity cells keep the plan's order (their
 * full-cache reference is computed before them, from copies). Rows are keyed by cell id, so the order
 * they are stored in is not a result.
 */
function lastUseOrder(cells: readonly Cell[], fidelity: boolean): Cell[] {
  if (fidelity) return [...cells];
  return [...cells.filter((c) => c.method.config !== 'full'), ...cells.filter((c) => c.method.config === 'full')];
}

/**
 * A sample's prefill as 'progress' events, at most one a second (and its end): an 8B model's 32K-token
 * prompt takes many minutes before the sample's first cell. The ETA is the last cell's, less the time
 * since this sample started: the prefill has no weight of its own in the ETA's reckoning.
 */
function prefillProgress(run: Run, group: Group, startedAt: number): (done: number, total: number) => void {
  const p = run.progress;
  const eta = weightedEta(p.busyMs / 1000, p.doneWeight, p.pendingWeight - p.doneWeight);
  let last = -Infinity;
  return (done, total) => {
    const now = performance.now();
    if (now - last < 1000 && done < total) return;
    last = now;
    const elapsed = now - startedAt;
    run.emit({
      type: 'progress',
      cellsDone: p.skipped + p.cellsRun,
      cellsTotal: p.cellsTotal,
      tokensPerSecond: (p.tokens + done) / ((p.busyMs + elapsed) / 1000),
      etaSeconds: eta > 0 ? Math.max(0, eta - elapsed / 1000) : 0,
      current: `${group.sample.id}: prefill ${formatOfTotal(done, total)} tokens`,
    });
  };
}

/** Stores a finished cell and says so: a 'cell' event and a 'progress' event. */
function recordCell(run: Run, done: { group: Group; cell: Cell; row: ResultRow }, startedAt: number): void {
  const p = run.progress;
  const { group, cell, row } = done;
  p.tokens += row.timings.decodeTokens;
  p.busyMs += performance.now() - startedAt;
  run.store.append(row);
  p.cellsRun++;
  p.doneWeight += p.groupWeight.get(group) ?? 1;
  run.emit({ type: 'cell', row });
  run.emit({
    type: 'progress',
    cellsDone: p.skipped + p.cellsRun,
    cellsTotal: p.cellsTotal,
    tokensPerSecond: p.tokens / (p.busyMs / 1000),
    etaSeconds: weightedEta(p.busyMs / 1000, p.doneWeight, p.pendingWeight - p.doneWeight),
    current: `${group.sample.id} ${cell.method.label} ${cell.budget.text}`,
  });
}

/** State-leak guard: the first full-KV cell, re-run after every other sample, must give the same output. */
async function checkStateLeak(mr: ModelRun, leak: { group: Group; cell: Cell; checkId: string }): Promise<void> {
  const { run, model, engine } = mr;
  if (run.store.has(leak.checkId)) return;
  const firstRow = run.store.rows().find((x) => x.cellId === leak.cell.id);
  if (!firstRow) return;
  const prediction = String(firstRow['prediction']);
  const sample = leak.group.sample;
  const ids = promptIds(model, sample, run.def);
  // Generated as the cell made its prediction: a fidelity cell's is its greedy text, GREEDY_TOKENS at most and not stopped at EOS.
  const r =
    sample.continuation !== undefined
      ? await generate(engine, ids, {
          maxTokens: fidelityGreedyTokens(model.tokenizer.encode(sample.continuation, { addBos: false }).length),
          stopAtEos: false,
        })
      : await generate(engine, ids, { maxTokens: maxNew(sample, run.def) });
  const again = model.tokenizer.decode(r.tokens);
  const passed = again === prediction;
  const check: CheckRow = {
    kind: 'check',
    cellId: leak.checkId,
    experimentHash: run.hash,
    experiment: run.def.name,
    model: mr.modelInfo,
    check: 'state-leak',
    passed,
    detail: passed
      ? 'the first full-KV cell re-run after all samples gave the same output'
      : `re-run gave ${JSON.stringify(again.slice(0, 80))}, first run ${JSON.stringify(prediction.slice(0, 80))}`,
    flags: passed ? [] : ['state-leak'],
  };
  run.store.append(check);
  if (!passed) run.emit({ type: 'log', level: 'warn', message: `state leak on ${model.config.name}: ${check.detail}` });
}

function outcome(run: Run): RunOutcome {
  const p = run.progress;
  return {
    experimentHash: run.hash,
    cellsTotal: p.cellsTotal,
    cellsRun: p.cellsRun,
    cellsSkipped: p.skipped,
    prefills: p.prefills,
    prefillsSaved: Math.max(0, p.cellsRun - p.prefills),
    cancelled: p.cancelled,
    seconds: (performance.now() - run.t0) / 1000,
  };
}

/** The first full-KV cell of a model's groups in plan order (the state-leak check's subject), if the methods include full. */
function firstFullCell(groups: readonly Group[]): { group: Group; cell: Cell; checkId: string } | undefined {
  for (const group of groups) {
    const cell = group.cells.find((c) => c.method.config === 'full');
    if (cell) return { group, cell, checkId: leakCheckId(cell.id) };
  }
  return undefined;
}
