/**
 * The parent side of the engine child process: spawns it (through a
 * `Spawner`, so serve mode and the tests use child_process.fork while the
 * Electron shell passes one built on utilityProcess), correlates request ids
 * with replies, forwards events, and itself implements LabHandlers — the HTTP
 * server and the IPC layer call it exactly as they would call the service
 * in-process.
 *
 * If the child dies (a crash, an out-of-memory kill on a model too big),
 * every pending call is rejected with ApiError E_INTERNAL naming the method
 * and the exit; the next call starts a fresh child (runs on disk are listed
 * again; an interrupted run shows as cancelled and can be resumed), and
 * listeners get a models.changed event because the loaded engine is gone.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabEvent, LabHandlers, LabMethod } from '@kvlab/core';
import { ApiError, LAB_METHODS } from '@kvlab/core';
import type { InitPayload, Port } from './protocol.ts';
import { CLOSE, ENGINE_CHILD_ENV, INIT, isEventMessage, isReply } from './protocol.ts';

export { ENGINE_CHILD_ENV };

/** A started child: its message port, its end, and how to stop it hard. */
export interface ChildHandle {
  readonly port: Port;
  /** Calls `listener` once when the child is gone (exit, crash, failed start). */
  onExit(listener: (why: string) => void): void;
  kill(): void;
  readonly pid?: number | undefined;
}

export type Spawner = () => ChildHandle;

export interface EngineClient extends LabHandlers {
  /** Subscribes to engine events; returns the unsubscribe function. */
  onEvent(listener: (e: LabEvent) => void): () => void;
  /** Asks the child to stop (cancelling the running run), waits for it, kills it if it does not go. Further calls reject. */
  close(): Promise<void>;
  /** The current child's pid (undefined before the first call or after it died). */
  readonly pid: number | undefined;
}

export interface EngineClientOptions {
  /** What the child's LabService is created with. */
  readonly init: InitPayload;
  /** Default: forkSpawner(). */
  readonly spawn?: Spawner;
  /** How long close() waits for the child to finish the cell in flight before killing it (ms). Default 30 s. */
  readonly closeTimeoutMs?: number;
}

export const ENGINE_ENTRY = fileURLToPath(new URL('./engine-process.ts', import.meta.url));

/**
 * Spawns engine-process.ts with child_process.fork under tsx's loader (the
 * checkout runs TypeScript directly). The child's stdout goes to our stderr:
 * a serve process's stdout is the one line with its URL.
 */
export function forkSpawner(opts: { readonly entry?: string; readonly env?: NodeJS.ProcessEnv } = {}): Spawner {
  return () => {
    const child = fork(opts.entry ?? ENGINE_ENTRY, [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      env: { ...process.env, ...opts.env, [ENGINE_CHILD_ENV]: '1' },
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

interface Live {
  readonly handle: ChildHandle;
  readonly pending: Map<number, Pending>;
  /** The $init call: every request waits on it. */
  ready: Promise<unknown>;
  readonly exited: Promise<void>;
}

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function createEngineClient(opts: EngineClientOptions): EngineClient {
  const spawn = opts.spawn ?? forkSpawner();
  const listeners = new Set<(e: LabEvent) => void>();
  let live: Live | null = null;
  let nextId = 1;
  let closed = false;

  const broadcast = (e: LabEvent) => {
    for (const l of [...listeners]) {
      try {
        l(e);
      } catch {
        // one broken listener must not starve the others
      }
    }
  };

  const send = (l: Live, method: string, payload: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      l.pending.set(id, { method, resolve, reject });
      try {
        l.handle.port.postMessage({ id, method, payload });
      } catch (e) {
        l.pending.delete(id);
        reject(new ApiError('E_INTERNAL', `could not send '${method}' to the engine process: ${(e as Error).message}`));
      }
    });

  const start = (): Live => {
    const handle = spawn();
    const pending = new Map<number, Pending>();
    let markExited: () => void = () => undefined;
    const exited = new Promise<void>((r) => (markExited = r));
    handle.port.onMessage((m) => {
      if (isEventMessage(m)) return broadcast(m.event);
      if (!isReply(m)) return;
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(ApiError.fromJSON(m.error));
    });
    const l: Live = { handle, pending, ready: Promise.resolve(), exited };
    handle.onExit((why) => {
      if (live === l) live = null;
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new ApiError('E_INTERNAL', `the engine process ${why} while handling '${p.method}'`, { method: p.method, exit: why }));
      }
      markExited();
      // The loaded model went with it: windows refresh their model list.
      if (!closed) broadcast({ type: 'models.changed' });
    });
    l.ready = send(l, INIT, opts.init);
    l.ready.catch(() => undefined); // a failed init surfaces through the call that waits on it
    return l;
  };

  const call = async (method: LabMethod, payload: unknown): Promise<unknown> => {
    if (closed) throw new ApiError('E_CANCELLED', `'${method}': the engine client is closed`);
    live ??= start();
    const l = live;
    await l.ready;
    return send(l, method, payload);
  };

  const handlers = Object.fromEntries(LAB_METHODS.map((m) => [m, (input: unknown) => call(m, input)])) as unknown as LabHandlers;

  return {
    ...handlers,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get pid() {
      return live?.handle.pid;
    },
    async close() {
      if (closed) return;
      closed = true;
      const l = live;
      if (!l) return;
      const timeout = opts.closeTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, timeout)));
      // Ask nicely (the run in flight is cancelled and recorded), then make sure it is gone.
      await Promise.race([
        send(l, CLOSE, {}).then(
          () => l.exited,
          () => undefined,
        ),
        l.exited,
        late,
      ]);
      clearTimeout(timer);
      l.handle.kill();
      await Promise.race([l.exited, new Promise((r) => setTimeout(r, 2000))]);
      listeners.clear();
    },
  };
}
