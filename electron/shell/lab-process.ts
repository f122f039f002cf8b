/**
 * The lab process under Electron: a `Spawner` for electron/host's lab-process
 * client that starts the child with utilityProcess.fork instead of
 * child_process.fork. A utility process is Chromium-managed (it is listed in
 * the task manager, dies with the app, needs no separate Node binary) and,
 * like the fork in serve mode, keeps onnxruntime's blocking session.run off
 * the main process, so the window never freezes during a prefill.
 *
 * Written against a structural `fork` so the tests drive it with a fake
 * child under plain Node; main.ts passes utilityProcess.fork and the
 * compiler checks that it fits.
 */
import type { ChildHandle, Spawner } from '../host/lab-process-client.ts';

/** The part of Electron's UtilityProcess we use. */
export interface UtilityChildLike {
  readonly pid: number | undefined;
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  once(event: 'exit', listener: (code: number) => void): unknown;
  kill(): boolean;
}

export type UtilityFork = (
  modulePath: string,
  args: string[],
  options: { env: Record<string, string | undefined>; serviceName: string; stdio: 'inherit' },
) => UtilityChildLike;

export interface UtilitySpawnerOptions {
  /** The bundled lab process (dist/electron/lab-process.mjs). */
  readonly entry: string;
  /** The child's environment (it must include LAB_PROCESS_ENV, the flag that makes the bundle serve the lab). */
  readonly env: Record<string, string | undefined>;
}

export function utilitySpawner(fork: UtilityFork, opts: UtilitySpawnerOptions): Spawner {
  return (): ChildHandle => {
    const child = fork(opts.entry, [], { env: opts.env, serviceName: 'KV Lab process', stdio: 'inherit' });
    let exitReason: string | null = null;
    const exitListeners: ((why: string) => void)[] = [];
    child.once('exit', (code) => {
      exitReason = `exited with code ${code}`;
      for (const l of exitListeners.splice(0)) l(exitReason);
    });
    return {
      get pid() {
        return child.pid;
      },
      port: {
        postMessage: (m) => {
          if (exitReason === null) child.postMessage(m);
        },
        onMessage: (listener) => {
          const h = (m: unknown) => listener(m);
          child.on('message', h);
          return () => void child.off('message', h);
        },
      },
      onExit: (l) => {
        if (exitReason !== null) l('already exited');
        else exitListeners.push(l);
      },
      kill: () => {
        if (exitReason === null) child.kill();
      },
    };
  };
}
