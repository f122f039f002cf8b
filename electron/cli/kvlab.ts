/**
 * `kvlab` — the lab from the command line.
 *
 *   kvlab run <experiment.json> [--out <dir>] [--shard i/n]    run or resume a sweep (Ctrl-C safe) into results/<name>/
 *   kvlab merge <out> <shard-dir>…                              combine shard results of one experiment
 *   kvlab profile <model> [--text <file>] [--tokens N] [--samples N] [--tau T] [--out <dir>] [--ep auto|cpu|webgpu|…] [--kv-type f32|f16]
 *   kvlab report <results> --format html|pdf|csv|json [--out <file>]
 *   kvlab export <results> --kvpress <dir>
 *   kvlab models                                                models found locally
 *   kvlab methods                                               the method registry
 *   kvlab serve [--port N] [--host H] [--model <m>] [--results <dir>] [--token T] [--no-build]   the lab in a browser
 *
 * Errors are one clear line on stderr and a non-zero exit code.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  canonicalJson,
  createRng,
  describeMethods,
  formatBytesFixed,
  formatOfTotal,
  EXECUTION_PROVIDER_CHOICES,
  isExecutionProviderChoice,
  isFolderFormat,
  layerUncertainty,
  recogniseModelFile,
} from '@kvlab/core';
import { Engine } from '../engine/engine.ts';
import { sampler } from '../engine/generate.ts';
import { KvCache } from '../engine/kv-cache.ts';
import { availableMemory, inspectModel, loadModel } from '../engine/load.ts';
import { checkPromptKv, kvRoomOf } from '../experiments/memory.ts';
import { mergeResults } from '../experiments/merge.ts';
import { profilePrompt } from '../experiments/profile.ts';
import { fileSha256, provenance, providerStamp } from '../experiments/provenance.ts';
import type { ProfileRow } from '@kvlab/core';
import type { RunEvent } from '../experiments/runner.ts';
import { runExperiment } from '../experiments/runner.ts';
import { ResultsStore } from '../experiments/store.ts';
import { exportKvpress } from '../reports/kvpress.ts';
import { writeReport } from '../reports/index.ts';
import { findDefaultModel } from '../host/default-model.ts';
import { createLabProcessClient } from '../host/lab-process-client.ts';
import { defaultResultsDir, defaultSettingsFile, RENDERER_DIST } from '../host/paths.ts';
import { ensureRendererBuilt } from '../server/build-renderer.ts';
import { exposureWarning, readTlsFiles, startServer, type RunningServer, type TlsCredentials } from '../server/serve.ts';

const USAGE = `usage: kvlab <command> …
  run <experiment.json> [--out <dir>] [--shard i/n]
  merge <out-dir> <shard-dir> [<shard-dir>…]
  profile <model> [--text <file>] [--tokens N] [--samples N] [--tau T] [--tau-o T] [--no-lmbo] [--out <dir>] [--ep ${EXECUTION_PROVIDER_CHOICES.join('|')}] [--kv-type f32|f16]
  report <results-dir> --format html|pdf|csv|json [--out <file>]
  export <results-dir> --kvpress <dir>
  models
  methods
  serve [--port 0|N] [--host 127.0.0.1] [--model <file>] [--results <dir>] [--token <t>] [--no-build]
        [--tls-cert <cert.pem> --tls-key <key.pem>]   (HTTPS; see docs/app.md before using --host 0.0.0.0)`;

class UsageError extends Error {}

function flag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function int(text: string | undefined, name: string, def: number): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${text}`);
  return n;
}

interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The experiment file's path and parsed JSON (a UsageError when it is missing or not JSON). */
function readExperimentFile(file: string): { path: string; raw: unknown } {
  const path = resolve(file);
  try {
    return { path, raw: JSON.parse(readFileSync(path, 'utf8')) };
  } catch (e) {
    throw new UsageError(existsSync(path) ? `${file}: not valid JSON (${(e as Error).message})` : `${file}: no such file`);
  }
}

/** --shard i/n, with 0 ≤ i < n. */
function parseShard(s: string | undefined): Shard | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new UsageError(`--shard must be i/n with 0 ≤ i < n, got ${s}`);
  return { index, count };
}

/**
 * Ctrl-C (or SIGTERM) cancels after the current cell (`what`); a second one exits at once. Returns the controller,
 * the handler, and the exit status of the signal that cancelled (128 + its number: 130 for SIGINT, 143 for SIGTERM).
 */
function cancelOnSignals(what = 'after the current cell… (Ctrl-C again to stop at once; finished cells are kept)'): {
  controller: AbortController;
  onSigint: (signal: NodeJS.Signals) => void;
  exitCode: () => number;
} {
  const controller = new AbortController();
  let interrupts = 0;
  let code = 130;
  const onSigint = (signal: NodeJS.Signals) => {
    interrupts++;
    code = signal === 'SIGTERM' ? 143 : 130;
    if (interrupts > 1) process.exit(code);
    process.stderr.write(`\ncancelling ${what}\n`);
    controller.abort(new Error('cancelled'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return { controller, onSigint, exitCode: () => code };
}

/** Run events on stderr: the plan, a progress bar (one redrawn line on a terminal, ~20 lines otherwise) and log lines. */
function progressPrinter(): (e: RunEvent) => void {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  // Off a terminal: a line per ~5 % of the cells, else one a minute at most (a long prefill reports progress without new cells).
  let printed = { cells: -1, at: -Infinity };
  const worthALine = (cellsDone: number, cellsTotal: number): boolean => {
    const now = performance.now();
    const newCells = cellsDone !== printed.cells && (cellsDone === cellsTotal || cellsDone % Math.max(1, Math.round(cellsTotal / 20)) === 0);
    if (!newCells && now - printed.at < 60_000) return false;
    printed = { cells: cellsDone, at: now };
    return true;
  };
  return (e) => {
    if (e.type === 'start') {
      process.stderr.write(
        `${e.cellsTotal} cells (${e.cellsDone} already done): ${e.prefills} prefills for ${e.cellsTotal - e.cellsDone} cells — ${e.prefillsSaved} prefills saved by sharing\n`,
      );
    } else if (e.type === 'progress') {
      const pct = ((100 * e.cellsDone) / Math.max(1, e.cellsTotal)).toFixed(0);
      const bar = '#'.repeat(Math.round((30 * e.cellsDone) / Math.max(1, e.cellsTotal))).padEnd(30, '.');
      const line = `[${bar}] ${e.cellsDone}/${e.cellsTotal} ${pct}% ${e.tokensPerSecond.toFixed(0)} tok/s ETA ${formatSeconds(e.etaSeconds)}  ${e.current}`;
      if (tty) process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 120) - 1).padEnd(Math.min(lastLine, (process.stderr.columns || 120) - 1))}`);
      else if (worthALine(e.cellsDone, e.cellsTotal)) process.stderr.write(`${line}\n`);
      lastLine = line.length;
    } else if (e.type === 'log') {
      process.stderr.write(`${tty ? '\n' : ''}${e.level}: ${e.message}\n`);
    }
  };
}

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, shard: { type: 'string' } } });
  const file = positionals[0];
  if (!file) throw new UsageError('run needs an experiment file');
  const { path, raw } = readExperimentFile(file);
  const s = flag(values, 'shard');
  const shard = parseShard(s);
  // Default: results/<name>/ under the working directory — not beside the experiment file, which may sit in a checkout
  // (docs/examples/) where git would see every results folder; /results/ is git-ignored.
  const outDir = resolve(flag(values, 'out') ?? defaultRunOut(path, shard));
  const { controller, onSigint, exitCode } = cancelOnSignals();
  const onEvent = progressPrinter();
  const summary = await runExperiment(raw, { outDir, baseDir: dirname(path), signal: controller.signal, onEvent, ...(shard ? { shard } : {}) });
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);
  if (process.stderr.isTTY) process.stderr.write('\n');
  const saved = summary.prefillsSaved > 0 ? `, ${summary.prefillsSaved} prefills saved (one prefill per sample shared by ${summary.cellsRun} cells)` : '';
  console.log(
    `${summary.cancelled ? 'cancelled' : 'done'}: ${summary.cellsRun} cells run, ${summary.cellsSkipped} already done, ${summary.prefills} prefills${saved}, ${summary.seconds.toFixed(1)} s → ${outDir}`,
  );
  if (summary.cancelled) {
    console.log(`resume with: kvlab run ${file}${flag(values, 'out') ? ` --out ${flag(values, 'out')}` : ''}${s ? ` --shard ${s}` : ''}`);
    return exitCode();
  }
  return 0;
}

/** `results/<experiment file name without .json>[.shard<i>of<n>]` under the working directory. */
function defaultRunOut(experimentFile: string, shard?: Shard): string {
  return join('results', `${basename(experimentFile, '.json')}${shard ? `.shard${shard.index}of${shard.count}` : ''}`);
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** The profile's settings, with their defaults (tokens: 512, or the model's context when shorter). */
interface ProfileSettings {
  readonly tokens: number;
  readonly samples: number;
  readonly seed: number;
  readonly tau: number;
  readonly tauO: number;
}

function profileSettings(values: Record<string, unknown>, contextLength: number): ProfileSettings {
  const tokens = int(flag(values, 'tokens'), 'tokens', Math.min(512, contextLength));
  const samples = int(flag(values, 'samples'), 'samples', 4);
  const seed = Number(flag(values, 'seed') ?? 0);
  const tau = Number(flag(values, 'tau') ?? 0.9);
  const tauO = Number(flag(values, 'tau-o') ?? 0.95);
  return { tokens, samples, seed, tau, tauO };
}

/**
 * The prompts to profile: seeded windows of `textFile` (BOS first; here), or, without one, seeded samples from
 * the model itself (sampledPrompts) — text in the model's own domain, which a small model trained on narrow data
 * handles where arbitrary text would be out of its domain.
 */
function textPrompts(tokenizer: Engine['model']['tokenizer'], textFile: string, s: ProfileSettings): number[][] {
  const ids = tokenizer.encode(readFileSync(textFile, 'utf8'), { addBos: false });
  if (ids.length < s.tokens + 1) throw new UsageError(`${textFile} has only ${ids.length} tokens; need ${s.tokens}`);
  const rng = createRng(s.seed);
  return Array.from({ length: s.samples }, () => {
    const start = rng.int(ids.length - s.tokens);
    return [...(tokenizer.bosId !== undefined ? [tokenizer.bosId] : []), ...ids.slice(start, start + s.tokens - 1)];
  });
}

/** The model's own samples of --tokens each, one per --samples, seeded; their tokens reported to `watch`. */
async function sampledPrompts(engine: Engine, s: ProfileSettings, watch: ProfileWatch): Promise<number[][]> {
  const prompts: number[][] = [];
  for (let i = 0; i < s.samples; i++) prompts.push(await sampleFromModel(engine, s.tokens, s.seed + i, watch.at(`prompt ${i + 1} of ${s.samples}`)));
  return prompts;
}

/** Where the profile rows go: the results folder, the definition's hash and what they say of the model. */
interface ProfileTarget {
  readonly store: ResultsStore;
  readonly hash: string;
  readonly modelInfo: ProfileRow['model'];
  readonly workload: string;
  readonly lmbo: boolean;
}

/**
 * A long profile's progress and Ctrl-C: an 8B model samples, prefills and measures LMBO for minutes per prompt.
 * `at(prompt)` reports under that prompt's name: one redrawn line on a terminal (at most ten a second, and each
 * stage's last), else a line a minute at most; the engine stops at its next chunk, token or layer once `signal` aborts.
 */
interface ProfileWatch {
  readonly signal: AbortSignal;
  at(prompt: string): ProfileReport;
}
interface ProfileReport {
  readonly signal: AbortSignal;
  (stage: string, done: number, total: number): void;
}

function profileWatch(signal: AbortSignal): ProfileWatch {
  const tty = process.stderr.isTTY;
  let at = -Infinity;
  let width = 0;
  // Off a terminal a line a minute at most, whatever it says: 400 prompts must not make 1,000 lines of log.
  const say = (line: string, last: boolean): void => {
    const now = performance.now();
    if (tty ? !last && now - at < 100 : now - at < 60_000) return;
    at = now;
    if (!tty) return void process.stderr.write(`${line}\n`);
    const cols = (process.stderr.columns || 120) - 1;
    process.stderr.write(`\r${line.slice(0, cols).padEnd(Math.min(width, cols))}`);
    width = line.length;
  };
  return {
    signal,
    at: (prompt) =>
      Object.assign((stage: string, done: number, total: number) => say(`${prompt}: ${stage} ${formatOfTotal(done, total)}`, done === total), { signal }),
  };
}

/** Profiles each prompt into a row, appended to the store unless it holds that row already; `rows` holds those done (all, unless cancelled). */
async function profileRows(
  engine: Engine,
  prompts: readonly number[][],
  s: ProfileSettings,
  t: ProfileTarget & { readonly watch: ProfileWatch },
  rows: ProfileRow[],
): Promise<void> {
  for (const [i, ids] of prompts.entries()) {
    const id = `profile/${i}`;
    const report = t.watch.at(`prompt ${i + 1} of ${prompts.length}`);
    const p = await profilePrompt(engine, ids, {
      tau: s.tau,
      tauO: s.tauO,
      lmbo: t.lmbo,
      signal: report.signal,
      onProgress: (done, total) => report('prefill', done, total),
      onLmbo: (done, total) => report('LMBO layer', done, total),
    });
    const row: ProfileRow = {
      kind: 'profile',
      cellId: id,
      experimentHash: t.hash,
      experiment: `profile of ${engine.model.config.name}`,
      model: t.modelInfo,
      workload: t.workload,
      sampleId: id,
      ...p,
      provenance: { ...provenance(), ...providerStamp(engine.info), threads: 0, seed: s.seed, date: new Date().toISOString() },
    };
    if (!t.store.has(id)) t.store.append(row);
    rows.push(row);
  }
}

/** The per-layer table on stdout: mean LMBA, its uncertainty and mean LMBO (– when not measured). */
function printProfile(name: string, L: number, rows: readonly ProfileRow[], s: ProfileSettings): void {
  const mean = (f: (r: ProfileRow) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
  console.log(`${name}: ${rows.length} prompts × ${s.tokens} tokens, τ = ${s.tau}, τ_o = ${s.tauO}`);
  console.log('layer   LMBA   uncertainty   LMBO');
  const lmba = Array.from({ length: L }, (_, l) => mean((r) => r.lmba[l] ?? 0));
  const uncertainty = layerUncertainty(lmba);
  for (let l = 0; l < L; l++) {
    const lmbo = rows.some((r) => r.lmbo.length) ? mean((r) => r.lmbo[l] ?? 0).toFixed(1) : '–';
    console.log(`${String(l).padStart(5)} ${lmba[l]?.toFixed(1).padStart(6)}   ${(uncertainty[l] ?? 0).toFixed(3).padStart(11)}   ${lmbo.padStart(5)}`);
  }
}

async function cmdProfile(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      text: { type: 'string' },
      tokens: { type: 'string' },
      samples: { type: 'string' },
      tau: { type: 'string' },
      'tau-o': { type: 'string' },
      'no-lmbo': { type: 'boolean' },
      out: { type: 'string' },
      seed: { type: 'string' },
      ep: { type: 'string' },
      'kv-type': { type: 'string' },
    },
  });
  const modelPath = positionals[0];
  if (!modelPath) throw new UsageError('profile needs a model');
  const ep = flag(values, 'ep') ?? 'cpu';
  if (!isExecutionProviderChoice(ep)) throw new UsageError(`--ep must be one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}, got ${ep}`);
  const kvType = flag(values, 'kv-type') ?? 'f32';
  if (kvType !== 'f32' && kvType !== 'f16') throw new UsageError(`--kv-type must be f32 or f16, got ${kvType}`);
  const model = await loadModel(resolve(modelPath));
  const s: ProfileSettings & { readonly kvType: 'f32' | 'f16' } = { ...profileSettings(values, model.config.contextLength), kvType };
  const engine = await Engine.create(model, { executionProvider: ep, kvType });
  console.error(`provider: ${engine.info.executionProvider} — ${engine.info.providerReason}`);
  try {
    return await profileWith(engine, { modelPath: resolve(modelPath), s, textFile: flag(values, 'text'), out: flag(values, 'out'), lmbo: !values['no-lmbo'] });
  } finally {
    await engine.dispose();
  }
}

/**
 * The profile on a started engine: its K/V checked first (sampling a prompt builds the same cache), the results
 * folder opened, then each prompt sampled (or cut from the text) and profiled. Ctrl-C stops it at the next prefill
 * chunk, sampled token or LMBO layer: the prompts profiled so far are stored and tabled, and it returns 130 (143 on SIGTERM).
 */
async function profileWith(engine: Engine, o: Omit<Parameters<typeof openProfileTarget>[0], 'config'>): Promise<number> {
  const { s, textFile } = o;
  // Measured now, with the engine started, as the runner does (experiments/memory.ts).
  const room = kvRoomOf(o.modelPath, engine, { halve: 'pass --kv-type f16', shorten: 'use fewer --tokens' }, availableMemory());
  checkPromptKv(room, s.tokens, 0);
  // Cut from the text before anything is written (a missing or short file is a usage error); sampled ones come later.
  const fromText = textFile ? textPrompts(engine.model.tokenizer, textFile, s) : undefined;
  const t = openProfileTarget({ ...o, config: engine.model.config });
  const { controller, onSigint, exitCode } = cancelOnSignals(
    'at the next prefill chunk, token or layer… (Ctrl-C again to stop at once; profiled prompts are kept)',
  );
  const watch = profileWatch(controller.signal);
  const rows: ProfileRow[] = [];
  let stopped = false;
  try {
    const prompts = fromText ?? (await sampledPrompts(engine, s, watch));
    await profileRows(engine, prompts, s, { ...t, watch }, rows);
  } catch (e) {
    if (!controller.signal.aborted) throw e;
    stopped = true;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (process.stderr.isTTY) process.stderr.write('\n');
    // A refused or failed prompt still leaves the folder closed and its lock released.
    t.store.close();
  }
  if (rows.length > 0) printProfile(engine.model.config.name, engine.model.config.numLayers, rows, s);
  if (!stopped) {
    console.log(`→ ${t.outDir}`);
    return 0;
  }
  console.log(`cancelled: ${rows.length} of ${s.samples} prompts profiled → ${t.outDir}`);
  return exitCode();
}

/** The results folder of a profile, opened under its definition's hash (any change of model or setting is another definition). */
function openProfileTarget(o: {
  readonly modelPath: string;
  readonly config: Engine['model']['config'];
  readonly textFile: string | undefined;
  readonly s: ProfileSettings & { readonly kvType: 'f32' | 'f16' };
  readonly out: string | undefined;
  readonly lmbo: boolean;
}): ProfileTarget & { readonly outDir: string } {
  const { modelPath, config, textFile, s } = o;
  // The f16 cache is part of the definition; the f32 default is left out, so folders written before the flag still match.
  const kv = s.kvType === 'f16' ? { kvType: s.kvType } : {};
  const def = {
    profile: { model: modelPath, text: textFile ?? 'sampled', tokens: s.tokens, samples: s.samples, tau: s.tau, tauO: s.tauO, seed: s.seed, ...kv },
  };
  // An f16 profile is another definition: by default it has a folder of its own.
  const outDir = resolve(o.out ?? join('results', `${basename(modelPath)}${s.kvType === 'f16' ? '.f16' : ''}.profile`));
  const modelSha = fileSha256(modelPath);
  // Any change of model or setting is another definition: a results folder never mixes two.
  const hash = createHash('sha256')
    .update(canonicalJson({ ...def.profile, modelSha }))
    .digest('hex');
  const { name, numLayers: layers, numKvHeads: kvHeads, headDim } = config;
  const modelInfo = { path: modelPath, name, sha256: modelSha, layers, kvHeads, headDim };
  return { store: ResultsStore.open(outDir, def, hash), hash, modelInfo, workload: textFile ? basename(textFile) : 'sampled', lmbo: o.lmbo, outDir };
}

async function sampleFromModel(engine: Engine, n: number, seed: number, report: ProfileReport): Promise<number[]> {
  const bos = engine.model.tokenizer.bosId ?? 1;
  const ids = [bos];
  const pre = await engine.prefill(ids);
  const cache = KvCache.full(engine.shape, pre.keys, pre.values, 1);
  const pick = sampler({ temperature: 1, seed });
  let next = pick(pre.logits);
  while (ids.length < n) {
    report.signal.throwIfAborted();
    ids.push(next);
    report('sampling token', ids.length, n);
    next = pick((await engine.step(cache, [next])).logits);
  }
  return ids;
}

async function cmdReport(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' }, out: { type: 'string' } } });
  const dir = positionals[0];
  if (!dir) throw new UsageError('report needs a results folder');
  const format = flag(values, 'format') ?? 'html';
  if (!['html', 'pdf', 'csv', 'json'].includes(format)) throw new UsageError(`--format must be html, pdf, csv or json, got ${format}`);
  const out = resolve(flag(values, 'out') ?? join(dir, `report.${format}`));
  await writeReport(resolve(dir), format as 'html' | 'pdf' | 'csv' | 'json', out);
  console.log(out);
  return 0;
}

async function cmdExport(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { kvpress: { type: 'string' } } });
  const dir = positionals[0];
  const target = flag(values, 'kvpress');
  if (!dir || !target) throw new UsageError('export needs a results folder and --kvpress <dir>');
  await exportKvpress(resolve(dir), resolve(target));
  console.log(resolve(target));
  return 0;
}

function cmdMerge(args: string[]): number {
  const [out, ...inputs] = args;
  if (!out || inputs.length === 0) throw new UsageError('merge needs an output folder and at least one shard folder');
  const r = mergeResults(
    resolve(out),
    inputs.map((p) => resolve(p)),
  );
  console.log(`merged ${r.rows} rows from ${inputs.length} folders (${r.duplicates} duplicates dropped) → ${resolve(out)}`);
  return 0;
}

function cmdModels(): number {
  const roots = [join(process.cwd(), '..', 'shared', 'models'), join(process.env['KVLAB_CACHE'] ?? join(homedir(), '.cache', 'kvlab'), 'models')];
  let found = 0;
  for (const root of roots) {
    if (!existsSync(root)) continue;
    for (const entry of walk(root, 2)) {
      try {
        const info = inspectModel(entry);
        found++;
        console.log(
          `${entry}\n  ${info.format} ${info.architecture} '${info.name}': ${(info.parameters / 1e6).toFixed(2)}M params, ${info.layers} layers, ${info.heads}/${info.kvHeads} heads, d=${info.headDim}, KV ${info.kvBytesPerToken.f32} B/token (fp32), needs ~${formatBytesFixed(info.estimatedLoadBytes)}`,
        );
      } catch {
        // not a model
      }
    }
  }
  if (found === 0) console.log(`no models found under ${roots.join(' or ')}`);
  return 0;
}

/** A single-file model by its name (core's format list; folders are found by their config.json above); llama2.c's tokenizer files are not models. */
function isModelFileName(name: string): boolean {
  const format = recogniseModelFile(name, () => '');
  return format !== null && !isFolderFormat(format) && !/^tok.*\.bin$|tokenizer\.bin$/i.test(name);
}

function* walk(dir: string, depth: number): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (existsSync(join(p, 'config.json'))) yield p;
      else if (depth > 0) yield* walk(p, depth - 1);
    } else if (isModelFileName(name)) yield p;
  }
}

/** `kvlab serve`'s options, checked before anything starts. */
interface ServeArgs {
  readonly port: number;
  readonly host: string;
  readonly token: string | undefined;
  readonly tls: TlsCredentials | undefined;
  readonly defaultModel: string | null;
  readonly resultsDir: string;
  readonly build: boolean;
}

function parseServeArgs(args: string[]): ServeArgs {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      model: { type: 'string' },
      results: { type: 'string' },
      token: { type: 'string' },
      // Accepted for scripts written against the plan; serve never opens a browser (it prints the URL).
      'no-open': { type: 'boolean' },
      'no-build': { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
  });
  const portText = flag(values, 'port') ?? '0';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0 (any free port) or 1–65535, got ${portText}`);
  const host = flag(values, 'host') ?? '127.0.0.1';
  const token = flag(values, 'token');
  if (token !== undefined && token.length < 8) throw new UsageError('--token must be at least 8 characters');
  const certFile = flag(values, 'tls-cert');
  const keyFile = flag(values, 'tls-key');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give both PEM files');
  // Read before the engine starts, so a wrong file is one line at once (TlsFileError names it).
  const tls = certFile !== undefined && keyFile !== undefined ? readTlsFiles(resolve(certFile), resolve(keyFile)) : undefined;
  const modelFlag = flag(values, 'model');
  const defaultModel = modelFlag !== undefined ? resolve(modelFlag) : findDefaultModel();
  if (modelFlag !== undefined && !existsSync(defaultModel ?? '')) throw new UsageError(`--model ${modelFlag}: no such file or folder`);
  const resultsDir = resolve(flag(values, 'results') ?? defaultResultsDir());
  return { port, host, token, tls, defaultModel, resultsDir, build: !values['no-build'] };
}

/** Resolves once Ctrl-C (or SIGTERM) has closed the server and the lab process; a second one exits at once. */
function untilStopped(server: RunningServer, client: ReturnType<typeof createLabProcessClient>): Promise<void> {
  return new Promise<void>((done) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write('\nkvlab serve: stopping…\n');
      void server
        .close()
        .then(() => client.close())
        .then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * `kvlab serve`: the lab process (engine, runner, results) in a child process, the HTTP server in this one.
 * Prints exactly one line on stdout — the URL with its token — once the
 * lab process answers; everything else goes to stderr. Ctrl-C stops the run in
 * flight (recorded as cancelled, resumable) and exits.
 */
async function cmdServe(args: string[]): Promise<number> {
  const a = parseServeArgs(args);
  if (a.defaultModel === null) process.stderr.write('kvlab serve: no default model found (open one in the app, or pass --model)\n');
  if (a.build) await ensureRendererBuilt((line) => process.stderr.write(`kvlab serve: ${line}\n`));
  const client = createLabProcessClient({
    init: { resultsDir: a.resultsDir, defaultModel: a.defaultModel, mode: 'serve', baseDir: process.cwd(), settingsFile: defaultSettingsFile() },
  });
  let server: RunningServer;
  try {
    await client.listModels({}); // starts the lab process: the printed URL works at once
    const { port, host, token, tls } = a;
    server = await startServer({ port, host, staticDir: RENDERER_DIST, handlers: client, ...(token !== undefined ? { token } : {}), ...(tls ? { tls } : {}) });
  } catch (e) {
    await client.close();
    throw e;
  }
  const warning = exposureWarning(a.host, server.port, a.tls !== undefined);
  if (warning) process.stderr.write(`${warning}\n`);
  console.log(server.url);
  await untilStopped(server, client);
  return 0;
}

function cmdMethods(): number {
  for (const m of describeMethods()) console.log(`${m.kind.padEnd(9)} ${m.id.padEnd(13)} ${m.label} — ${m.summary} (${m.paperUrl})`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run':
        return await cmdRun(rest);
      case 'merge':
        return cmdMerge(rest);
      case 'profile':
        return await cmdProfile(rest);
      case 'report':
        return await cmdReport(rest);
      case 'export':
        return await cmdExport(rest);
      case 'models':
        return cmdModels();
      case 'methods':
        return cmdMethods();
      case 'serve':
        return await cmdServe(rest);
      case undefined:
      case 'help':
      case '--help':
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (e) {
    const err = e as Error;
    console.error(`kvlab: ${err.message.split('\n').join('\n  ')}`);
    if (e instanceof UsageError) console.error(USAGE);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
