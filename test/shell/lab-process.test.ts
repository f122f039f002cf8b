/**
 * The utilityProcess spawner (electron/shell/lab-process.ts) with a fake
 * utility process: messages go both ways through the Port, exit is reported
 * once (also to late listeners), nothing is posted to or killed in a dead
 * child — and the lab-process client from electron/host runs its whole protocol
 * over it against the REAL lab process, forked with child_process (the
 * nearest thing to utilityProcess.fork available without Electron).
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultModelPath } from '../../electron/host/default-model.ts';
import { createLabProcessClient, LAB_PROCESS_ENTRY } from '../../electron/host/lab-process-client.ts';
import { LAB_PROCESS_ENV } from '../../electron/host/protocol.ts';
import type { UtilityChildLike, UtilityFork } from '../../electron/shell/lab-process.ts';
import { utilitySpawner } from '../../electron/shell/lab-process.ts';

class FakeUtilityProcess extends EventEmitter implements UtilityChildLike {
  pid: number | undefined = 4242;
  readonly posted: unknown[] = [];
  kills = 0;
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  kill(): boolean {
    this.kills++;
    return true;
  }
}

describe('utilitySpawner', () => {
  it('forks the entry with the env and a service name, and adapts the port', () => {
    const forks: { path: string; opts: unknown }[] = [];
    const child = new FakeUtilityProcess();
    const spawner = utilitySpawner(
      (path, _args, opts) => {
        forks.push({ path, opts });
        return child;
      },
      { entry: '/app/dist/electron/lab-process.mjs', env: { [LAB_PROCESS_ENV]: '1' } },
    );
    const h = spawner();
    assert.deepEqual(forks, [
      { path: '/app/dist/electron/lab-process.mjs', opts: { env: { [LAB_PROCESS_ENV]: '1' }, serviceName: 'KV Lab process', stdio: 'inherit' } },
    ]);
    assert.equal(h.pid, 4242);
    h.port.postMessage({ id: 1 });
    assert.deepEqual(child.posted, [{ id: 1 }]);
    const got: unknown[] = [];
    const off = h.port.onMessage((m) => got.push(m));
    child.emit('message', { id: 1, ok: true, result: null });
    off();
    child.emit('message', { id: 2 });
    assert.deepEqual(got, [{ id: 1, ok: true, result: null }]);
  });

  it('reports the exit once, to early and late listeners, and then stops posting and killing', () => {
    const child = new FakeUtilityProcess();
    const h = utilitySpawner(() => child, { entry: 'e', env: {} })();
    const whys: string[] = [];
    h.onExit((w) => whys.push(`early: ${w}`));
    h.kill();
    assert.equal(child.kills, 1);
    child.emit('exit', 3);
    child.emit('exit', 3);
    h.onExit((w) => whys.push(`late: ${w}`));
    assert.deepEqual(whys, ['early: exited with code 3', 'late: already exited']);
    h.port.postMessage({ id: 9 });
    h.kill();
    assert.deepEqual(child.posted, []);
    assert.equal(child.kills, 1);
  });

  it('carries the lab-process client protocol to the real lab process', async () => {
    // A stand-in for utilityProcess.fork: child_process.fork with the message/exit surface utilityProcess has.
    const nodeFork: UtilityFork = (path, args, opts) => {
      const cp = fork(path, args, { env: opts.env, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const child = new FakeUtilityProcess();
      child.pid = cp.pid;
      child.postMessage = (m) => void (cp.connected && cp.send(m as never));
      child.kill = () => cp.kill();
      cp.on('message', (m) => child.emit('message', m));
      cp.once('exit', (code) => child.emit('exit', code ?? 1));
      return child;
    };
    const client = createLabProcessClient({
      init: { resultsDir: mkdtempSync(join(tmpdir(), 'kvlab-shell-lab-')), defaultModel: defaultModelPath(), mode: 'electron' },
      spawn: utilitySpawner(nodeFork, { entry: LAB_PROCESS_ENTRY, env: { ...process.env, [LAB_PROCESS_ENV]: '1' } }),
      closeTimeoutMs: 10_000,
    });
    try {
      const info = await client.getAppInfo({});
      assert.equal(info.mode, 'electron');
      const models = await client.listModels({});
      assert.equal(models.length, 1);
      assert.ok(typeof client.pid === 'number');
    } finally {
      await client.close();
    }
  });
});
