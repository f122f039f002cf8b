/**
 * The parent side of the lab process (the child process that runs the lab
 * service and its inference engine): spawns it (through a `Spawner`, so serve
 * mode and the tests use child_process.fork while the Electron shell passes
 * one built on utilityProcess), correlates request ids with replies, forwards
 * events, and itself implements LabHandlers — the HTTP server and the IPC
 * layer call it exactly as they would call the service in-process.
 *
 * If the lab process dies (a crash, an out-of-memory kill on a model too
 * big), every pending call is rejected with ApiError E_INTERNAL naming the
 * method and the exit; the next call starts a fresh one (runs on disk are
 * listed again; an interrupted run shows as cancelled and can be resumed),
 * and listeners get a models.changed event because the loaded engine is gone.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabEvent, LabHandlers, LabCall } from '@kvlab/core';
import { ApiError, LAB_CALLS } from '@kvlab/core';
import type { InitPayload, Port } from './protocol.ts';
import { CLOSE, INIT, isEventMessage, isReply, LAB_PROCESS_ENV } from './protocol.ts';

export { LAB_PROCESS_ENV };

/** A started child: its message port, its end, and how to stop it hard. */
export interface ChildHandle {
  readonly port: Port;
  /** Calls `listener` once when the child is gone (exit, crash, failed start). */
  onExit(listener: (why: string) => void): void;
  kill(): void;
  readonly pid?: number | undefined;
}

export type Spawner = () => ChildHandle;

export interface LabProcessClient extends LabHandlers {
  /** Subscribes to the lab's events; returns the unsubscribe function. */
  onEvent(listener: (e: LabEvent) => void): () => void;
  /** Asks the child to stop (cancelling the running run), waits for it, kills it if it does not go. Further calls reject. */
  close(): Promise<void>;
  /** The current child's pid (undefined before the first call or after it died). */
  readonly pid: number | undefined;
}

export interface LabProcessClientOptions {
  /** What the child's LabService is created with. */
  readonly init: InitPayload;
  /** Default: forkSpawner(). */
  readonly spawn?: Spawner;
  /** How long close() waits for the child to finish the cell in flight before killing it (ms). Default 30 s. */
  readonly closeTimeoutMs?: number;
}

export const LAB_PROCESS_ENTRY = fileURLToPath(new URL('./lab-process.ts', import.meta.url));

/**
 * Spawns lab-process.ts with child_process.fork under tsx's loader (the
 * checkout runs TypeScript directly). The child's stdout goes to our stderr:
 * a serve process's stdout is the one line with its URL.
 */
export function forkSpawner(opts: { readonly entry?: string; readonly env?: NodeJS.ProcessEnv } = {}): Spawner {
  return () => {
    const child = fork(opts.entry ?? LAB_PROCESS_ENTRY, [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      env: { ...process.env, ...opts.env, [LAB_PROCESS_ENV]: '1' },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    child.stdout?.pipe(process.stderr);
    let exited = false;
    const exitListeners: ((why: string) => void)[] = [];
    const fire = (why: string) => {
      if (exited) return;
      exited = true;
      for (const l of exitListeners) l(why);
    };
    child.once('exit', (code, signal) => fire(signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.once('error', (e) => fire(`failed: ${e.message}`));
    return {
      pid: child.pid,
      port: {
        postMessage: (m) => {
          if (child.connected) child.send(m as never);
        },
        onMessage: (listener) => {
          child.on('message', listener);
          return () => child.off('message', listener);
        },
      },
      onExit: (l) => {
        if (exited) l('already exited');
        else exitListeners.push(l);
      },
      kill: () => {
        if (!exited) child.kill('SIGKILL');
      },
    };
  };
}

interface Pending {
  readonly method: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: ApiError) => void;
}

/** One started lab process: its handle, the calls awaiting a reply, and its end. */
interface Live {
  readonly handle: ChildHandle;
  readonly pending: Map<number, Pending>;
  /** The $init call: every request waits on it. */
  ready: Promise<unknown>;
  readonly exited: Promise<void>;
}

/** Listeners of the lab's events; one that throws does not starve the others. */
class Listeners {
  private readonly set = new Set<(e: LabEvent) => void>();

  add(listener: (e: LabEvent) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  broadcast(e: LabEvent): void {
    for (const l of [...this.set]) {
      try {
        l(e);
      } catch {
        // one broken listener must not starve the others
      }
    }
  }

  clear(): void {
    this.set.clear();
  }
}

/** The connection to the current lab process, started on the first call and again after it died. */
class Connection {
  private live: Live | null = null;
  private nextId = 1;
  closed = false;

  constructor(
    private readonly opts: LabProcessClientOptions,
    private readonly spawn: Spawner,
    private readonly listeners: Listeners,
  ) {}

  get pid(): number | undefined {
    return this.live?.handle.pid;
  }

  async call(method: LabCall, payload: unknown): Promise<unknown> {
    if (this.closed) throw new ApiError('E_CANCELLED', `'${method}': the lab process client is closed`);
    this.live ??= this.start();
    const l = this.live;
    await l.ready;
    return this.send(l, method, payload);
  }

  /** Asks the lab process to stop (the run in flight is cancelled and recorded), then makes sure it is gone. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const l = this.live;
    if (!l) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, this.opts.closeTimeoutMs ?? 30_000)));
    const asked = this.send(l, CLOSE, {}).then(
      () => l.exited,
      () => undefined,
    );
    await Promise.race([asked, l.exited, late]);
    clearTimeout(timer);
    l.handle.kill();
    await Promise.race([l.exited, new Promise((r) => setTimeout(r, 2000))]);
    this.listeners.clear();
  }

  private send(l: Live, method: string, payload: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      l.pending.set(id, { method, resolve, reject });
      try {
        l.handle.port.postMessage({ id, method, payload });
      } catch (e) {
        l.pending.delete(id);
        reject(new ApiError('E_INTERNAL', `could not send '${method}' to the lab process: ${(e as Error).message}`));
      }
    });
  }

  private start(): Live {
    const handle = this.spawn();
    const pending = new Map<number, Pending>();
    let markExited: () => void = () => undefined;
    const exited = new Promise<void>((r) => (markExited = r));
    handle.port.onMessage((m) => this.receive(pending, m));
    const l: Live = { handle, pending, ready: Promise.resolve(), exited };
    handle.onExit((why) => {
      this.onExit(l, why);
      markExited();
    });
    l.ready = this.send(l, INIT, this.opts.init);
    l.ready.catch(() => undefined); // a failed init surfaces through the call that waits on it
    return l;
  }

  private receive(pending: Map<number, Pending>, m: unknown): void {
    if (isEventMessage(m)) return this.listeners.broadcast(m.event);
    if (!isReply(m)) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(ApiError.fromJSON(m.error));
  }

  private onExit(l: Live, why: string): void {
    if (this.live === l) this.live = null;
    for (const [id, p] of l.pending) {
      l.pending.delete(id);
      p.reject(new ApiError('E_INTERNAL', `the lab process ${why} while handling '${p.method}'`, { method: p.method, exit: why }));
    }
    // The loaded model went with it: windows refresh their model list.
    if (!this.closed) this.listeners.broadcast({ type: 'models.changed' });
  }
}

export function createLabProcessClient(opts: LabProcessClientOptions): LabProcessClient {
  const listeners = new Listeners();
  const connection = new Connection(opts, opts.spawn ?? forkSpawner(), listeners);
  const handlers = Object.fromEntries(LAB_CALLS.map((m) => [m, (input: unknown) => connection.call(m, input)])) as unknown as LabHandlers;
  return {
    ...handlers,
    onEvent: (listener) => listeners.add(listener),
    get pid() {
      return connection.pid;
    },
    close: () => connection.close(),
  };
}
