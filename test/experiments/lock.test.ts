/**
 * The single-writer lock of a results folder (electron/experiments/lock.ts)
 * on real files and real processes: a live holder refuses a second writer
 * with its pid, host, time and command; dead holders (a pid that is gone,
 * another boot, a heartbeat from another host that stopped) are taken over;
 * many processes taking over one stale lock at once end with exactly one
 * holder; the heartbeat beats.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_STALE_MS, LOCK_FILE, LockError, lockHolderOf, WriterLock } from '../../electron/experiments/lock.ts';
import type { LockHolder } from '../../electron/experiments/lock.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'kvlab-lock-'));
const LOCK_TS = join(import.meta.dirname, '../../electron/experiments/lock.ts');

/** A pid that existed and has exited (so no process has it, barring an unlikely reuse within the test). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** This process's pid namespace, as lock.ts reads it ('' without /proc). */
const PID_NS = (() => {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
})();
const LINUX = PID_NS !== '';

function writeLock(dir: string, h: Partial<LockHolder>): void {
  const full: LockHolder = {
    pid: 1,
    host: hostname(),
    bootId: '',
    pidNamespace: PID_NS,
    startTime: '',
    heartbeatMs: 30_000,
    since: new Date().toISOString(),
    command: 'kvlab run old.json',
    token: 'old',
    ...h,
  };
  writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(full)}\n`);
}

function backdate(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

describe('results folder lock', () => {
  it('refuses a second writer at once, naming pid, host, since and command; release lets the next one in', () => {
    const dir = fresh();
    const a = WriterLock.acquire(dir, { command: 'kvlab run sweep.json' });
    assert.throws(
      () => WriterLock.acquire(dir),
      (e: unknown) =>
        e instanceof LockError &&
        e.holder?.pid === process.pid &&
        new RegExp(
          `^results folder ${dir} is being written by pid ${process.pid} on host ${hostname()} since \\d\\d:\\d\\d:\\d\\d \\(kvlab run sweep\\.json\\); wait for it or stop it$`,
        ).test(e.message),
    );
    assert.equal(lockHolderOf(dir)?.command, 'kvlab run sweep.json', 'readers can say who writes');
    a.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    a.release(); // idempotent
    const b = WriterLock.acquire(dir);
    b.assertHeld();
    b.release();
    assert.throws(() => b.assertHeld(), LockError, 'a released lock is not held');
  });

  it('takes over a lock whose holder on this host has died', () => {
    const dir = fresh();
    writeLock(dir, { pid: deadPid() });
    const l = WriterLock.acquire(dir);
    assert.equal(lockHolderOf(dir)?.pid, process.pid);
    l.release();
  });

  it('takes over a lock from an earlier boot of this host even if its pid is alive now', () => {
    const dir = fresh();
    // Our own parent's pid is certainly alive; only the boot id tells that the lock predates a reboot.
    writeLock(dir, { pid: process.ppid, bootId: 'an-earlier-boot' });
    const bootId = existsSync('/proc/sys/kernel/random/boot_id');
    if (bootId) {
      WriterLock.acquire(dir).release();
    } else {
      // Without a boot id (not Linux) a live pid is trusted: the lock stays.
      assert.throws(() => WriterLock.acquire(dir), LockError);
    }
  });

  it('takes over a lock whose pid now names another process (pid reuse, also our own pid from an earlier life)', { skip: !LINUX && 'needs /proc' }, () => {
    for (const pid of [process.ppid, process.pid]) {
      const dir = fresh();
      writeLock(dir, { pid, startTime: '1' });
      WriterLock.acquire(dir).release();
    }
  });

  it('another pid namespace on this host (a container): the heartbeat decides, stale after 3 periods', { skip: !LINUX && 'needs /proc' }, () => {
    const dir = fresh();
    // pid 1 exists in every namespace; in another one it is not the holder's pid 1, so only the heartbeat counts.
    writeLock(dir, { pid: 1, pidNamespace: 'pid:[1]' });
    assert.throws(() => WriterLock.acquire(dir), LockError);
    backdate(join(dir, LOCK_FILE), 80_000);
    assert.throws(() => WriterLock.acquire(dir), LockError, '80 s < 3 × 30 s');
    backdate(join(dir, LOCK_FILE), 100_000);
    WriterLock.acquire(dir).release();
  });

  it('keeps a live holder on this host however old its heartbeat (a long native call may block it)', () => {
    const dir = fresh();
    writeLock(dir, { pid: process.ppid });
    backdate(join(dir, LOCK_FILE), 2 * DEFAULT_STALE_MS);
    assert.throws(
      () => WriterLock.acquire(dir),
      (e: unknown) => e instanceof LockError && e.holder?.pid === process.ppid,
    );
  });

  it('another host: refused while its heartbeat is fresh, taken over once it is older than the stale period', () => {
    const dir = fresh();
    writeLock(dir, { pid: 4242, host: 'node17.cluster' });
    assert.throws(
      () => WriterLock.acquire(dir),
      (e: unknown) => e instanceof LockError && /by pid 4242 on host node17\.cluster since/.test(e.message),
    );
    backdate(join(dir, LOCK_FILE), DEFAULT_STALE_MS - 60_000);
    assert.throws(() => WriterLock.acquire(dir), LockError, 'nine minutes without a beat is not yet stale');
    backdate(join(dir, LOCK_FILE), DEFAULT_STALE_MS + 60_000);
    const l = WriterLock.acquire(dir);
    assert.equal(lockHolderOf(dir)?.host, hostname());
    l.release();
  });

  it('an empty lock file (its creator between create and write) is held until it is older than the stale period', () => {
    const dir = fresh();
    writeFileSync(join(dir, LOCK_FILE), '');
    assert.throws(
      () => WriterLock.acquire(dir),
      (e: unknown) => e instanceof LockError && e.holder === undefined && /another process/.test(e.message),
    );
    backdate(join(dir, LOCK_FILE), DEFAULT_STALE_MS + 1000);
    WriterLock.acquire(dir).release();
  });

  it('the heartbeat touches the lock while held, from a worker thread that beats while the main thread is blocked', async () => {
    const dir = fresh();
    const l = WriterLock.acquire(dir, { heartbeatMs: 50 });
    const path = join(dir, LOCK_FILE);
    backdate(path, 60_000);
    // Block this thread (as a long onnxruntime call does): only the worker can touch the file meanwhile.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
    const age = Date.now() - statSync(path).mtimeMs;
    assert.ok(age < 5_000, `mtime refreshed while the main thread was blocked (age ${age} ms)`);
    l.release();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(path), false, 'the heartbeat does not recreate a released lock');
  });

  it('a holder whose lock was taken over stops (assertHeld) and its release leaves the new lock alone', () => {
    const dir = fresh();
    const l = WriterLock.acquire(dir);
    writeLock(dir, { pid: 4242, host: 'node17.cluster', token: 'theirs' });
    assert.throws(
      () => l.assertHeld(),
      (e: unknown) => e instanceof LockError && /taken over \(now pid 4242 on host node17\.cluster/.test(e.message),
    );
    l.release();
    assert.equal(lockHolderOf(dir)?.token, 'theirs');
  });

  it('eight processes taking over one stale lock at once: exactly one gets it', async () => {
    const dir = fresh();
    writeLock(dir, { pid: deadPid() });
    const go = join(dir, 'go');
    // Each child says it is ready, then polls (1 ms naps) for the start file, so all judge the stale lock within a
    // millisecond or so of each other; the winner holds the lock until every child has tried.
    const script = `
      import { existsSync } from 'node:fs';
      import { WriterLock, LockError } from ${JSON.stringify(LOCK_TS)};
      process.stdout.write('ready;');
      const nap = new Int32Array(new SharedArrayBuffer(4));
      while (!existsSync(${JSON.stringify(go)})) Atomics.wait(nap, 0, 0, 1);
      try {
        const l = WriterLock.acquire(${JSON.stringify(dir)});
        process.stdout.write('got');
        setTimeout(() => l.release(), 1500);
      } catch (e) {
        if (!(e instanceof LockError)) throw e;
        process.stdout.write('refused');
      }
    `;
    const children = Array.from({ length: 8 }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    const outs = children.map(() => '');
    const ready = children.map((c, i) => new Promise<void>((resolve) => c.stdout.on('data', (d: Buffer) => ((outs[i] += d.toString()), resolve()))));
    const exits = children.map(
      (c) => new Promise<void>((resolve, reject) => c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))))),
    );
    await Promise.all(ready);
    writeFileSync(go, '');
    await Promise.all(exits);
    const results = outs.map((o) => o.replace('ready;', ''));
    assert.equal(results.filter((r) => r === 'got').length, 1, `one winner: ${results.join(', ')}`);
    assert.equal(results.filter((r) => r === 'refused').length, 7);
    assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the winner released it');
    assert.equal(existsSync(join(dir, `${LOCK_FILE}.takeover`)), false, 'no takeover file left behind');
  });
});
