/**
 * The engine host: every LabHandlers method implemented with the real engine
 * (electron/engine), runner (electron/experiments/runner.ts), layer profile
 * (electron/experiments/profile.ts) and reports (electron/reports). It knows
 * nothing of transports: the engine child process (engine-process.ts) wraps
 * it in messages, tests call it directly, and its events leave through the
 * `emit` callback it is given.
 *
 *   Models   known by id = short sha256 of the resolved path: the bundled
 *            default plus every model opened. One LoadedModel + Engine is
 *            kept loaded for the playground and the profiler (loading
 *            another model releases it); calls that use it are serialised,
 *            because one onnxruntime session runs one thing at a time.
 *   Runs     a queue executed one at a time. Each run has a folder
 *            <resultsDir>/<runId>/ — the runner's outDir (experiment.json,
 *            results.jsonl) plus run.json (status, name, dates, the submitted
 *            experiment) and run.log (log lines, JSON per line). Cancel
 *            aborts through the runner's AbortSignal (finished cells stay);
 *            resume re-queues into the same folder, and the runner skips
 *            finished cells. On startup, existing folders are listed; a run
 *            that was queued or running when the engine stopped is listed as
 *            cancelled (resumable).
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type {
  AnyRow,
  AppInfo,
  BudgetSpec,
  ExperimentDef,
  ExportedFile,
  LabEvent,
  LabHandlers,
  LabOutput,
  LabParsedInput,
  LayerProfile,
  LogLine,
  ModelCard,
  ModelSummary,
  PlaygroundExample,
  PlaygroundResult,
  RunDetail,
  RunStatus,
  RunSummary,
  SampleDetail,
  Settings,
} from '@kvlab/core';
import {
  ApiError,
  describeMethods,
  experimentDef,
  formatMethodSpec,
  layerUncertainty,
  parseBudget,
  parseMethodSpec,
  playgroundExample,
  settingsInput,
} from '@kvlab/core';
import { Engine } from '../engine/engine.ts';
import { readGgufHeader } from '../engine/formats/gguf.ts';
import { readHfModelHeader } from '../engine/formats/hf.ts';
import type { Method } from '../engine/generate.ts';
import { generate, prefillForMethods } from '../engine/generate.ts';
import type { ModelInfo } from '../engine/load.ts';
import { inspectModel, loadModel } from '../engine/load.ts';
import type { LoadedModel, Tokenizer } from '../engine/model.ts';
import type { HfTokenizer } from '../engine/tokenizers/hf.ts';
import { profilePrompt } from '../experiments/profile.ts';
import type { RunEvent } from '../experiments/runner.ts';
import { findSample, runExperiment } from '../experiments/runner.ts';
import { checkWorkloadFiles, tokenCounter } from '../experiments/samples.ts';
import { EXPERIMENT_FILE, readExperiment, readRows } from '../experiments/store.ts';
import { writeReport } from '../reports/index.ts';
import { APP_ROOT } from './paths.ts';
import { executionProviders } from './execution-providers.ts';
import { toApiError } from './errors.ts';
import { downloadHfModel, hfLocalDir } from './hf-download.ts';

export interface LabServiceOptions {
  /** Folder holding one sub-folder per run. Created if missing. */
  readonly resultsDir: string;
  /** The bundled default model (defaultModelPath()), or null when there is none. */
  readonly defaultModel: string | null;
  /** Where events go (the child process forwards them to every window/client). */
  readonly emit: (e: LabEvent) => void;
  readonly mode?: AppInfo['mode'];
  /** Relative paths in experiments (texts, LongBench files, models) resolve here. Default: the current directory. */
  readonly baseDir?: string;
  /** Graph cache folder (default: the engine's, ~/.cache/kvlab/graphs). */
  readonly cacheDir?: string;
  /** Initial settings (over the defaults; a settings file, when given and present, wins). */
  readonly settings?: Partial<Settings>;
  /** Where settings persist across restarts (kvlab serve: defaultSettingsFile()). Without it they live in memory. */
  readonly settingsFile?: string;
  /** Where downloadModel puts Hugging Face downloads (<owner>--<name>/ each). Default: a models folder beside resultsDir. */
  readonly modelsDir?: string;
}

/** The handlers plus what the process that owns them needs. */
export interface LabService extends LabHandlers {
  /** Cancels the running run (its folder says cancelled, resumable), releases the engine. */
  close(): Promise<void>;
}

export const RUN_FILE = 'run.json';
export const RUN_LOG = 'run.log';
const MAX_LOG_LINES = 2000;
/** Run ids name folders: no separators, no dot-dot, nothing a path could escape with. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Stable model id: a short hash of the resolved path. */
export function modelIdFor(path: string): string {
  return createHash('sha256').update(resolve(path)).digest('hex').slice(0, 12);
}

interface KnownModel {
  readonly id: string;
  readonly path: string;
  readonly bundled: boolean;
  /** The file's own name for itself, unless that is just the architecture ("llama"): then the file name. */
  readonly name: string;
  readonly info: ModelInfo;
  readonly metadata: Readonly<Record<string, string | number>>;
}

interface Loaded {
  readonly modelId: string;
  readonly model: LoadedModel;
  readonly engine: Engine;
}

/** What run.json holds. */
interface RunFile {
  readonly id: string;
  readonly name: string;
  readonly status: RunStatus;
  readonly createdAt: string;
  readonly modelIds: readonly string[];
  readonly cellsDone: number;
  readonly cellsTotal: number;
  readonly tokensPerSecond: number;
  readonly etaSeconds: number;
  readonly error?: string;
  readonly experiment: ExperimentDef;
}

interface RunRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly outDir: string;
  readonly modelIds: readonly string[];
  experiment: ExperimentDef;
  status: RunStatus;
  cellsDone: number;
  cellsTotal: number;
  tokensPerSecond: number;
  etaSeconds: number;
  error: string | undefined;
  logs: LogLine[];
  controller: AbortController | undefined;
  /** Settles when the run's execution ends (set while running). */
  finished: Promise<void> | undefined;
  lastSaved: number;
}

/** A promise chain: one engine call at a time. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.catch(() => undefined);
    return r;
  }
}

// 'auto': CUDA if installed, else a hardware WebGPU adapter, else the CPU (engine/providers.ts).
const DEFAULT_SETTINGS: Settings = { theme: 'system', executionProvider: 'auto', threads: 0, floatWeights: 'auto', kvType: 'f32' };

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(APP_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Showable metadata: GGUF `general.*` (HF: the config fields the loader keeps), scalars only. */
function modelMetadata(info: ModelInfo): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const put = (k: string, v: unknown): void => {
    if (typeof v === 'string') out[k] = v.length > 2000 ? `${v.slice(0, 2000)}…` : v;
    else if (typeof v === 'number') out[k] = v;
    else if (typeof v === 'boolean') out[k] = String(v);
    else if (typeof v === 'bigint') out[k] = v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  };
  try {
    if (info.format === 'gguf') {
      for (const [k, v] of readGgufHeader(info.path).metadata) if (k.startsWith('general.')) put(k, v);
    } else if (info.format === 'hf') {
      for (const [k, v] of Object.entries(readHfModelHeader(info.path).metadata)) put(k, v);
    }
  } catch {
    // inspectModel already read these headers; a failure here only loses the extra metadata
  }
  return out;
}

function describe(info: ModelInfo, metadata: Readonly<Record<string, string | number>>): string {
  const d = metadata['general.description'];
  if (typeof d === 'string' && d.trim()) return d.trim();
  const p =
    info.parameters >= 1e9
      ? `${(info.parameters / 1e9).toFixed(2)}B`
      : info.parameters >= 1e6
        ? `${(info.parameters / 1e6).toFixed(2)}M`
        : `${(info.parameters / 1e3).toFixed(0)}K`;
  return `${info.architecture} model, ${p} parameters: ${info.layers} layers, ${info.heads} attention heads (${info.kvHeads} KV), head dim ${info.headDim}, context ${info.contextLength}`;
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'run'
  );
}

function newRunId(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${randomBytes(3).toString('hex')}`;
}

/** Writes a file atomically (temp + rename): a reader never sees half a run.json. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const MIME: Readonly<Record<ExportedFile['encoding'] | string, string>> = {
  html: 'text/html',
  pdf: 'application/pdf',
  csv: 'text/csv',
  json: 'application/json',
};

class LabHost {
  private readonly resultsDir: string;
  private readonly baseDir: string;
  private readonly version = readVersion();
  private settings: Settings;
  private readonly models = new Map<string, KnownModel>();
  private readonly defaultModelId: string | null = null;
  private loaded: Loaded | null = null;
  private fallbackReason: string | undefined;
  private readonly engineLock = new Mutex();
  private readonly runs = new Map<string, RunRecord>();
  private readonly queue: string[] = [];
  private active: RunRecord | null = null;
  private closed = false;
  /** Hugging Face downloads in flight, by local folder: one at a time per repo; close() aborts them. */
  private readonly downloads = new Map<string, AbortController>();

  constructor(private readonly opts: LabServiceOptions) {
    this.resultsDir = resolve(opts.resultsDir);
    this.baseDir = resolve(opts.baseDir ?? process.cwd());
    this.settings = { ...DEFAULT_SETTINGS, ...opts.settings, ...this.readSettingsFile() };
    mkdirSync(this.resultsDir, { recursive: true });
    if (opts.defaultModel !== null) {
      try {
        this.defaultModelId = this.addModel(opts.defaultModel, true).id;
      } catch (e) {
        // The app still works without its default model: the user opens another. Say why once.
        process.stderr.write(`kvlab: default model unavailable: ${toApiError(e).message}\n`);
      }
    }
    this.scanRuns();
  }

  /** The saved settings; a missing or unreadable file is no settings (the defaults apply), never an error. */
  private readSettingsFile(): Partial<Settings> {
    const f = this.opts.settingsFile;
    if (!f || !existsSync(f)) return {};
    try {
      const r = settingsInput.safeParse(JSON.parse(readFileSync(f, 'utf8')));
      if (r.success) return Object.fromEntries(Object.entries(r.data).filter(([, v]) => v !== undefined)) as Partial<Settings>;
      process.stderr.write(`kvlab: ignoring ${f}: ${r.error.issues[0]?.message ?? 'invalid'}\n`);
    } catch (e) {
      process.stderr.write(`kvlab: ignoring ${f}: ${(e as Error).message}\n`);
    }
    return {};
  }

  // ------------------------------------------------------------------ models

  private addModel(path: string, bundled: boolean): KnownModel {
    const abs = resolve(path);
    const id = modelIdFor(abs);
    const known = this.models.get(id);
    if (known) return known;
    if (!existsSync(abs)) throw new ApiError('E_NOT_FOUND', `${abs}: no such file or folder`, { file: abs });
    const info = inspectModel(abs);
    const fileName = basename(info.path).replace(/\.(gguf|bin)$/i, '');
    const name = info.name && info.name.toLowerCase() !== info.architecture ? info.name : fileName;
    const m: KnownModel = { id, path: info.path, bundled, name, info, metadata: modelMetadata(info) };
    this.models.set(id, m);
    return m;
  }

  private model(modelId: string): KnownModel {
    const m = this.models.get(modelId);
    if (!m) throw new ApiError('E_NOT_FOUND', `no model with id '${modelId}' (open it first; listModels says which are known)`);
    return m;
  }

  private summary(m: KnownModel): ModelSummary {
    return { id: m.id, path: m.path, name: m.name, format: m.info.format, bundled: m.bundled, loaded: this.loaded?.modelId === m.id };
  }

  private card(m: KnownModel): ModelCard {
    const i = m.info;
    return {
      ...this.summary(m),
      architecture: i.architecture,
      description: describe(i, m.metadata),
      parameters: i.parameters,
      layers: i.layers,
      heads: i.heads,
      kvHeads: i.kvHeads,
      headDim: i.headDim,
      contextLength: i.contextLength,
      vocabSize: i.config.vocabSize,
      kvBytesPerToken: { ...i.kvBytesPerToken },
      fileBytes: i.fileBytes,
      estimatedLoadBytes: i.estimatedLoadBytes,
      ...(i.floatWeightEstimates ? { floatWeightEstimates: { ...i.floatWeightEstimates } } : {}),
      storedTypes: { ...i.storedTypes },
      metadata: { ...m.metadata },
    };
  }

  /** Runs fn with the model's engine, loading it (and releasing another) first. One call at a time. */
  private withEngine<T>(modelId: string, fn: (l: Loaded) => Promise<T>): Promise<T> {
    const m = this.model(modelId);
    return this.engineLock.run(async () => {
      if (this.closed) throw new ApiError('E_CANCELLED', 'the engine is shutting down');
      if (this.loaded?.modelId !== modelId) {
        await this.release();
        const model = await loadModel(m.path, { floatWeights: this.settings.floatWeights ?? 'auto' });
        const engine = await Engine.create(model, {
          executionProvider: this.settings.executionProvider,
          ...(this.settings.threads > 0 ? { threads: this.settings.threads } : {}),
          kvType: this.settings.kvType ?? 'f32',
          ...(this.opts.cacheDir ? { cacheDir: this.opts.cacheDir } : {}),
        });
        this.fallbackReason = engine.info.fallbackReason;
        this.loaded = { modelId, model, engine };
        this.opts.emit({ type: 'models.changed' });
      }
      return fn(this.loaded);
    });
  }

  private async release(): Promise<void> {
    const l = this.loaded;
    if (!l) return;
    this.loaded = null;
    await l.engine.dispose();
    this.opts.emit({ type: 'models.changed' });
  }

  // ------------------------------------------------------------------ runs

  private runDir(id: string): string {
    return join(this.resultsDir, id);
  }

  private run(runId: string): RunRecord {
    const r = RUN_ID.test(runId) ? this.runs.get(runId) : undefined;
    if (!r) throw new ApiError('E_NOT_FOUND', `no run with id '${runId}'`);
    return r;
  }

  private runSummary(r: RunRecord): RunSummary {
    return {
      id: r.id,
      name: r.name,
      status: r.status,
      modelIds: [...r.modelIds],
      cellsDone: r.cellsDone,
      cellsTotal: r.cellsTotal,
      etaSeconds: r.etaSeconds,
      tokensPerSecond: r.tokensPerSecond,
      createdAt: r.createdAt,
      ...(r.error !== undefined ? { error: r.error } : {}),
    };
  }

  private save(r: RunRecord): void {
    const file: RunFile = {
      id: r.id,
      name: r.name,
      status: r.status,
      createdAt: r.createdAt,
      modelIds: r.modelIds,
      cellsDone: r.cellsDone,
      cellsTotal: r.cellsTotal,
      tokensPerSecond: r.tokensPerSecond,
      etaSeconds: r.etaSeconds,
      ...(r.error !== undefined ? { error: r.error } : {}),
      experiment: r.experiment,
    };
    mkdirSync(r.outDir, { recursive: true });
    writeAtomic(join(r.outDir, RUN_FILE), `${JSON.stringify(file, null, 2)}\n`);
    r.lastSaved = Date.now();
  }

  private log(r: RunRecord, level: LogLine['level'], message: string): void {
    const line: LogLine = { time: new Date().toISOString(), level, message };
    r.logs.push(line);
    if (r.logs.length > MAX_LOG_LINES) r.logs.splice(0, r.logs.length - MAX_LOG_LINES);
    try {
      appendFileSync(join(r.outDir, RUN_LOG), `${JSON.stringify(line)}\n`);
    } catch {
      // the log file is a convenience; the in-memory lines and the event still go out
    }
    this.opts.emit({ type: 'run.log', runId: r.id, line });
  }

  private setStatus(r: RunRecord, status: RunStatus, error?: string): void {
    r.status = status;
    r.error = error;
    this.save(r);
    this.opts.emit({ type: 'run.status', runId: r.id, status, ...(error !== undefined ? { error } : {}) });
  }

  /** Lists existing run folders: run.json where present, else a results folder the CLI wrote (experiment.json). */
  private scanRuns(): void {
    let names: string[];
    try {
      names = readdirSync(this.resultsDir);
    } catch {
      return;
    }
    for (const name of names) {
      const dir = this.runDir(name);
      if (!RUN_ID.test(name) || !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
      try {
        const r = existsSync(join(dir, RUN_FILE)) ? this.loadRunFile(name, dir) : existsSync(join(dir, EXPERIMENT_FILE)) ? this.importResults(name, dir) : null;
        if (r) this.runs.set(r.id, r);
      } catch (e) {
        process.stderr.write(`kvlab: skipping ${dir}: ${(e as Error).message}\n`);
      }
    }
  }

  private loadRunFile(id: string, dir: string): RunRecord {
    const f = JSON.parse(readFileSync(join(dir, RUN_FILE), 'utf8')) as Partial<RunFile>;
    const parsed = experimentDef.safeParse(f.experiment);
    const logs = this.readLogs(dir);
    const r: RunRecord = {
      id,
      name: typeof f.name === 'string' ? f.name : id,
      createdAt: typeof f.createdAt === 'string' ? f.createdAt : statSync(dir).mtime.toISOString(),
      outDir: dir,
      modelIds: Array.isArray(f.modelIds) ? f.modelIds.map(String) : [],
      experiment: parsed.success ? parsed.data : (f.experiment as ExperimentDef),
      status: f.status ?? 'failed',
      cellsDone: Number(f.cellsDone ?? 0),
      cellsTotal: Number(f.cellsTotal ?? 0),
      tokensPerSecond: Number(f.tokensPerSecond ?? 0),
      etaSeconds: 0,
      error: typeof f.error === 'string' ? f.error : undefined,
      logs,
      controller: undefined,
      finished: undefined,
      lastSaved: 0,
    };
    if (!parsed.success) {
      r.status = 'failed';
      r.error = `run.json's experiment is not valid: ${parsed.error.issues[0]?.message ?? 'unknown problem'}`;
    } else if (r.status === 'queued' || r.status === 'running') {
      // The engine stopped while this run was waiting or running: finished cells are on disk, the rest resumes.
      const was = r.status;
      r.status = 'cancelled';
      this.log(r, 'warn', `interrupted: the engine stopped while this run was ${was}; resume it to run the remaining cells`);
      this.save(r);
    }
    return r;
  }

  /** A results folder written by `kvlab run` (no run.json): listed as done. */
  private importResults(id: string, dir: string): RunRecord {
    const exp = readExperiment(dir);
    const def = experimentDef.parse(exp.definition);
    const rows = readRows(dir).filter((x) => x['kind'] === 'cell').length;
    return {
      id,
      name: def.name,
      createdAt: exp.createdAt || statSync(dir).mtime.toISOString(),
      outDir: dir,
      modelIds: def.models.map((m) => modelIdFor(resolve(dir, m))),
      experiment: def,
      status: 'done',
      cellsDone: rows,
      cellsTotal: rows,
      tokensPerSecond: 0,
      etaSeconds: 0,
      error: undefined,
      logs: this.readLogs(dir),
      controller: undefined,
      finished: undefined,
      lastSaved: 0,
    };
  }

  private readLogs(dir: string): LogLine[] {
    const p = join(dir, RUN_LOG);
    if (!existsSync(p)) return [];
    const out: LogLine[] = [];
    for (const line of readFileSync(p, 'utf8')
      .split('\n')
      .slice(-MAX_LOG_LINES - 1)) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        // a torn last line from a kill: skip it
      }
    }
    return out.slice(-MAX_LOG_LINES);
  }

  private enqueue(r: RunRecord): void {
    this.queue.push(r.id);
    this.setStatus(r, 'queued');
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    if (this.active || this.closed) return;
    const id = this.queue.shift();
    if (id === undefined) return;
    const r = this.runs.get(id);
    if (!r || r.status !== 'queued') return this.pump();
    this.active = r;
    r.finished = this.execute(r).finally(() => {
      r.controller = undefined;
      this.active = null;
      this.pump();
    });
  }

  // eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
  private async execute(r: RunRecord): Promise<void> {
    const controller = new AbortController();
    r.controller = controller;
    r.etaSeconds = 0;
    this.setStatus(r, 'running');
    this.log(
      r,
      'info',
      `started: ${r.experiment.methods.length} methods × ${r.experiment.budgets.length} budgets × ${r.experiment.workloads.length} workloads`,
    );
    const onEvent = (e: RunEvent): void => {
      switch (e.type) {
        case 'start':
          r.cellsTotal = e.cellsTotal;
          r.cellsDone = e.cellsDone;
          this.log(
            r,
            'info',
            `${e.cellsTotal} cells (${e.cellsDone} already done): ${e.prefills} prefills, ${e.prefillsSaved} saved by sharing one prefill per sample`,
          );
          this.opts.emit({
            type: 'run.progress',
            runId: r.id,
            cellsDone: r.cellsDone,
            cellsTotal: r.cellsTotal,
            tokensPerSecond: 0,
            etaSeconds: 0,
            current: '',
          });
          this.save(r);
          return;
        case 'progress':
          r.cellsDone = e.cellsDone;
          r.cellsTotal = e.cellsTotal;
          r.tokensPerSecond = e.tokensPerSecond;
          r.etaSeconds = e.etaSeconds;
          this.opts.emit({
            type: 'run.progress',
            runId: r.id,
            cellsDone: e.cellsDone,
            cellsTotal: e.cellsTotal,
            tokensPerSecond: e.tokensPerSecond,
            etaSeconds: e.etaSeconds,
            current: e.current,
          });
          if (Date.now() - r.lastSaved > 1000) this.save(r);
          return;
        case 'cell':
          this.opts.emit({ type: 'run.row', runId: r.id, row: e.row });
          return;
        case 'log':
          this.log(r, e.level, e.message);
          return;
      }
    };
    try {
      const s = await runExperiment(r.experiment, {
        outDir: r.outDir,
        writer: `${this.opts.mode === 'electron' ? 'the KV Lab app' : 'kvlab serve'}, run ${r.id}`,
        baseDir: this.baseDir,
        signal: controller.signal,
        onEvent,
        ...(this.opts.cacheDir ? { cacheDir: this.opts.cacheDir } : {}),
      });
      r.etaSeconds = 0;
      this.log(
        r,
        'info',
        `${s.cancelled ? 'cancelled' : 'done'}: ${s.cellsRun} cells run, ${s.cellsSkipped} already done, ${s.prefills} prefills, ${s.seconds.toFixed(1)} s`,
      );
      this.setStatus(r, s.cancelled || controller.signal.aborted ? 'cancelled' : 'done');
    } catch (e) {
      r.etaSeconds = 0;
      if (controller.signal.aborted) {
        this.log(r, 'info', 'cancelled');
        this.setStatus(r, 'cancelled');
      } else {
        const msg = toApiError(e).message;
        this.log(r, 'error', msg);
        this.setStatus(r, 'failed', msg);
      }
    }
  }

  /** Model entries of a submitted experiment: a known model id becomes its path; paths resolve against baseDir and must exist. */
  private resolveModels(def: ExperimentDef): { def: ExperimentDef; modelIds: string[] } {
    const models = def.models.map((m, i) => {
      const known = this.models.get(m);
      const path = known ? known.path : resolve(this.baseDir, m);
      if (!existsSync(path)) throw new ApiError('E_NOT_FOUND', `experiment.models.${i}: ${path}: no such model file or folder`, { file: path });
      // A file that is not a model is refused now (E_MODEL, naming it), not by the run's first cell after it was queued.
      if (!known) inspectModel(path);
      return path;
    });
    return { def: { ...def, models }, modelIds: models.map(modelIdFor) };
  }

  // ------------------------------------------------------------------ handlers

  getAppInfo(): Promise<AppInfo> {
    const eps = executionProviders();
    const requested = this.settings.executionProvider;
    const info = this.loaded?.engine.info;
    // Before a model is loaded, 'auto' is not resolved yet (that needs the WebGPU probe): say so.
    const inUse = info?.executionProvider ?? (requested === 'auto' ? 'auto' : eps.find((e) => e.id === requested)?.available ? requested : 'cpu');
    return Promise.resolve({
      version: this.version,
      mode: this.opts.mode ?? 'serve',
      executionProvider: inUse,
      executionProviders: eps.map((e) =>
        e.id === requested && this.fallbackReason && !e.reason ? { ...e, available: false, reason: this.fallbackReason } : e,
      ),
      ...(info ? { executionProviderReason: info.providerReason } : {}),
      ...(info?.adapter ? { adapter: info.adapter } : {}),
      defaultModelId: this.defaultModelId,
      resultsDir: this.resultsDir,
    });
  }

  getSettings(): Promise<Settings> {
    return Promise.resolve({ ...this.settings });
  }

  async updateSettings(input: LabParsedInput<'updateSettings'>): Promise<Settings> {
    const next: Settings = {
      theme: input.theme ?? this.settings.theme,
      executionProvider: input.executionProvider ?? this.settings.executionProvider,
      threads: input.threads ?? this.settings.threads,
      floatWeights: input.floatWeights ?? this.settings.floatWeights ?? 'auto',
      kvType: input.kvType ?? this.settings.kvType ?? 'f32',
    };
    const engineChanged =
      next.executionProvider !== this.settings.executionProvider ||
      next.threads !== this.settings.threads ||
      next.floatWeights !== (this.settings.floatWeights ?? 'auto') ||
      next.kvType !== (this.settings.kvType ?? 'f32');
    this.settings = next;
    if (this.opts.settingsFile) {
      mkdirSync(dirname(this.opts.settingsFile), { recursive: true });
      writeAtomic(this.opts.settingsFile, `${JSON.stringify(next, null, 2)}\n`);
    }
    // A new provider or thread count takes effect at the next load: drop the loaded engine.
    if (engineChanged) {
      this.fallbackReason = undefined;
      await this.engineLock.run(() => this.release());
    }
    return { ...next };
  }

  listModels(): Promise<ModelSummary[]> {
    const all = [...this.models.values()];
    all.sort((a, b) => Number(b.bundled) - Number(a.bundled));
    return Promise.resolve(all.map((m) => this.summary(m)));
  }

  openModel(input: LabParsedInput<'openModel'>): Promise<ModelCard> {
    const before = this.models.size;
    const m = this.addModel(input.path, false);
    if (this.models.size !== before) this.opts.emit({ type: 'models.changed' });
    return Promise.resolve(this.card(m));
  }

  /** Downloads from the Hugging Face Hub (hf-download.ts), then opens it like openModel; model.download events report the bytes. */
  async downloadModel(input: LabParsedInput<'downloadModel'>): Promise<ModelCard> {
    if (this.closed) throw new ApiError('E_CANCELLED', 'the engine is shutting down');
    const modelsDir = resolve(this.opts.modelsDir ?? join(dirname(this.resultsDir), 'models'));
    const key = hfLocalDir(modelsDir, input.repo);
    if (this.downloads.has(key)) throw new ApiError('E_BUSY', `${input.repo} is already being downloaded`);
    const controller = new AbortController();
    this.downloads.set(key, controller);
    const file = input.file ?? '';
    let last = { bytesDone: 0, bytesTotal: 0 };
    const emit = (done: boolean, error?: string): void =>
      this.opts.emit({ type: 'model.download', repo: input.repo, file, ...last, done, ...(error !== undefined ? { error } : {}) });
    try {
      const r = await downloadHfModel({
        repo: input.repo,
        revision: input.revision,
        ...(input.file !== undefined ? { file: input.file } : {}),
        modelsDir,
        signal: controller.signal,
        onProgress: (p) => {
          last = { bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
          emit(false);
        },
      });
      last = { bytesDone: r.bytes, bytesTotal: Math.max(last.bytesTotal, r.bytes) };
      const card = await this.openModel({ path: r.path });
      emit(true);
      return card;
    } catch (e) {
      const err = toApiError(e);
      emit(true, err.message);
      throw err;
    } finally {
      this.downloads.delete(key);
    }
  }

  getModelCard(input: LabParsedInput<'getModelCard'>): Promise<ModelCard> {
    return Promise.resolve(this.card(this.model(input.modelId)));
  }

  describeMethods(): Promise<LabOutput<'describeMethods'>> {
    return Promise.resolve(describeMethods());
  }

  // eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
  runPlayground(input: LabParsedInput<'runPlayground'>): Promise<LabOutput<'runPlayground'>> {
    // Parse every configuration before touching the engine: a typo fails fast and names its place.
    const configs = input.configs.map((c, i) => {
      let method: Method;
      let budget: BudgetSpec | undefined;
      try {
        method = parseMethodSpec(c.method);
      } catch (e) {
        // The message is the user's sentence (it quotes the text, which tells the configurations apart); the field is in details.
        throw new ApiError('E_INVALID', (e as Error).message, { field: `configs.${i}.method` });
      }
      try {
        budget = method === 'full' ? undefined : parseBudget(c.budget);
      } catch (e) {
        throw new ApiError('E_INVALID', (e as Error).message, { field: `configs.${i}.budget` });
      }
      return { label: c.method.trim(), method, budget, budgetText: method === 'full' ? 'full' : c.budget };
    });
    return this.withEngine(input.modelId, async ({ engine, model }) => {
      const tok = model.tokenizer as Tokenizer & Partial<Pick<HfTokenizer, 'chatTemplate' | 'encodeChat'>>;
      const ids =
        input.chatTemplate && tok.chatTemplate && tok.encodeChat ? tok.encodeChat([{ role: 'user', content: input.prompt }]) : tok.encode(input.prompt);
      // One full-attention prefill with every statistic the configurations need, shared by all of them.
      const pre = await prefillForMethods(engine, ids, ['full', ...configs.map((c) => c.method)]);
      const L = engine.config.numLayers;
      const results: PlaygroundResult[] = [];
      for (const c of [{ label: 'full', method: 'full' as Method, budget: undefined, budgetText: 'full' }, ...configs]) {
        const r = await generate(engine, ids, {
          method: c.method,
          ...(c.budget ? { budget: c.budget } : {}),
          maxTokens: input.maxNewTokens,
          prefill: pre,
        });
        const held = r.heldAfterCompression;
        const plan = r.plan;
        results.push({
          label: c.label,
          method: formatMethodSpec(c.method),
          budget: c.budgetText,
          text: tok.decode(r.tokens),
          promptTokens: ids.length,
          generatedTokens: r.tokens.length,
          tokensPerSecond: r.timings.decodeTokens > 0 ? r.timings.decodeTokens / (r.timings.decodeMs / 1000) : 0,
          prefillMs: pre.timings.prefillMs,
          kvBytes: held.bytes,
          fullBytes: held.fullBytes,
          kept: plan?.compress ? plan.kept.map((heads) => heads.map((k) => Array.from(k))) : [],
          layerBudgets: plan ? Array.from(plan.layerBudgets) : new Array<number>(L).fill(ids.length),
          notices: r.notices,
        });
      }
      // The run goes on (a user may want to see it), but says so: positions past the context the model declares
      // are ones it was not trained for, and its outputs there say little about compression.
      const limit = model.config.contextLength;
      const warnings =
        ids.length + input.maxNewTokens > limit
          ? [
              `The prompt has ${ids.length.toLocaleString('en-US')} tokens${ids.length > limit ? '' : ` and up to ${input.maxNewTokens} more are generated`}, longer than ${model.config.name}'s context (${limit.toLocaleString('en-US')} tokens): the model was not trained for those positions, so its answers there say little about compression.`,
            ]
          : [];
      return { tokens: ids.map((id) => tok.piece(id)), results, ...(warnings.length ? { warnings } : {}) };
    });
  }

  playgroundExample(input: LabParsedInput<'playgroundExample'>): Promise<PlaygroundExample> {
    // The model is loaded (as the Playground's run will need it) for its tokenizer: lengths are in its tokens, as a run's are.
    return this.withEngine(input.modelId, ({ model }) => {
      return Promise.resolve(
        playgroundExample(
          { kind: input.kind, contextLength: input.contextLength, depth: input.depth, template: input.template, seed: input.seed },
          tokenCounter(model.tokenizer),
        ),
      );
    });
  }

  profileModel(input: LabParsedInput<'profileModel'>): Promise<LayerProfile> {
    return this.withEngine(input.modelId, async ({ engine, model }) => {
      const ids = model.tokenizer.encode(input.prompt);
      const p = await profilePrompt(engine, ids, { tau: input.tau, windowSize: input.windowSize, tauO: input.tauO, lmbo: input.lmbo });
      return {
        modelId: input.modelId,
        promptTokens: p.promptTokens,
        tau: p.tau,
        lmba: p.lmba,
        lmbaPerHead: p.lmbaPerHead,
        tauO: p.tauO,
        lmbo: p.lmbo,
        uncertainty: Array.from(layerUncertainty(p.lmba)),
      };
    });
  }

  startRun(input: LabParsedInput<'startRun'>): Promise<RunSummary> {
    if (this.closed) throw new ApiError('E_CANCELLED', 'the engine is shutting down');
    const { def, modelIds } = this.resolveModels(input.experiment);
    // A missing haystack or LongBench file is refused now (E_NOT_FOUND, naming it), not by the queued run.
    checkWorkloadFiles(def.workloads, { baseDir: this.baseDir, ...(def.texts ? { textsDir: resolve(this.baseDir, def.texts) } : {}) });
    let id = newRunId();
    while (this.runs.has(id) || existsSync(this.runDir(id))) id = newRunId();
    const r: RunRecord = {
      id,
      name: input.name ?? def.name,
      createdAt: new Date().toISOString(),
      outDir: this.runDir(id),
      modelIds,
      experiment: def,
      status: 'queued',
      cellsDone: 0,
      cellsTotal: 0,
      tokensPerSecond: 0,
      etaSeconds: 0,
      error: undefined,
      logs: [],
      controller: undefined,
      finished: undefined,
      lastSaved: 0,
    };
    mkdirSync(r.outDir, { recursive: true });
    this.runs.set(id, r);
    this.enqueue(r);
    return Promise.resolve(this.runSummary(r));
  }

  listRuns(): Promise<RunSummary[]> {
    const all = [...this.runs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    return Promise.resolve(all.map((r) => this.runSummary(r)));
  }

  getRun(input: LabParsedInput<'getRun'>): Promise<RunDetail> {
    const r = this.run(input.runId);
    return Promise.resolve({ ...this.runSummary(r), experiment: r.experiment, logs: [...r.logs], outDir: r.outDir });
  }

  async cancelRun(input: LabParsedInput<'cancelRun'>): Promise<RunSummary> {
    const r = this.run(input.runId);
    if (r.status === 'queued') {
      const i = this.queue.indexOf(r.id);
      if (i >= 0) this.queue.splice(i, 1);
      this.log(r, 'info', 'cancelled before it started');
      this.setStatus(r, 'cancelled');
    } else if (r.status === 'running') {
      this.log(r, 'info', 'cancelling after the cell in flight…');
      r.controller?.abort(new ApiError('E_CANCELLED', 'cancelled'));
      // Answer once it has really stopped, so the caller sees 'cancelled', not a run still writing.
      await r.finished;
    }
    return this.runSummary(r);
  }

  resumeRun(input: LabParsedInput<'resumeRun'>): Promise<RunSummary> {
    const r = this.run(input.runId);
    if (r.status === 'cancelled' || r.status === 'failed') {
      const parsed = experimentDef.safeParse(r.experiment);
      if (!parsed.success) throw new ApiError('E_INVALID', r.error ?? 'the stored experiment is not valid');
      r.experiment = parsed.data;
      this.log(r, 'info', 'resumed: finished cells are skipped');
      this.enqueue(r);
    }
    return Promise.resolve(this.runSummary(r));
  }

  getResults(input: LabParsedInput<'getResults'>): Promise<{ rows: AnyRow[]; total: number }> {
    const r = this.run(input.runId);
    if (!existsSync(join(r.outDir, EXPERIMENT_FILE))) return Promise.resolve({ rows: [], total: 0 });
    const rows = readRows(r.outDir) as unknown as AnyRow[];
    return Promise.resolve({ rows: rows.slice(input.offset, input.offset + input.limit), total: rows.length });
  }

  async getSample(input: LabParsedInput<'getSample'>): Promise<SampleDetail> {
    const r = this.run(input.runId);
    // The runner's own code rebuilds the samples (they depend on the model's tokenizer); the loaded model is reused when it is the run's.
    const loaded = this.loaded?.model;
    const load = (path: string): Promise<LoadedModel> => {
      if (loaded && resolve(loaded.path) === resolve(path)) return Promise.resolve(loaded);
      if (!existsSync(path)) throw new ApiError('E_NOT_FOUND', `${path}: the run's model is needed to rebuild its samples and is gone`, { file: path });
      return loadModel(path);
    };
    const found = await findSample(
      r.experiment,
      input.sampleId,
      { baseDir: this.baseDir, ...(this.opts.cacheDir ? { cacheDir: this.opts.cacheDir } : {}) },
      load,
    );
    if (!found) throw new ApiError('E_NOT_FOUND', `run '${r.id}' has no sample '${input.sampleId}'`);
    const { sample, model, promptIds } = found;
    return {
      sampleId: sample.id,
      workload: sample.workload,
      prompt: sample.prompt,
      tokens: promptIds.map((t) => model.tokenizer.piece(t)),
      answers: [...sample.answers],
    };
  }

  async exportReport(input: LabParsedInput<'exportReport'>): Promise<ExportedFile> {
    const r = this.run(input.runId);
    if (!existsSync(join(r.outDir, EXPERIMENT_FILE))) throw new ApiError('E_NOT_FOUND', `run '${r.id}' has no results yet`);
    const tmp = mkdtempSync(join(tmpdir(), 'kvlab-export-'));
    try {
      const out = join(tmp, `report.${input.format}`);
      await writeReport(r.outDir, input.format, out);
      const binary = input.format === 'pdf';
      const data = readFileSync(out);
      return {
        fileName: `${slug(r.name)}.${input.format}`,
        mimeType: MIME[input.format] ?? 'application/octet-stream',
        encoding: binary ? 'base64' : 'utf8',
        data: binary ? data.toString('base64') : data.toString('utf8'),
      };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.downloads.values()) c.abort(new ApiError('E_CANCELLED', 'the engine is shutting down'));
    for (const id of this.queue.splice(0)) {
      const r = this.runs.get(id);
      if (r?.status === 'queued') this.setStatus(r, 'cancelled');
    }
    const a = this.active;
    if (a) {
      a.controller?.abort(new ApiError('E_CANCELLED', 'the engine is shutting down'));
      await a.finished;
    }
    await this.engineLock.run(() => this.release());
  }
}

/**
 * The engine host's handlers. Every method answers ApiError on failure
 * (toApiError maps the engine's, runner's and reports' errors); inputs are
 * already validated by the transport (core's parseInput/dispatch).
 */
export function createLabService(opts: LabServiceOptions): LabService {
  const host = new LabHost(opts);
  const wrap =
    <I, O>(fn: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      try {
        return await fn(input);
      } catch (e) {
        throw toApiError(e);
      }
    };
  return {
    getAppInfo: wrap(() => host.getAppInfo()),
    getSettings: wrap(() => host.getSettings()),
    updateSettings: wrap((i) => host.updateSettings(i)),
    listModels: wrap(() => host.listModels()),
    openModel: wrap((i) => host.openModel(i)),
    downloadModel: wrap((i) => host.downloadModel(i)),
    getModelCard: wrap((i) => host.getModelCard(i)),
    describeMethods: wrap(() => host.describeMethods()),
    runPlayground: wrap((i) => host.runPlayground(i)),
    playgroundExample: wrap((i) => host.playgroundExample(i)),
    profileModel: wrap((i) => host.profileModel(i)),
    startRun: wrap((i) => host.startRun(i)),
    listRuns: wrap(() => host.listRuns()),
    getRun: wrap((i) => host.getRun(i)),
    cancelRun: wrap((i) => host.cancelRun(i)),
    resumeRun: wrap((i) => host.resumeRun(i)),
    getResults: wrap((i) => host.getResults(i)),
    getSample: wrap((i) => host.getSample(i)),
    exportReport: wrap((i) => host.exportReport(i)),
    close: () => host.close(),
  };
}

/** The service in this process with an event subscription instead of an `emit` callback (tests, tools; the app uses the engine child). */
export function createInProcessLab(opts: Omit<LabServiceOptions, 'emit'>): LabService & { onEvent(listener: (e: LabEvent) => void): () => void } {
  const listeners = new Set<(e: LabEvent) => void>();
  const service = createLabService({
    ...opts,
    emit: (e) => {
      for (const l of [...listeners]) l(e);
    },
  });
  return {
    ...service,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
