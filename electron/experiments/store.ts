/**
 * The results store: one folder per experiment with
 *   experiment.json   the resolved definition and its hash (written once)
 *   results.jsonl     one JSON row per finished cell, appended and fsync'ed
 *   writer.lock       while a writer has the folder open (lock.ts): one writer
 *                     at a time; readers never look at it
 *
 * Why an append-only JSON-lines log rather than SQLite: a row is written with
 * one append + fsync, so a SIGKILL loses at most the cell in flight; a torn
 * last line (killed mid-write) is ignored by readers and cut off by the next
 * writer when it opens the store — never by a reader, which may be looking at
 * the row a live writer is still writing; the file stays readable by any tool
 * (jq, pandas, a text editor) and merges by concatenation. Our access pattern — append a row, read all
 * rows for a report, test membership of cell ids on resume — needs no index
 * beyond an in-memory Set. better-sqlite3 would add a native module to build
 * on every platform for no gain here.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '@kvlab/core';
import type { LockOptions } from './lock.ts';
import { WriterLock } from './lock.ts';

export { LockError, LOCK_FILE, lockHolderOf } from './lock.ts';
export type { LockHolder } from './lock.ts';

export const RESULTS_FILE = 'results.jsonl';
export const EXPERIMENT_FILE = 'experiment.json';

/** The results folder cannot be read or written: the machine's problem, not the request's (E_INTERNAL, naming the file). */
export class StoreError extends LabError {
  readonly code = 'E_STORE' as const;
  readonly apiCode = 'E_INTERNAL' as const;
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'StoreError';
  }
  override get apiDetails(): { file: string } {
    return { file: this.path };
  }
}

/** What every row carries; the rest is the runner's business. */
export interface StoredRow {
  readonly cellId: string;
  readonly experimentHash: string;
}

/** A row as read back: its two required fields plus whatever the writer stored (rows.ts describes the kinds). */
export type RawRow = StoredRow & Readonly<Record<string, unknown>>;

export interface StoredExperiment {
  readonly hash: string;
  readonly definition: unknown;
  readonly createdAt: string;
}

export class ResultsStore {
  private readonly done = new Set<string>();
  private closed = false;
  private readonly fd: number;
  private rowsCache: RawRow[];
  /** Where the next row goes: the end of the last complete line. */
  private offset: number;

  private constructor(
    readonly dir: string,
    readonly experiment: StoredExperiment,
    rows: RawRow[],
    validBytes: number,
    private readonly lock: WriterLock,
  ) {
    for (const r of rows) this.done.add(r.cellId);
    this.rowsCache = rows;
    const path = join(dir, RESULTS_FILE);
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    // Cut a torn last line (a write interrupted by a kill) so appends start on a clean line.
    ftruncateSync(this.fd, validBytes);
    this.offset = validBytes;
  }

  /**
   * Opens (or creates) the store for an experiment, as its one writer: takes
   * the folder's lock first (LockError, naming the holder, when another live
   * process writes it) and holds it until close(). Refuses a folder that
   * holds a different experiment (another definition hash).
   */
  static open(dir: string, definition: unknown, hash: string, lock: LockOptions = {}): ResultsStore {
    mkdirSync(dir, { recursive: true });
    const held = WriterLock.acquire(dir, lock);
    try {
      return ResultsStore.openLocked(dir, definition, hash, held);
    } catch (e) {
      held.release();
      throw e;
    }
  }

  private static openLocked(dir: string, definition: unknown, hash: string, lock: WriterLock): ResultsStore {
    const expPath = join(dir, EXPERIMENT_FILE);
    let experiment: StoredExperiment;
    if (existsSync(expPath)) {
      experiment = readExperiment(dir);
      if (experiment.hash !== hash) {
        throw new StoreError(
          expPath,
          `holds a different experiment (definition hash ${experiment.hash.slice(0, 12)}, this one ${hash.slice(0, 12)}); use another results folder`,
        );
      }
    } else {
      experiment = { hash, definition, createdAt: new Date().toISOString() };
      const tmp = `${expPath}.tmp`;
      writeFileSync(tmp, JSON.stringify(experiment, null, 2));
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      // rename is atomic: a half-written experiment.json never exists.
      renameSync(tmp, expPath);
    }
    const { rows, validBytes } = readRowsWithLength(join(dir, RESULTS_FILE), hash);
    return new ResultsStore(dir, experiment, rows, validBytes, lock);
  }

  has(cellId: string): boolean {
    return this.done.has(cellId);
  }

  get size(): number {
    return this.done.size;
  }

  rows(): readonly RawRow[] {
    return this.rowsCache;
  }

  /** Appends one finished cell durably (write + fsync) before returning. */
  append<R extends StoredRow>(row: R): void {
    if (row.experimentHash !== this.experiment.hash)
      throw new StoreError(this.dir, `row for experiment ${row.experimentHash} appended to ${this.experiment.hash}`);
    if (this.done.has(row.cellId)) throw new StoreError(this.dir, `cell ${row.cellId} is already stored`);
    // A writer whose lock was taken over (judged stale from another host) must not write on top of the new one.
    this.lock.assertHeld();
    const line = Buffer.from(`${JSON.stringify(row)}\n`, 'utf8');
    let written = 0;
    const pause = rowWritePauseMs();
    if (pause > 0) {
      // Test-only (test/experiments/fault-injection.test.ts): half the row on disk, then a pause, so a SIGKILL can land mid-row.
      const half = line.length >> 1;
      while (written < half) written += writeSync(this.fd, line, written, half - written, this.offset + written);
      fsyncSync(this.fd);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
    while (written < line.length) written += writeSync(this.fd, line, written, line.length - written, this.offset + written);
    fsyncSync(this.fd);
    this.offset += line.length;
    this.done.add(row.cellId);
    this.rowsCache.push(row as unknown as RawRow);
  }

  /** Closes the log and releases the folder's lock (also when closing the file fails). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } finally {
      this.lock.release();
    }
  }
}

/**
 * KVLAB_TEST_ROW_WRITE_PAUSE_MS: a fault-injection hook for tests only. A row
 * is one small write, so a kill almost never lands inside it; with this set,
 * append() writes half a row, syncs it and sleeps this long before the rest.
 */
function rowWritePauseMs(): number {
  const v = Number(process.env['KVLAB_TEST_ROW_WRITE_PAUSE_MS'] ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

export function readExperiment(dir: string): StoredExperiment {
  const path = join(dir, EXPERIMENT_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new StoreError(path, existsSync(path) ? `is not valid JSON (${(e as Error).message})` : 'is missing: not a KV Lab results folder');
  }
  const p = parsed as Partial<StoredExperiment>;
  if (typeof p.hash !== 'string' || p.definition === undefined) throw new StoreError(path, 'lacks the definition or its hash');
  return { hash: p.hash, definition: p.definition, createdAt: String(p.createdAt ?? '') };
}

/**
 * Reads every complete row; a torn LAST line is ignored, a bad line elsewhere
 * is an error naming it. Never modifies the folder and ignores its lock:
 * reading while a writer appends is safe (its row in flight is a torn last
 * line until its newline is written).
 */
export function readRows(dir: string): RawRow[] {
  const exp = readExperiment(dir);
  return readRowsWithLength(join(dir, RESULTS_FILE), exp.hash).rows;
}

function readRowsWithLength(path: string, hash: string): { rows: RawRow[]; validBytes: number } {
  if (!existsSync(path)) return { rows: [], validBytes: 0 };
  const buf = readFileSync(path);
  const rows: RawRow[] = [];
  let start = 0;
  let line = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    line++;
    if (nl < 0) break; // torn last line: no newline yet
    const text = buf.subarray(start, nl).toString('utf8');
    let row: RawRow;
    try {
      row = JSON.parse(text) as RawRow;
    } catch {
      // The last line unparseable although it ends in a newline: still the row in flight when the machine lost power
      // (its newline's block reached the disk, an earlier block did not and reads as zeros). Torn, like one without a newline.
      if (nl + 1 === buf.length) break;
      throw new StoreError(path, `line ${line} is not valid JSON`);
    }
    if (typeof row.cellId !== 'string') throw new StoreError(path, `line ${line} has no cellId`);
    if (row.experimentHash !== hash) throw new StoreError(path, `line ${line} belongs to experiment ${String(row.experimentHash)}, not ${hash}`);
    rows.push(row);
    start = nl + 1;
  }
  return { rows, validBytes: start };
}
