/**
 * utilityProcess.fork's stand-in for tests: child_process.fork of a bundle under plain Node (no tsx),
 * with the utility-process surface `electron/shell/lab-process.ts` expects. Every child is pushed onto
 * `children`, so the test can kill what is left in its `after`.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { UtilityChildLike, UtilityFork } from '../../electron/shell/lab-process.ts';

export function nodeForkSpawner(children: ChildProcess[], cwd?: string): UtilityFork {
  return (path, args, opts) => {
    const cp = fork(path, args, {
      ...(cwd ? { cwd } : {}),
      env: opts.env,
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(cp);
    const child = new EventEmitter() as EventEmitter & UtilityChildLike & { pid: number | undefined };
    child.pid = cp.pid;
    child.postMessage = (m: unknown) => void (cp.connected && cp.send(m as never));
    child.kill = () => cp.kill();
    cp.on('message', (m) => child.emit('message', m));
    cp.once('exit', (code) => child.emit('exit', code ?? 1));
    return child;
  };
}
