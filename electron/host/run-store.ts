/**
 * The run folders: each run has <resultsDir>/<runId>/, the runner's outDir
 * (experiment.json, results.jsonl) plus run.json (status, name, dates, the
 * submitted experiment) and run.log (log lines, JSON per line). The store
 * keeps the records in memory, writes them back on every change, and emits
 * run.status / run.log. On start-up it lists the existing folders; a run
 * that was queued or running when the lab stopped is listed as cancelled
 * (resumable), and a results folder `kvlab run` wrote (no run.json) as done.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ExperimentDef, LabEvent, LogLine, RunStatus, RunSummary } from '@kvlab/core';
import { ApiError, canTransition, experimentDef } from '@kvlab/core';
import { EXPERIMENT_FILE, readExperiment, readRows } from '../experiments/store.ts';
import { modelIdFor } from './model-registry.ts';
import { writeAtomic } from './write-atomic.ts';

export const RUN_FILE = 'run.json';
export const RUN_LOG = 'run.log';
const MAX_LOG_LINES = 2000;
/** Run ids name folders: no separators, no dot-dot, nothing a path could escape with. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

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

export interface RunRecord {
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

/** What a new record needs; the rest starts empty. */
type RunRecordSeed = Pick<RunRecord, 'id' | 'name' | 'createdAt' | 'outDir' | 'modelIds' | 'experiment' | 'status'> & Partial<RunRecord>;

function newRecord(seed: RunRecordSeed): RunRecord {
  return {
    cellsDone: 0,
    cellsTotal: 0,
    tokensPerSecond: 0,
    etaSeconds: 0,
    error: undefined,
    logs: [],
    controller: undefined,
    finished: undefined,
    lastSaved: 0,
    ...seed,
  };
}

function newRunId(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${randomBytes(3).toString('hex')}`;
}

export function runSummary(r: RunRecord): RunSummary {
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

/** The last MAX_LOG_LINES lines of a run.log; a torn last line (from a kill) is skipped. */
function readLogs(dir: string): LogLine[] {
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

/** A results folder written by `kvlab run` (no run.json): listed as done. */
function importResults(id: string, dir: string): RunRecord {
  const exp = readExperiment(dir);
  const def = experimentDef.parse(exp.definition);
  const rows = readRows(dir).filter((x) => x['kind'] === 'cell').length;
  return newRecord({
    id,
    name: def.name,
    createdAt: exp.createdAt || statSync(dir).mtime.toISOString(),
    outDir: dir,
    modelIds: def.models.map((m) => modelIdFor(resolve(dir, m))),
    experiment: def,
    status: 'done',
    cellsDone: rows,
    cellsTotal: rows,
    logs: readLogs(dir),
  });
}

export interface RunStoreOptions {
  /** Folder holding one sub-folder per run. Created if missing. */
  readonly resultsDir: string;
  readonly emit: (e: LabEvent) => void;
}

export class RunStore {
  private readonly runs = new Map<string, RunRecord>();

  constructor(private readonly opts: RunStoreOptions) {
    mkdirSync(opts.resultsDir, { recursive: true });
    this.scan();
  }

  /** The run with this id; E_NOT_FOUND otherwise (also for ids no folder could have). */
  get(runId: string): RunRecord {
    const r = RUN_ID.test(runId) ? this.runs.get(runId) : undefined;
    if (!r) throw new ApiError('E_NOT_FOUND', `no run with id '${runId}'`);
    return r;
  }

  /** Every run, newest first. */
  all(): RunRecord[] {
    return [...this.runs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  /** A new queued run in a fresh folder. */
  create(seed: Pick<RunRecord, 'name' | 'modelIds' | 'experiment'>): RunRecord {
    let id = newRunId();
    while (this.runs.has(id) || existsSync(this.dir(id))) id = newRunId();
    const r = newRecord({ ...seed, id, createdAt: new Date().toISOString(), outDir: this.dir(id), status: 'queued' });
    mkdirSync(r.outDir, { recursive: true });
    this.runs.set(id, r);
    return r;
  }

  save(r: RunRecord): void {
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

  log(r: RunRecord, level: LogLine['level'], message: string): void {
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

  /** Moves a run along core's run-status table (the renderer's fake follows the same table); any other move is a bug. */
  setStatus(r: RunRecord, status: RunStatus, error?: string): void {
    if (status !== r.status && !canTransition(r.status, status)) throw new Error(`run ${r.id} cannot go from ${r.status} to ${status}`);
    r.status = status;
    r.error = error;
    this.save(r);
    this.opts.emit({ type: 'run.status', runId: r.id, status, ...(error !== undefined ? { error } : {}) });
  }

  private dir(id: string): string {
    return join(this.opts.resultsDir, id);
  }

  /** Lists existing run folders: run.json where present, else a results folder the CLI wrote (experiment.json). */
  private scan(): void {
    let names: string[];
    try {
      names = readdirSync(this.opts.resultsDir);
    } catch {
      return;
    }
    for (const name of names) {
      const dir = this.dir(name);
      if (!RUN_ID.test(name) || !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
      try {
        const r = existsSync(join(dir, RUN_FILE)) ? this.loadRunFile(name, dir) : existsSync(join(dir, EXPERIMENT_FILE)) ? importResults(name, dir) : null;
        if (r) this.runs.set(r.id, r);
      } catch (e) {
        process.stderr.write(`kvlab: skipping ${dir}: ${(e as Error).message}\n`);
      }
    }
  }

  private loadRunFile(id: string, dir: string): RunRecord {
    const f = JSON.parse(readFileSync(join(dir, RUN_FILE), 'utf8')) as Partial<RunFile>;
    const parsed = experimentDef.safeParse(f.experiment);
    const r = newRecord({
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
      error: typeof f.error === 'string' ? f.error : undefined,
      logs: readLogs(dir),
    });
    if (!parsed.success) {
      r.status = 'failed';
      r.error = `run.json's experiment is not valid: ${parsed.error.issues[0]?.message ?? 'unknown problem'}`;
    } else if (r.status === 'queued' || r.status === 'running') {
      // The lab stopped while this run was waiting or running: finished cells are on disk, the rest resumes.
      const was = r.status;
      r.status = 'cancelled';
      this.log(r, 'warn', `interrupted: the lab stopped while this run was ${was}; resume it to run the remaining cells`);
      this.save(r);
    }
    return r;
  }
}
