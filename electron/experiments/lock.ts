/**
 * One writer per results folder. Two processes appending to one results.jsonl
 * (two `kvlab run --out DIR`, or the app and the CLI) interleave and overwrite
 * each other's rows — the store writes at its own idea of the file's end — and
 * the log is corrupt for good. So every writer (ResultsStore.open) first takes
 * `<dir>/writer.lock`; a second writer is refused at once with a LockError
 * naming the holder. Readers (reports, the app's views, merge's inputs) never
 * look at the lock.
 *
 * The lock file is created atomically with its content (a hard link of a
 * file already written, which like O_EXCL is atomic on local file systems and
 * on NFSv3+: of two processes creating it at once exactly one succeeds). It holds who took it (pid, host, boot id, pid namespace, process
 * start time, since when, the command, its heartbeat period) and a random
 * token that tells this holding apart from any later one.
 *
 * A holder that died without releasing (SIGKILL, power loss) leaves the file
 * behind; such a lock is STALE and the next writer takes it over:
 *   - same host, same boot and same pid namespace: stale iff the holder's
 *     pid no longer exists, or now names a process that started at another
 *     time (pid reuse; Linux /proc/<pid>/stat). A live holder is trusted
 *     however long it has been silent: a single onnxruntime call can block
 *     its JS thread for minutes;
 *   - same host, another boot (Linux boot id differs): stale — every process
 *     of that boot is gone, and its pid may now belong to someone else;
 *   - same host and boot, another pid namespace (containers sharing the
 *     host's name, a restarted pod): its pids mean nothing here, so the
 *     heartbeat decides as below, but on one clock: stale after 3 of the
 *     holder's heartbeat periods (90 s by default);
 *   - another host (a shared network folder): we cannot see its processes, so
 *     the holder HEARTBEATS — a worker thread touches the file's mtime every
 *     HEARTBEAT_MS, on its own event loop so that a main thread blocked in
 *     inference still beats — and a lock whose mtime is older than staleMs
 *     (10 minutes by default: generous against clock skew between hosts and
 *     slow network file systems) is stale.
 *
 * Taking over is where two processes can race: A and B both judge the lock
 * stale; A removes it and creates its own; B, acting on its earlier judgement,
 * removes A's fresh lock and creates its own — two writers. So a takeover is
 * done under a second, short-lived O_EXCL file, `writer.lock.takeover`: the
 * taker creates it, RE-READS the lock and removes it only if it still holds
 * the very token judged stale, then creates its own lock with O_EXCL and
 * drops the takeover file. Only takers remove a lock file they do not own,
 * and they do it one at a time after re-checking; a plain writer only ever
 * creates with O_EXCL, so if it slips in between the removal and the taker's
 * create, the taker's create fails and the taker is refused like any second
 * writer. Exactly one process ends up holding the lock.
 *
 * The takeover file can itself be left behind by a taker killed inside that
 * critical section (a few system calls); one older than TAKEOVER_STALE_MS is
 * removed. Two processes removing the same abandoned takeover file at once
 * could still both proceed — that needs a taker killed within microseconds and
 * two new writers arriving within microseconds of each other a minute later;
 * we accept that rather than add a third file.
 *
 * A holder also checks, before each row it appends, that the lock still holds
 * its token (assertHeld): a writer that was wrongly judged stale (a host cut
 * off from the network for longer than staleMs) stops instead of writing into
 * a folder someone else now writes.
 */
import { LabError } from '@kvlab/core';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';

export const LOCK_FILE = 'writer.lock';
const TAKEOVER_FILE = `${LOCK_FILE}.takeover`;
/** How often the holder touches the lock file. */
export const HEARTBEAT_MS = 30_000;
/** A lock from another host not touched for this long is stale. */
export const DEFAULT_STALE_MS = 10 * 60_000;
/** A takeover file older than this was left by a taker that died mid-takeover. */
const TAKEOVER_STALE_MS = 60_000;

/** Who holds a results folder, as written in its lock file. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** Linux's boot id (empty elsewhere): a pid means nothing across reboots. */
  readonly bootId: string;
  /** Linux's pid namespace (`pid:[…]`, empty elsewhere): a pid means nothing in another container. */
  readonly pidNamespace: string;
  /** The holder's start time in clock ticks since boot (Linux, empty elsewhere): tells a reused pid apart. */
  readonly startTime: string;
  /** The holder's heartbeat period in ms. */
  readonly heartbeatMs: number;
  /** ISO date the lock was taken. */
  readonly since: string;
  /** What is writing: `kvlab run x.json`, `KV Lab app (run …)`. */
  readonly command: string;
  readonly token: string;
}

/** The folder is being written by another live process. */
export class LockError extends LabError {
  readonly code = 'E_LOCKED' as const;
  // Another process writes the run's folder (a `kvlab run --out` on it): busy, with who holds it so the UI can say.
  readonly apiCode = 'E_BUSY' as const;
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | undefined,
    detail?: string,
  ) {
    super(detail ?? `results folder ${dir} is being written by ${describeHolder(holder)}; wait for it or stop it`);
    this.name = 'LockError';
  }
  override get apiDetails(): { file: string; holder: LockHolder | undefined } {
    return { file: this.dir, holder: this.holder };
  }
}

export interface LockOptions {
  /** What this writer is, for the message a second writer gets (default: this process's command line). */
  readonly command?: string;
  /** A lock from another host whose heartbeat is older than this is stale (default DEFAULT_STALE_MS). */
  readonly staleMs?: number;
  /** How often the heartbeat touches the lock (default HEARTBEAT_MS; tests shorten it). */
  readonly heartbeatMs?: number;
}

/** A held lock on one results folder; release() it when done (close() of the store does). */
export class WriterLock {
  private released = false;
  private readonly worker: Worker | undefined;

  private constructor(
    readonly dir: string,
    readonly holder: LockHolder,
    heartbeatMs: number,
  ) {
    this.worker = startHeartbeat(this.path, holder.token, heartbeatMs);
    remember(this);
  }

  get path(): string {
    return join(this.dir, LOCK_FILE);
  }

  /**
   * Takes the lock on `dir` (which must exist), taking over a stale one.
   * Throws LockError naming the holder when a live process holds it.
   */
  static acquire(dir: string, opts: LockOptions = {}): WriterLock {
    const path = join(dir, LOCK_FILE);
    const me: LockHolder = {
      pid: process.pid,
      host: hostname(),
      bootId: bootId(),
      pidNamespace: pidNamespace(),
      startTime: startTimeOf(process.pid),
      heartbeatMs: opts.heartbeatMs ?? HEARTBEAT_MS,
      since: new Date().toISOString(),
      command: opts.command ?? defaultCommand(),
      token: randomBytes(12).toString('hex'),
    };
    if (tryCreate(path, me)) return new WriterLock(dir, me, opts.heartbeatMs ?? HEARTBEAT_MS);
    const current = readLock(path);
    if (current === 'gone') {
      // Released between our create and our read: try once more (a third process may win; then it is named).
      if (tryCreate(path, me)) return new WriterLock(dir, me, opts.heartbeatMs ?? HEARTBEAT_MS);
      throw new LockError(dir, lockHolder(readLock(path)));
    }
    if (!isStale(current, path, opts.staleMs ?? DEFAULT_STALE_MS)) throw new LockError(dir, lockHolder(current));
    takeOver(dir, path, current, me);
    return new WriterLock(dir, me, opts.heartbeatMs ?? HEARTBEAT_MS);
  }

  /** Throws LockError if the lock file no longer holds this holder's token (another writer took the folder over). */
  assertHeld(): void {
    const current = this.released ? 'gone' : readLock(this.path);
    if (current === 'gone' || current === 'unreadable' || current.token !== this.holder.token) {
      throw new LockError(
        this.dir,
        lockHolder(current),
        `results folder ${this.dir}: this writer's lock was ${this.released ? 'released' : `taken over (now ${describeHolder(lockHolder(current))})`}; stopping so the two do not mix rows`,
      );
    }
  }

  /** Stops the heartbeat and removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    void this.worker?.terminate();
    const current = readLock(this.path);
    if (current !== 'gone' && current !== 'unreadable' && current.token === this.holder.token) rmSync(this.path, { force: true });
  }
}

/** Locks held by this process, released if it exits without closing them (process.exit after a second Ctrl-C). */
const held = new Set<WriterLock>();
let exitHook = false;
function remember(lock: WriterLock): void {
  held.add(lock);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const l of [...held]) l.release();
  });
}

/** The holder named by a results folder's lock file, or undefined when none (for readers that want to say "being written"). */
export function lockHolderOf(dir: string): LockHolder | undefined {
  return lockHolder(readLock(join(dir, LOCK_FILE)));
}

export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another process (its lock file is being written or unreadable)';
  return `pid ${h.pid} on host ${h.host} since ${formatSince(h.since)} (${h.command})`;
}

function formatSince(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || 'an unknown time';
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return new Date().toDateString() === d.toDateString() ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

function defaultCommand(): string {
  const args = process.argv.slice(1).map((a, i) => (i === 0 ? basename(a, '.mjs') : a));
  const text = args.join(' ');
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

let cachedBootId: string | undefined;
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

/**
 * Creates the lock file holding our record, atomically: false if it exists.
 * The record is written to a file of our own first and then hard-linked to
 * the lock's name — link(2) fails if the name exists, as O_EXCL does — so the
 * lock file never exists without its record: a writer killed at any moment
 * leaves either no lock or a complete one naming it. (Creating with O_EXCL and
 * then writing leaves an empty lock when killed in between, which only age can
 * judge stale.) Where hard links are not supported (FAT, exFAT), O_EXCL then
 * write.
 */
function tryCreate(path: string, me: LockHolder): boolean {
  const record = `${JSON.stringify(me)}\n`;
  const own = `${path}.${me.pid}.${me.token}.tmp`;
  writeFileSync(own, record);
  fsyncFile(own);
  try {
    linkSync(own, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
  } finally {
    rmSync(own, { force: true });
  }
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    // Between the create and this write the file is empty; readers of an empty lock treat it as held (see isStale).
    writeSync(fd, record);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

type LockRead = (LockHolder & { readonly mtimeMs: number }) | 'gone' | 'unreadable';

function readLock(path: string): LockRead {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  try {
    const p = JSON.parse(text) as Partial<LockHolder>;
    if (typeof p.pid !== 'number' || typeof p.token !== 'string') return 'unreadable';
    return {
      pid: p.pid,
      host: String(p.host ?? ''),
      bootId: String(p.bootId ?? ''),
      pidNamespace: String(p.pidNamespace ?? ''),
      startTime: String(p.startTime ?? ''),
      heartbeatMs: typeof p.heartbeatMs === 'number' && p.heartbeatMs > 0 ? p.heartbeatMs : HEARTBEAT_MS,
      since: String(p.since ?? ''),
      command: String(p.command ?? ''),
      token: p.token,
      mtimeMs,
    };
  } catch {
    return 'unreadable';
  }
}

function lockHolder(r: LockRead): LockHolder | undefined {
  if (r === 'gone' || r === 'unreadable') return undefined;
  const { mtimeMs: _, ...h } = r;
  return h;
}

function isStale(current: LockRead, path: string, staleMs: number): boolean {
  if (current === 'gone') return false;
  if (current === 'unreadable') {
    // An empty or garbled lock: its creator is between create and write, or died there. Only age tells.
    const m = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
    return m !== undefined && Date.now() - m > staleMs;
  }
  if (current.host === hostname()) {
    if (current.bootId && bootId() && current.bootId !== bootId()) return true;
    if (current.pidNamespace === pidNamespace()) return !holderAlive(current);
    return Date.now() - current.mtimeMs > 3 * current.heartbeatMs;
  }
  return Date.now() - current.mtimeMs > staleMs;
}

function holderAlive(h: LockHolder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid exists; is it still the holder? (Also a lock naming our own pid from an earlier life of this pid.)
  const now = startTimeOf(h.pid);
  return !h.startTime || !now || now === h.startTime;
}

/** Field 22 of /proc/<pid>/stat (start time, ticks since boot); '' where there is no /proc. */
function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

let cachedPidNamespace: string | undefined;
function pidNamespace(): string {
  if (cachedPidNamespace === undefined) {
    try {
      cachedPidNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      cachedPidNamespace = '';
    }
  }
  return cachedPidNamespace;
}

/** Replaces the stale lock `judged` by ours, under the takeover file (see the header for the race this closes). */
function takeOver(dir: string, path: string, judged: LockRead, me: LockHolder): void {
  const tpath = join(dir, TAKEOVER_FILE);
  let fd: number;
  try {
    fd = openSync(tpath, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const m = statSync(tpath, { throwIfNoEntry: false })?.mtimeMs;
    if (m !== undefined && Date.now() - m > TAKEOVER_STALE_MS) rmSync(tpath, { force: true });
    // Another process is taking over right now (or one died doing it; removed above for the next try).
    throw new LockError(dir, lockHolder(readLock(path)), `results folder ${dir} is being taken over by another writer right now; try again`);
  }
  try {
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    const now = readLock(path);
    const same = now !== 'gone' && now !== 'unreadable' && judged !== 'gone' && judged !== 'unreadable' && now.token === judged.token;
    const sameUnreadable = now === 'unreadable' && judged === 'unreadable';
    if (now !== 'gone') {
      // Still the lock we judged stale? Then nobody else can have replaced it: only takers remove locks, and we are the only taker.
      if (!same && !sameUnreadable) throw new LockError(dir, lockHolder(now));
      // force: should it vanish meanwhile (its holder was alive after all and released it), the O_EXCL create decides.
      rmSync(path, { force: true });
    }
    if (!tryCreate(path, me)) throw new LockError(dir, lockHolder(readLock(path)));
  } finally {
    rmSync(tpath, { force: true });
  }
}

/**
 * The heartbeat: a worker thread (its own event loop, so it beats while the
 * main thread is blocked in a long native inference call) that touches the
 * lock file's mtime every HEARTBEAT_MS, while the file still holds our token.
 * Plain JS evaluated in the worker: no loader or file needed, also inside a
 * packaged app.
 */
function startHeartbeat(path: string, token: string, ms: number): Worker | undefined {
  const code = `
    const { readFileSync, utimesSync } = require('node:fs');
    const { workerData } = require('node:worker_threads');
    setInterval(() => {
      try {
        if (JSON.parse(readFileSync(workerData.path, 'utf8')).token !== workerData.token) process.exit(0);
        const now = new Date();
        utimesSync(workerData.path, now, now);
      } catch {
        process.exit(0);
      }
    }, workerData.ms);
  `;
  try {
    // execArgv [] : the worker needs no loader (tsx under tests), only node:fs.
    const w = new Worker(code, { eval: true, execArgv: [], workerData: { path, token, ms } });
    // Never keeps the process alive, and a failing heartbeat is not a failing run: the pid check still covers this host.
    w.unref();
    w.on('error', () => undefined);
    return w;
  } catch {
    return undefined;
  }
}
