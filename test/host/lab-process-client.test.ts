/**
 * The lab process round trip (child_process.fork of
 * electron/host/lab-process.ts under tsx, the real engine on stories260K):
 * calls and their ApiErrors cross the process boundary intact, events are
 * forwarded, a child that dies rejects every pending call with ApiError and
 * the next call starts a fresh one, and close() stops it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabEvent, LabHandlers } from '@kvlab/core';
import { ApiError, parseInput } from '@kvlab/core';
import type { LabProcessClient } from '../../electron/host/lab-process-client.ts';
import { createLabProcessClient } from '../../electron/host/lab-process-client.ts';
import { modelIdFor } from '../../electron/host/service.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';

const MODEL = () => sharedPath('models/stories260K/stories260K.gguf');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('lab process client ↔ lab process', () => {
  let client: LabProcessClient;
  let dir: string;
  const events: LabEvent[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-client-'));
    client = createLabProcessClient({ init: { resultsDir: join(dir, 'runs'), defaultModel: MODEL(), cacheDir: testCacheDir(), settings: { threads: 1 } } });
    client.onEvent((e) => events.push(e));
  });
  after(() => client.close());

  it('answers calls from the child, with errors as ApiErrors and events forwarded', async () => {
    const models = await client.listModels({});
    assert.equal(models[0]?.id, modelIdFor(MODEL()));
    assert.ok(client.pid !== undefined && client.pid !== process.pid, 'the lab lives in another process');
    const r = await client.runPlayground(
      parseInput('runPlayground', {
        modelId: modelIdFor(MODEL()),
        prompt: 'Once upon a time, there was a cat.',
        maxNewTokens: 4,
        configs: [{ method: 'snapkv', budget: '10' }],
      }),
    );
    assert.equal(r.results.length, 2);
    assert.ok((r.results[1]?.kvBytes ?? Infinity) < (r.results[0]?.kvBytes ?? 0));
    assert.ok(
      events.some((e) => e.type === 'models.changed'),
      'loading the model announced itself',
    );

    // The child validates too: a payload that skipped the transport's check is still refused.
    await assert.rejects(
      (client.getRun as (i: unknown) => Promise<unknown>)({ runId: 42 }),
      (e: unknown) => e instanceof ApiError && e.code === 'E_INVALID' && /getRun/.test(e.message),
    );
    await assert.rejects(client.getModelCard({ modelId: 'unknown' }), (e: unknown) => e instanceof ApiError && e.code === 'E_NOT_FOUND');
    const copy = join(dir, 'copy.gguf');
    copyFileSync(MODEL(), copy);
    const n = events.length;
    await client.openModel({ path: copy });
    await until(() => events.slice(n).some((e) => e.type === 'models.changed'));
  });

  it("a long call's progress crosses to the parent, and the parent's cancelCall stops it in the child", async () => {
    const requestId = 'cross-process-1';
    const prompt = Array.from({ length: 20 }, () => 'Once upon a time, there was a little dog named Max. He liked to play.').join(' ');
    const first = new Promise<LabEvent>((resolve) => {
      const off = client.onEvent((e) => {
        if (e.type === 'call.progress' && e.requestId === requestId) {
          off();
          resolve(e);
        }
      });
    });
    // Up to 1,024 tokens for each of four configurations: seconds of work, so the cancel arrives well before its end.
    const configs = ['snapkv', 'h2o', 'streamingllm'].map((method) => ({ method, budget: '25%' }));
    const running = client.runPlayground(parseInput('runPlayground', { modelId: modelIdFor(MODEL()), prompt, maxNewTokens: 1024, configs, requestId }));
    const e = await first;
    assert.equal(e.type === 'call.progress' && e.call, 'runPlayground');
    assert.deepEqual(await client.cancelCall({ requestId }), { cancelled: true });
    await assert.rejects(running, (err: unknown) => err instanceof ApiError && err.code === 'E_CANCELLED');
  });

  it('a child that dies rejects pending calls with ApiError; the next call starts a new child', async () => {
    const pid = client.pid;
    assert.ok(pid !== undefined);
    // A long generation keeps the call pending while the child is killed.
    const long = client.runPlayground(
      parseInput('runPlayground', { modelId: modelIdFor(MODEL()), prompt: 'Once upon a time'.repeat(20), maxNewTokens: 1024, configs: [] }),
    );
    const listed = client.listRuns({});
    // Killed at once: the generation may end at an end-of-sequence token well before 1,024 tokens, which a fast
    // machine reaches in a few hundred milliseconds; 20 ms is far less than any generation takes.
    await new Promise((r) => setTimeout(r, 20));
    process.kill(pid, 'SIGKILL');
    await assert.rejects(long, (e: unknown) => e instanceof ApiError && e.code === 'E_INTERNAL' && /lab process/.test(e.message) && /SIGKILL/.test(e.message));
    // listRuns was queued behind nothing: it may have been answered before the kill, or rejected with it.
    await listed.then(
      () => undefined,
      (e: unknown) => assert.ok(e instanceof ApiError && e.code === 'E_INTERNAL'),
    );
    const again = await client.getAppInfo({});
    assert.equal(again.defaultModelId, modelIdFor(MODEL()));
    assert.ok(client.pid !== undefined && client.pid !== pid, 'a fresh child');
  });

  it('close() stops the child; later calls reject', async () => {
    const pid = client.pid;
    assert.ok(pid !== undefined);
    await client.close();
    await until(() => !alive(pid));
    await assert.rejects(client.listModels({}), (e: unknown) => e instanceof ApiError && e.code === 'E_CANCELLED');
  });

  it('implements every LabHandlers method', () => {
    const c = createLabProcessClient({ init: { resultsDir: join(dir, 'unused'), defaultModel: null } });
    const names: (keyof LabHandlers)[] = ['getAppInfo', 'runPlayground', 'exportReport', 'resumeRun'];
    for (const n of names) assert.equal(typeof c[n], 'function');
    return c.close();
  });
});
