/**
 * Long calls that report progress and can be cancelled (electron/host/calls.ts):
 * CallControl alone (its throttle on a fake clock, a busy id, close), then the
 * whole host on stories260K with the real engine. There, runPlayground and
 * profileModel given a requestId report the model's loading, every prefill
 * chunk and every generated token; cancelCall stops them in the prefill, in
 * generation or while they wait for the engine, with E_CANCELLED, and the
 * engine answers the next call as before.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiErrorCode, LabCall, LabEvent, LabInput } from '@kvlab/core';
import { ApiError, parseInput } from '@kvlab/core';
import { CallControl, PROGRESS_INTERVAL_MS } from '../../electron/host/calls.ts';
import { createInProcessLab, modelIdFor } from '../../electron/host/service.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';

type Progress = Extract<LabEvent, { type: 'call.progress' }>;

async function rejectsWith(p: Promise<unknown>, code: ApiErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ApiError, `an ApiError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe('CallControl', () => {
  it('sends a stage change and a stage’s last event at once, others at most every PROGRESS_INTERVAL_MS', async () => {
    const sent: Progress[] = [];
    let now = 0;
    const calls = new CallControl({ emit: (e) => sent.push(e as Progress), now: () => now });
    await calls.track('runPlayground', 'r1', (c) => {
      c.progress('loading', 0, 0, 'loading m');
      for (let done = 1; done <= 10; done++) {
        now += PROGRESS_INTERVAL_MS / 4;
        c.progress('prefill', done, 10, `prefill ${done}`);
      }
      c.progress('generate', 1, 4, 'snapkv: 1 of 4 tokens');
      c.progress('generate', 2, 4, 'snapkv: 2 of 4 tokens');
      c.progress('generate', 1, 4, 'full: 1 of 4 tokens');
      return Promise.resolve();
    });
    // loading; prefill 1 (a new stage); 5 and 9 (an interval after 1 and 5); 10 (the last); generate 1 (a new stage);
    // not snapkv's 2 (too soon); full's 1 (the count starts over: the next configuration).
    assert.deepEqual(
      sent.map((e) => `${e.stage} ${e.done}`),
      ['loading 0', 'prefill 1', 'prefill 5', 'prefill 9', 'prefill 10', 'generate 1', 'generate 1'],
    );
    assert.equal(sent.at(-1)?.current, 'full: 1 of 4 tokens');
    assert.ok(sent.every((e) => e.type === 'call.progress' && e.requestId === 'r1' && e.call === 'runPlayground'));
  });

  it('reports nothing for a call without a requestId, but still aborts it on close', async () => {
    const sent: LabEvent[] = [];
    const calls = new CallControl({ emit: (e) => sent.push(e) });
    const running = calls.track('profileModel', undefined, (c) => {
      c.progress('prefill', 1, 2, 'prefill 1 of 2');
      return new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason)));
    });
    calls.close();
    await rejectsWith(running, 'E_CANCELLED');
    assert.deepEqual(sent, []);
    await rejectsWith(
      calls.track('profileModel', 'late', () => Promise.resolve()),
      'E_CANCELLED',
    );
  });

  it('refuses a second call under a requestId in flight (E_BUSY); cancel of an unknown id is false', async () => {
    const calls = new CallControl({ emit: () => undefined });
    let release = (): void => undefined;
    const first = calls.track('runPlayground', 'same', () => new Promise<void>((r) => (release = r)));
    await rejectsWith(
      calls.track('profileModel', 'same', () => Promise.resolve()),
      'E_BUSY',
    );
    assert.equal(calls.cancel('other'), false);
    release();
    await first;
    // Finished: the id is free again, and there is nothing to cancel.
    assert.equal(calls.cancel('same'), false);
    await calls.track('runPlayground', 'same', () => Promise.resolve());
  });
});

const MODEL = () => sharedPath('models/stories260K/stories260K.gguf');
/** ~470 tokens with the model's tokenizer: four 128-token prefill chunks, so a cancel at the first lands before the last. */
const LONG = Array.from({ length: 20 }, () => 'Once upon a time, there was a little dog named Max. He liked to play.').join(' ');

type Lab = ReturnType<typeof createInProcessLab>;

function call<M extends LabCall>(lab: Lab, method: M, input: LabInput<M>): ReturnType<Lab[M]> {
  return (lab[method] as (i: unknown) => ReturnType<Lab[M]>)(parseInput(method, input));
}

describe('progress and cancel of long calls, on stories260K', () => {
  let lab: Lab;
  let modelId: string;
  const events: Progress[] = [];
  /** Listeners a test adds for one call (cancelling from inside the event, as soon as a stage is reached). */
  let onProgress: (e: Progress) => void = () => undefined;
  const of = (requestId: string) => events.filter((e) => e.requestId === requestId);

  before(() => {
    lab = createInProcessLab({
      resultsDir: mkdtempSync(join(tmpdir(), 'kvlab-calls-')),
      defaultModel: MODEL(),
      cacheDir: testCacheDir(),
      settings: { threads: 1 },
    });
    lab.onEvent((e) => {
      if (e.type !== 'call.progress') return;
      events.push(e);
      onProgress(e);
    });
    modelId = modelIdFor(MODEL());
  });
  after(() => lab.close());

  it('runPlayground reports loading, the prefill chunk by chunk to the prompt length, then each configuration’s tokens', async () => {
    const r = await call(lab, 'runPlayground', { modelId, prompt: LONG, maxNewTokens: 6, configs: [{ method: 'snapkv', budget: '25%' }], requestId: 'pg-1' });
    const ev = of('pg-1');
    const n = r.results[0]?.promptTokens ?? 0;
    assert.ok(n > 384, `${n} prompt tokens: more than three chunks`);
    assert.equal(ev[0]?.stage, 'loading', 'the first call opens the model');
    const prefill = ev.filter((e) => e.stage === 'prefill');
    assert.ok(prefill.length >= 2, `${prefill.length} prefill events`);
    assert.deepEqual(
      prefill.map((e) => e.total),
      prefill.map(() => n),
    );
    assert.equal(prefill.at(-1)?.done, n);
    assert.equal(prefill.at(-1)?.current, `prefill ${n} of ${n} tokens`);
    assert.ok(
      prefill.every((e, i) => i === 0 || e.done > (prefill[i - 1]?.done ?? 0)),
      'prefill counts rise',
    );
    const generate = ev.filter((e) => e.stage === 'generate');
    // The compressed configuration runs first, the full cache last (playground.ts); each starts with its first token.
    assert.match(generate[0]?.current ?? '', /^snapkv: 1 of 6 tokens$/);
    assert.ok(generate.some((e) => /^full: 1 of 6 tokens$/.test(e.current)));
    assert.ok(generate.every((e) => e.total === 6 && e.done >= 1 && e.done <= 6));
    assert.ok(ev.indexOf(prefill.at(-1) as Progress) < ev.indexOf(generate[0] as Progress), 'the prefill ends before generation starts');
  });

  it('a cancel at the first prefill chunk stops the prefill (E_CANCELLED); the next call runs as before', async () => {
    onProgress = (e) => {
      if (e.requestId === 'pg-2' && e.stage === 'prefill') void lab.cancelCall({ requestId: 'pg-2' });
    };
    await rejectsWith(call(lab, 'runPlayground', { modelId, prompt: LONG, maxNewTokens: 6, configs: [], requestId: 'pg-2' }), 'E_CANCELLED');
    onProgress = () => undefined;
    const ev = of('pg-2');
    assert.deepEqual(
      ev.map((e) => e.stage),
      ['prefill'],
      'one chunk, then nothing',
    );
    assert.ok((ev[0]?.done ?? 0) < (ev[0]?.total ?? 0));
    assert.deepEqual(await lab.cancelCall({ requestId: 'pg-2' }), { cancelled: false });
    const again = await call(lab, 'runPlayground', { modelId, prompt: LONG, maxNewTokens: 6, configs: [], requestId: 'pg-2' });
    assert.equal(again.results[0]?.generatedTokens, 6);
  });

  it('a cancel at the first generated token stops generation', async () => {
    onProgress = (e) => {
      if (e.requestId === 'pg-3' && e.stage === 'generate') void lab.cancelCall({ requestId: 'pg-3' });
    };
    await rejectsWith(call(lab, 'runPlayground', { modelId, prompt: LONG, maxNewTokens: 40, configs: [], requestId: 'pg-3' }), 'E_CANCELLED');
    onProgress = () => undefined;
    const generate = of('pg-3').filter((e) => e.stage === 'generate');
    assert.deepEqual(
      generate.map((e) => e.done),
      [1],
    );
  });

  it("profileModel reports its prefill and LMBO's layers, and stops at a cancel", async () => {
    const p = await call(lab, 'profileModel', { modelId, prompt: LONG, requestId: 'pf-1' });
    assert.equal(of('pf-1').findLast((e) => e.stage === 'prefill')?.done, p.promptTokens);
    // Then LMBO, layer by layer: stories260K has 5.
    const analyse = of('pf-1').filter((e) => e.stage === 'analyse');
    assert.equal(analyse[0]?.current, 'LMBO 1 of 5 layers');
    assert.equal(analyse.at(-1)?.current, 'LMBO 5 of 5 layers');
    assert.equal(of('pf-1').at(-1), analyse.at(-1), 'the analysis comes last');
    onProgress = (e) => {
      if (e.requestId === 'pf-2') void lab.cancelCall({ requestId: 'pf-2' });
    };
    await rejectsWith(call(lab, 'profileModel', { modelId, prompt: LONG, requestId: 'pf-2' }), 'E_CANCELLED');
    onProgress = () => undefined;
    assert.equal(of('pf-2').length, 1);
  });

  it('a cancel that arrives from outside during LMBO (an HTTP request, Ctrl-C) stops it at the next layer', async () => {
    // The cancel is sent from a later turn of the event loop, as a transport's would be: LMBO must yield for it.
    onProgress = (e) => {
      if (e.requestId === 'pf-lmbo' && e.stage === 'analyse') setImmediate(() => void lab.cancelCall({ requestId: 'pf-lmbo' }));
    };
    await rejectsWith(call(lab, 'profileModel', { modelId, prompt: LONG, requestId: 'pf-lmbo' }), 'E_CANCELLED');
    onProgress = () => undefined;
    const analyse = of('pf-lmbo').filter((e) => e.stage === 'analyse');
    assert.ok(analyse.length >= 1 && (analyse.at(-1)?.done ?? 5) < 5, JSON.stringify(analyse.map((e) => e.current)));
  });

  it('a call waiting for the engine says so and, cancelled, never runs; the call ahead of it finishes', async () => {
    const ahead = call(lab, 'runPlayground', { modelId, prompt: LONG, maxNewTokens: 4, configs: [], requestId: 'pg-ahead' });
    const waiting = call(lab, 'profileModel', { modelId, prompt: LONG, requestId: 'pf-wait' });
    assert.deepEqual(
      of('pf-wait').map((e) => [e.stage, e.current]),
      [['waiting', 'waiting for the engine (another call is using it)']],
    );
    assert.deepEqual(await lab.cancelCall({ requestId: 'pf-wait' }), { cancelled: true });
    // It answers at once, before the call ahead of it ends.
    let aheadDone = false;
    void ahead.then(() => (aheadDone = true));
    await rejectsWith(waiting, 'E_CANCELLED');
    assert.equal(aheadDone, false, 'the cancelled call answered before the call ahead ended');
    assert.equal((await ahead).results[0]?.generatedTokens, 4);
    assert.equal(of('pf-wait').length, 1, 'no prefill');
  });
});
