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
import type { BudgetSpec, Provenance, ResolvedBudgetEntry, Sample } from '@kvlab/core';
import { canonicalJson, cellWeights, parseExperiment, promptRoom, resolveBudgets, resolveMethods, scoreText, WorkloadError, weightedEta } from '@kvlab/core';
import type { ExperimentDef, ResolvedMethod } from '@kvlab/core';
import { leakCheckId, sampleCells } from '@kvlab/core';
import { openModel } from '../engine/engine.ts';
import type { Compression, PrefillNeeds } from '../engine/generate.ts';
import { argmax, cacheOf, compressionOf, generate, prefillNeeds, prefillWith, sampler, unionNeeds } from '../engine/generate.ts';
import type { EngineOpener, InferenceEngine, OpenedModel, PrefillResult } from '../engine/inference-engine.ts';
import type { CacheSize } from '../engine/kv-cache.ts';
import { KvCache } from '../engine/kv-cache.ts';
import type { HfTokenizer } from '../engine/tokenizers/hf.ts';
import { fidelityFromLogits } from './fidelity.ts';
import { fileSha256, provenance, providerStamp } from './provenance.ts';
import type { CheckRow, FidelityMetrics, ResultRow, SanityFlag } from '@kvlab/core';
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
  /** Opens each model and starts its engines (default: the real engine's openModel; tests pass a fake). */
  readonly openModel?: EngineOpener;
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

/**
 * Full-KV score below which a baseline is flagged 'low-baseline': a model that
 * cannot do the task uncompressed makes every compressed cell of it meaningless.
 */
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

/** One model of the experiment, with the samples (groups of cells) this slice runs on it. */
interface ModelPlan {
  readonly path: string;
  readonly model: OpenedModel;
  readonly groups: Group[];
}

/** Counters a run keeps from its plan to its outcome. */
interface Progress {
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
interface Run {
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
  const pendingCells = (gr: Group): number => gr.cells.filter((c) => !run.store.has(c.id)).length;
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

/** One model's engine, and what every row it writes records about the model and the machine. */
interface ModelRun {
  readonly run: Run;
  readonly model: OpenedModel;
  readonly engine: InferenceEngine;
  readonly modelInfo: ResultRow['model'];
  readonly stamp: Omit<ResultRow['provenance'], 'date'>;
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

function modelRun(run: Run, plan: ModelPlan, engine: InferenceEngine, sha256: string): ModelRun {
  const { model } = plan;
  const c = model.config;
  return {
    run,
    model,
    engine,
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

/** What every cell of one sample shares: its prompt, its one prefill, and (fidelity) the full cache's outputs. */
interface CellContext extends ModelRun {
  readonly group: Group;
  readonly ids: readonly number[];
  readonly pre: PrefillResult;
  readonly continuation: readonly number[] | undefined;
  readonly full: FullReference | undefined;
}

/** One sample: one full-attention prefill with every statistic its pending methods need, then each pending cell. */
async function runGroup(mr: ModelRun, group: Group): Promise<void> {
  const { run, model, engine } = mr;
  const p = run.progress;
  const fit = fitPrompt(model, group.sample, run.def);
  group.truncated = fit.truncated;
  const continuation = group.sample.continuation !== undefined ? model.tokenizer.encode(group.sample.continuation, { addBos: false }) : undefined;
  const needed = group.cells.filter((c) => !run.store.has(c.id));
  const tp = performance.now();
  const needs = unionNeeds(needed.map((c) => run.needs.get(c.method) ?? prefillNeeds([c.method.config])));
  const pre = await prefillWith(engine, fit.ids, needs, run.opts.signal);
  p.prefills++;
  p.tokens += fit.ids.length;
  p.busyMs += performance.now() - tp;
  // The full cache's outputs first: fidelity metrics compare against them.
  const full = continuation ? await fullFidelityReference(engine, pre, continuation) : undefined;
  const ctx: CellContext = { ...mr, group, ids: fit.ids, pre, continuation, full };
  for (const cell of needed) {
    if (stopRequested(run)) break;
    const tc = performance.now();
    const row = await runCell(ctx, cell);
    recordCell(run, { group, cell, row }, tc);
  }
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
  const ids = promptIds(model, leak.group.sample, run.def);
  const r = await generate(engine, ids, { maxTokens: maxNew(leak.group.sample, run.def) });
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

/** A model as planning a run reads it: its context length and tokenizer. */
type ModelView = Pick<OpenedModel, 'config' | 'tokenizer'>;

/** What every workload of `def` is generated with for `model`: the same seed, token counter, texts and model-sampled text in a run and in `findSample`. */
async function sampleContext(def: ExperimentDef, model: OpenedModel, opts: Pick<RunOptions, 'baseDir' | 'cacheDir'>): Promise<SampleContext> {
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
  readonly model: OpenedModel;
  readonly promptIds: number[];
}

/**
 * Rebuilds an experiment's samples exactly as `runExperiment` does and
 * returns the one with `sampleId` for the first model that has it (samples
 * depend on the model's tokenizer); undefined when none has it. `load` opens
 * a model as the run did (default: the real engine's openModel); a caller that
 * already holds the model, or runs over another engine, passes its own.
 */
export async function findSample(
  raw: unknown,
  sampleId: string,
  opts: Pick<RunOptions, 'baseDir' | 'cacheDir'>,
  load: (path: string) => Promise<OpenedModel> = (path) => openModel(path, { floatWeights: 'auto' }),
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

/**
 * Text sampled from the model itself (seeded, temperature 1) for fidelity
 * workloads with `texts: 'sampled'` — in-domain text for small models such as
 * stories260K, whose training text is not at hand. Sampled in segments that
 * restart from BOS so no segment runs past the context the model was trained
 * at. Its engine runs with the default options, whatever the experiment's
 * engine settings, so the text is the same for every engine setting.
 */
async function sampledTextFor(def: ExperimentDef, model: OpenedModel, opts: Pick<RunOptions, 'cacheDir'>): Promise<string | undefined> {
  const ws = def.workloads.filter((w) => w.kind === 'fidelity' && w.texts === 'sampled');
  if (ws.length === 0) return undefined;
  const need = Math.max(...ws.map((w) => (w.kind === 'fidelity' ? (Math.max(...w.promptTokens) + w.continuationTokens) * (w.samples + 1) : 0))) + 256;
  const engine = await model.startEngine(opts.cacheDir ? { cacheDir: opts.cacheDir } : {});
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
function promptIds(model: ModelView, sample: Sample, def: ExperimentDef): number[] {
  return fitPrompt(model, sample, def).ids;
}

/** Prompt tokens that fit in the model's context with room for the sample's answer (core's promptRoom rule). */
function roomFor(model: ModelView, sample: Sample, def: ExperimentDef): number {
  return promptRoom(model.config.contextLength, maxNew(sample, def));
}

/**
 * The prompt's token ids, and whether it had to be cut: a prompt longer than
 * the model's context (minus the generation cap) loses its middle, as LongBench
 * does. Fidelity samples are never cut (their NLL needs the whole text).
 */
function fitPrompt(model: ModelView, sample: Sample, def: ExperimentDef): { ids: number[]; truncated: boolean } {
  const tok = model.tokenizer as Partial<HfTokenizer> & ModelView['tokenizer'];
  let text = sample.prompt;
  let truncated = false;
  const room = roomFor(model, sample, def);
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
function stopIds(model: ModelView, sample: Sample): number[] {
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

/** The full cache's teacher-forced logits and greedy continuation: what every fidelity cell of a sample is compared with. */
async function fullFidelityReference(engine: InferenceEngine, pre: PrefillResult, continuation: readonly number[]): Promise<FullReference> {
  const logits = await teacherForce(engine, pre, KvCache.full(engine.shape, pre.keys, pre.values, pre.n), continuation);
  return { logits, greedy: await greedyFrom(engine, pre, cacheOf(engine, pre, {}), Math.min(GREEDY_TOKENS, continuation.length)) };
}

/** Teacher-forced logits [M, V] for the continuation from `cache` (which it extends). */
async function teacherForce(engine: InferenceEngine, pre: PrefillResult, cache: KvCache, continuation: readonly number[]): Promise<Float32Array> {
  const V = engine.config.vocabSize;
  const M = continuation.length;
  const logits = new Float32Array(M * V);
  // Position 0 is predicted by the (uncompressed) prefill, as compression happens after it: compression affects positions 1 … M−1.
  logits.set(pre.logits.subarray(pre.logits.length - V), 0);
  if (M > 1) {
    const r = await engine.step(cache, continuation.slice(0, M - 1), { allLogits: true });
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
async function runCell(ctx: CellContext, cell: Cell): Promise<ResultRow> {
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
  const greedyN = Math.min(GREEDY_TOKENS, continuation.length);
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
