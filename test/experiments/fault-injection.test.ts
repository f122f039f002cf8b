/**
 * Results that cannot be lost (issue #17), checked by injecting faults into a
 * real `kvlab run` on stories260K (real engine, real files, real processes):
 *
 *   - the writer is SIGKILLed at seeded random moments, half of them in the
 *     middle of writing a row, and resumed each time; the final rows equal an
 *     uninterrupted run's (everything but timings and provenance);
 *   - two writers started at once on one folder: exactly one runs, the other
 *     is refused with the lock error naming it, and the folder stays readable.
 *
 * A row is one small write, so a kill almost never lands inside one by
 * chance: the children run with KVLAB_TEST_ROW_WRITE_PAUSE_MS, a test-only
 * hook in the store (store.ts) that writes half a row, syncs it and pauses
 * before writing the rest — a kill during that pause leaves a torn last line,
 * as a power cut mid-row would.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import { runExperiment } from '../../electron/experiments/runner.ts';
import { LOCK_FILE, lockHolderOf, readRows, RESULTS_FILE } from '../../electron/experiments/store.ts';
import type { RawRow } from '../../electron/experiments/store.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';

const BIN = join(import.meta.dirname, '../../electron/cli/kvlab.mjs');
/** Per row: long enough to kill inside reliably, short enough that a whole run stays a few seconds. */
const PAUSE_MS = 100;

/** 4 samples × (full + 2 methods × 1 budget) = 12 cells, plus the state-leak check row: one run takes ~1–2 s. */
const experiment = () => ({
  name: 'faults',
  // Throws (fails the test) when ../shared or the model is missing or differs: no silent skip.
  models: [sharedPath('models/stories260K/stories260K.gguf')],
  methods: ['full', 'snapkv/zigzagkv', 'h2o'],
  budgets: ['25%'],
  workloads: [
    { kind: 'niah', variant: 'single', contextLengths: [256], depths: [0, 50, 100] },
    { kind: 'fidelity', texts: 'sampled', promptTokens: [64], continuationTokens: 8, samples: 1 },
  ],
  seed: 5,
  engine: { threads: 1 },
});
const ROWS = 4 * 3 + 1;

/** A row without what legitimately differs between runs (timings; provenance: date, machine, commit). */
function essence(r: RawRow): Record<string, unknown> {
  const { timings: _t, provenance: _p, ...rest } = r;
  return rest;
}
const byCell = (rows: readonly RawRow[]) => [...rows].map(essence).sort((a, b) => String(a['cellId']).localeCompare(String(b['cellId'])));

interface Writer {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout: string;
  stderr: string;
}

function startWriter(file: string, out: string, cache: string, pause: number): Writer {
  const child = spawn(process.execPath, [BIN, 'run', file, '--out', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KVLAB_CACHE: cache, ...(pause > 0 ? { KVLAB_TEST_ROW_WRITE_PAUSE_MS: String(pause) } : {}) },
  });
  const w: Writer = { child, exited: new Promise((r) => child.once('exit', (code) => r(code))), stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (w.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (w.stderr += d.toString()));
  return w;
}

/** True while the last row is half-written: the log is non-empty and does not end in a newline. */
function torn(out: string): boolean {
  const p = join(out, RESULTS_FILE);
  if (!existsSync(p) || statSync(p).size === 0) return false;
  const buf = readFileSync(p);
  return buf[buf.length - 1] !== 0x0a;
}

/** Rows completely written (a torn last row is not counted). */
function completeRows(out: string): number {
  const p = join(out, RESULTS_FILE);
  if (!existsSync(p)) return 0;
  const buf = readFileSync(p);
  let n = 0;
  for (const b of buf) if (b === 0x0a) n++;
  return n;
}

let reference: Promise<RawRow[]> | undefined;
/** The rows of one uninterrupted run, in process (computed once for both tests). */
function referenceRows(): Promise<RawRow[]> {
  reference ??= (async () => {
    const ref = mkdtempSync(join(tmpdir(), 'kvlab-fault-ref-'));
    await runExperiment(experiment(), { outDir: ref, baseDir: ref, cacheDir: testCacheDir() });
    return readRows(ref);
  })();
  return reference;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves 'exited' if the child ends first, else 'reached' once `cond` holds (polled every 2 ms). */
async function until(w: Writer, cond: () => boolean, timeoutMs = 60_000): Promise<'reached' | 'exited'> {
  let gone = false;
  void w.exited.then(() => (gone = true));
  const t0 = Date.now();
  for (;;) {
    if (gone) return 'exited';
    if (cond()) return 'reached';
    if (Date.now() - t0 > timeoutMs) throw new Error('the writer neither reached the moment nor exited');
    await sleep(2);
  }
}

describe('results survive faults (issue #17)', () => {
  it('SIGKILLed at seeded random moments, many mid-row, and resumed each time: the rows equal an uninterrupted run', async (t) => {
    const cache = mkdtempSync(join(tmpdir(), 'kvlab-fault-cache-'));
    const reference = await referenceRows();
    assert.equal(reference.length, ROWS);

    const work = mkdtempSync(join(tmpdir(), 'kvlab-fault-'));
    const file = join(work, 'exp.json');
    writeFileSync(file, JSON.stringify(experiment()));
    const out = join(work, 'out');
    const rng = createRng(17);
    let kills = 0;
    let midRow = 0;
    let before = 0;
    const killed: number[] = [];
    const log: string[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const w = startWriter(file, out, cache, PAUSE_MS);
      // Even attempts: kill inside the 1st or 2nd row this writer starts. Odd: at a random moment either in its start-up
      // (0–1 s from its start, or as soon as it took the lock, whichever comes first: the store's open, lock takeover,
      // torn-tail cut) or after it took the lock and completed 0 or 1 more rows (between and inside rows). Moments are
      // tied to the writer's progress, never to a fixed time, so on a fast machine as on a slow one each attempt
      // completes at most one row and the ten attempts never finish the run.
      const mid = attempt % 2 === 0;
      const holds = () => lockHolderOf(out)?.pid === w.child.pid;
      let reached: 'reached' | 'exited';
      if (mid) {
        const nth = 1 + Math.floor(rng.next() * 2);
        let seen = 0;
        let wasTorn = true;
        // A torn row left by the previous kill is not this writer's: count only rows torn after it took the lock (and
        // so had already cut that one off).
        reached = await until(w, () => {
          if (!holds()) return false;
          const t = torn(out);
          if (t && !wasTorn) seen++;
          wasTorn = t;
          return t && seen === nth;
        });
        if (reached === 'reached') await sleep(rng.next() * (PAUSE_MS / 3));
      } else if (rng.next() < 0.5) {
        const at = Date.now() + rng.next() * 1000;
        reached = await until(w, () => Date.now() >= at || holds());
      } else {
        const more = Math.floor(rng.next() * 2);
        const pause = rng.next() * PAUSE_MS;
        reached = await until(w, holds);
        if (reached === 'reached') {
          const from = completeRows(out);
          reached = await until(w, () => completeRows(out) >= from + more);
          if (reached === 'reached') await sleep(pause);
        }
      }
      if (reached === 'exited') {
        // It finished every remaining cell before the chosen moment: nothing left to interrupt.
        assert.equal(await w.exited, 0, w.stderr);
        log.push(`${attempt}: finished first`);
        break;
      }
      w.child.kill('SIGKILL');
      await w.exited;
      kills++;
      const tornNow = torn(out);
      if (mid) {
        assert.ok(tornNow, `attempt ${attempt}: killed during the pause, so the last row is half-written`);
        midRow++;
      }
      // A reader copes with whatever the kill left: complete rows only, none lost, none twice.
      const rows = existsSync(join(out, 'experiment.json')) ? readRows(out) : [];
      assert.equal(new Set(rows.map((r) => r.cellId)).size, rows.length, 'no row twice');
      assert.ok(rows.length >= before, `attempt ${attempt}: ${rows.length} rows after the kill, ${before} before: a complete row was lost`);
      before = rows.length;
      // A dead writer's lock is left behind — this one's, or an earlier one's if this one was killed before taking it over.
      killed.push(w.child.pid ?? -1);
      const holder = lockHolderOf(out);
      assert.ok(holder === undefined || killed.includes(holder.pid), `the lock names a killed writer (${killed.join(', ')}), not ${holder?.pid}`);
      log.push(`${attempt}: killed ${mid ? 'mid-row' : 'at random'} with ${rows.length} rows${tornNow ? ' + a torn one' : ''}`);
    }
    t.diagnostic(log.join('; '));
    assert.ok(kills >= 8 && midRow >= 4, `enough faults injected: ${log.join('; ')}`);

    // The last writer runs to the end: it takes over the dead writer's lock, cuts the torn row and finishes.
    const last = startWriter(file, out, cache, 0);
    assert.equal(await last.exited, 0, last.stderr);
    assert.match(last.stdout, /^done: \d+ cells run, \d+ already done/m);
    assert.equal(existsSync(join(out, LOCK_FILE)), false, 'the lock is released on a normal exit');
    assert.equal(torn(out), false);
    const rows = readRows(out);
    assert.equal(rows.length, ROWS, log.join('; '));
    assert.deepEqual(byCell(rows), byCell(reference));
  });

  it('two writers started at once on one folder: one runs, the other is refused naming it, and readers are never blocked', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'kvlab-fault-cache-'));
    const work = mkdtempSync(join(tmpdir(), 'kvlab-fault-2-'));
    const file = join(work, 'exp.json');
    writeFileSync(file, JSON.stringify(experiment()));
    const out = join(work, 'out');
    // The pause keeps the winner writing for ~2 s longer than the loser needs to start and be refused.
    const a = startWriter(file, out, cache, PAUSE_MS);
    const b = startWriter(file, out, cache, PAUSE_MS);
    const first = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
    const winner = first === a ? b : a;
    assert.equal(await first.exited, 1, `the first to exit was refused: ${first.stdout}${first.stderr}`);
    assert.match(
      first.stderr,
      new RegExp(
        `^kvlab: results folder ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being written by pid ${winner.child.pid} on host \\S+ since \\d\\d:\\d\\d:\\d\\d \\(kvlab run ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --out .*\\); wait for it or stop it$`,
        'm',
      ),
    );
    // The winner is still writing: a reader reads what is complete without waiting or failing.
    assert.equal(winner.child.exitCode, null, 'the winner was still running when the loser gave up');
    const during = readRows(out);
    assert.ok(during.length < ROWS);
    assert.equal(await winner.exited, 0, winner.stderr);
    assert.equal(existsSync(join(out, LOCK_FILE)), false);
    const rows = readRows(out);
    assert.equal(rows.length, ROWS);
    assert.deepEqual(byCell(rows), byCell(await referenceRows()));
  });
});
