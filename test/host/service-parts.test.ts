/**
 * The lab service as composed parts: every contract method is present, and
 * every model and engine the host opens comes from the `openModel` option
 * (an EngineOpener). A recording opener (delegating to the real one on
 * stories260K) sees the Playground's, the example builder's and the
 * profiler's opens with the settings in force, and the engine options they
 * start with; the engine it started is the one released when the settings
 * change and on close. A failing opener makes those calls fail with its
 * error, so no path around it opens a real engine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabInput, LabCall } from '@kvlab/core';
import { ApiError, LAB_CALLS, parseInput } from '@kvlab/core';
import { openModel } from '../../electron/engine/engine.ts';
import type { EngineOpener, EngineOptions } from '../../electron/engine/inference-engine.ts';
import { createInProcessLab, modelIdFor } from '../../electron/host/service.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';

const MODEL = () => sharedPath('models/stories260K/stories260K.gguf');

type Lab = ReturnType<typeof createInProcessLab>;

/** Calls a handler the way a transport does: raw input → parseInput → handler. */
function call<M extends LabCall>(lab: Lab, method: M, input: LabInput<M>): ReturnType<Lab[M]> {
  return (lab[method] as (i: unknown) => ReturnType<Lab[M]>)(parseInput(method, input));
}

/** One open through the recording opener: the path, the float weights asked for, and the options of each engine started on it. */
interface OpenRequest {
  readonly path: string;
  readonly floatWeights: string;
  readonly engines: EngineOptions[];
}

/** The real opener, recording each open and engine start and counting the disposals of the engines it handed out. */
function recordingOpener(): { openModel: EngineOpener; requests: OpenRequest[]; disposed: () => number } {
  const requests: OpenRequest[] = [];
  let disposed = 0;
  const opener: EngineOpener = async (path, options) => {
    const request: OpenRequest = { path, floatWeights: options.floatWeights, engines: [] };
    requests.push(request);
    const model = await openModel(path, options);
    return {
      ...model,
      startEngine: async (engineOptions) => {
        request.engines.push(engineOptions);
        const engine = await model.startEngine(engineOptions);
        const dispose = engine.dispose.bind(engine);
        engine.dispose = () => {
          disposed++;
          return dispose();
        };
        return engine;
      },
    };
  };
  return { openModel: opener, requests, disposed: () => disposed };
}

describe('lab service parts with an injected openModel', () => {
  let lab: Lab;
  let rec: ReturnType<typeof recordingOpener>;
  const modelId = () => modelIdFor(MODEL());

  before(() => {
    rec = recordingOpener();
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-parts-'));
    lab = createInProcessLab({
      resultsDir: join(dir, 'runs'),
      defaultModel: MODEL(),
      cacheDir: testCacheDir(),
      settings: { threads: 1 },
      openModel: rec.openModel,
    });
  });
  after(() => lab.close());

  it('implements every contract method', () => {
    for (const m of LAB_CALLS) assert.equal(typeof lab[m], 'function', m);
  });

  it('opens the model through openModel for the playground, with the settings and cache folder passed through, once per model', async () => {
    assert.equal(rec.requests.length, 0, 'nothing is opened before a call needs it');
    const r = await call(lab, 'runPlayground', {
      modelId: modelId(),
      prompt: 'Once upon a time',
      maxNewTokens: 2,
      configs: [{ method: 'snapkv', budget: '4' }],
    });
    assert.equal(r.results.length, 2);
    assert.equal(rec.requests.length, 1);
    const req = rec.requests[0];
    assert.equal(req?.path, MODEL());
    assert.equal(req?.floatWeights, 'auto');
    assert.equal(req?.engines.length, 1, 'one engine started on the opened model');
    const started = req?.engines[0];
    assert.equal(started?.cacheDir, testCacheDir());
    assert.equal(started?.threads, 1);
    assert.equal(started?.kvType, 'f32');
    assert.equal(started?.executionProvider, 'auto', 'the default setting');
    // The open engine is reused: the example builder and the profiler add no open.
    await call(lab, 'playgroundExample', { modelId: modelId(), contextLength: 256 });
    await call(lab, 'profileModel', { modelId: modelId(), prompt: 'Once upon a time' });
    assert.equal(rec.requests.length, 1);
    assert.equal(rec.requests[0]?.engines.length, 1);
    assert.equal((await call(lab, 'listModels', {}))[0]?.loaded, true);
  });

  it('a settings change releases the injected engine; the next open gets the new settings', async () => {
    const before = rec.disposed();
    await call(lab, 'updateSettings', { floatWeights: 'f32' });
    assert.equal(rec.disposed(), before + 1);
    assert.equal((await call(lab, 'listModels', {}))[0]?.loaded, false);
    await call(lab, 'profileModel', { modelId: modelId(), prompt: 'Once upon a time' });
    assert.equal(rec.requests.length, 2);
    assert.equal(rec.requests[1]?.floatWeights, 'f32');
  });

  it('close() releases the injected engine and refuses further engine calls', async () => {
    const before = rec.disposed();
    await lab.close();
    assert.equal(rec.disposed(), before + 1);
    await assert.rejects(call(lab, 'runPlayground', { modelId: modelId(), prompt: 'x', maxNewTokens: 1, configs: [] }), (e: unknown) => {
      assert.ok(e instanceof ApiError && e.code === 'E_CANCELLED', String(e));
      return true;
    });
    assert.equal(rec.requests.length, 2);
  });
});

describe('lab service parts with an openModel that fails', () => {
  it('the playground, the example builder and the profiler answer its error: no call opens an engine another way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-parts-'));
    let opens = 0;
    const lab = createInProcessLab({
      resultsDir: join(dir, 'runs'),
      defaultModel: MODEL(),
      openModel: () => {
        opens++;
        return Promise.reject(new ApiError('E_MODEL', 'the fake engine refuses to open'));
      },
    });
    try {
      const modelId = modelIdFor(MODEL());
      const calls = [
        call(lab, 'runPlayground', { modelId, prompt: 'x', maxNewTokens: 1, configs: [] }),
        call(lab, 'playgroundExample', { modelId }),
        call(lab, 'profileModel', { modelId, prompt: 'x' }),
      ];
      for (const p of calls) await assert.rejects(p, (e: unknown) => e instanceof ApiError && e.code === 'E_MODEL' && /fake engine/.test(e.message));
      assert.equal(opens, 3);
      assert.equal((await call(lab, 'listModels', {}))[0]?.loaded, false);
    } finally {
      await lab.close();
    }
  });
});
