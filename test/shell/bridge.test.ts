/**
 * The preload's objects (electron/shell/bridge.ts) and the renderer's
 * `labApiFromBridge` (core/src/api/bridge.ts):
 *   - `window.lab` is exactly the contract's methods + onEvent, each a
 *     function; nothing generic (invoke/send/on) and no ipcRenderer;
 *   - each method invokes only its own channel with one argument;
 *   - onEvent hands the listener the payload only (never the
 *     IpcRendererEvent, whose `sender` is ipcRenderer) and unsubscribes;
 *   - end to end — renderer LabApi → preload bridge → (structured clone) →
 *     main-process handlers → the REAL lab process on the default model — results
 *     arrive intact and errors arrive as real ApiError instances with their
 *     code and details, which a plain rejection across Electron's bridges
 *     would lose.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { LabEvent } from '@kvlab/core';
import { ApiError, LAB_CALLS, labApiFromBridge, unwrapLabResult } from '@kvlab/core';
import { defaultModelPath } from '../../electron/host/default-model.ts';
import { createInProcessLab } from '../../electron/host/service.ts';
import { createLabBridge, createShellExtras } from '../../electron/shell/bridge.ts';
import { LAB_EVENT_CHANNEL } from '../../electron/shell/channels.ts';
import { createSenderCheck, handleGuarded, registerLabHandlers } from '../../electron/shell/ipc.ts';
import { isAppUrl } from '../../electron/shell/navigation.ts';
import { sharedPath } from '../engine/shared-data.ts';
import { appFrameEvent, FakeIpcMain, FakeIpcRenderer, OUR_WEBCONTENTS_ID } from './fakes.ts';

const trusted = createSenderCheck((id) => id === OUR_WEBCONTENTS_ID, isAppUrl);

describe('preload bridge shape', () => {
  const renderer = new FakeIpcRenderer(new FakeIpcMain());
  const lab = createLabBridge(renderer);

  it('has exactly one function per contract method plus onEvent', () => {
    assert.deepEqual(Object.keys(lab).sort(), [...LAB_CALLS, 'onEvent'].sort());
    for (const [k, v] of Object.entries(lab)) assert.equal(typeof v, 'function', k);
  });

  it('exposes nothing generic and is frozen', () => {
    for (const name of ['invoke', 'send', 'sendSync', 'on', 'once', 'removeListener', 'postMessage', 'ipcRenderer']) assert.ok(!(name in lab), name);
    assert.ok(Object.isFrozen(lab));
    assert.ok(!Object.values(lab).includes(renderer as never));
  });

  it('each method invokes its own channel with exactly one argument ({} when omitted)', async () => {
    const calls: { channel: string; args: unknown[] }[] = [];
    const recorder = {
      invoke: (channel: string, ...args: unknown[]) => {
        calls.push({ channel, args });
        return Promise.resolve({ ok: true, value: null });
      },
      on: () => undefined,
      removeListener: () => undefined,
    };
    const b = createLabBridge(recorder);
    await b.getRun({ runId: 'r1' });
    await (b.listModels as (i?: unknown) => Promise<unknown>)();
    assert.deepEqual(calls, [
      { channel: 'lab:getRun', args: [{ runId: 'r1' }] },
      { channel: 'lab:listModels', args: [{}] },
    ]);
  });

  it('turns a transport failure (no handler) into an E_INTERNAL envelope instead of a bare rejection', async () => {
    const r = await lab.listRuns({});
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'E_INTERNAL');
    assert.match(!r.ok ? r.error.message : '', /lab:listRuns: .*No handler registered/);
  });

  it('onEvent passes the payload only, and unsubscribes (twice is harmless)', () => {
    const r = new FakeIpcRenderer(new FakeIpcMain());
    const b = createLabBridge(r);
    const got: unknown[][] = [];
    const off = b.onEvent((...args: unknown[]) => got.push(args));
    const e: LabEvent = { type: 'run.status', runId: 'r1', status: 'done' };
    r.emit(LAB_EVENT_CHANNEL, e);
    assert.deepEqual(got, [[e]]);
    off();
    off();
    r.emit(LAB_EVENT_CHANNEL, e);
    assert.equal(got.length, 1);
    assert.equal(r.listeners.get(LAB_EVENT_CHANNEL)?.size, 0);
    assert.throws(() => b.onEvent('nope' as never), TypeError);
  });
});

describe('shell extras', () => {
  it('has only the dialog pickers and getPathForFile, unwrapping envelopes', async () => {
    const main = new FakeIpcMain();
    handleGuarded(main, 'shell:pickModelFile', trusted, async () => '/m/a.gguf');
    handleGuarded(main, 'shell:pickModelFolder', trusted, async () => null);
    const extras = createShellExtras(new FakeIpcRenderer(main), (f: { name: string }) => `/dropped/${f.name}`);
    assert.deepEqual(Object.keys(extras).sort(), ['getPathForFile', 'pickModelFile', 'pickModelFolder']);
    assert.equal(await extras.pickModelFile(), '/m/a.gguf');
    assert.equal(await extras.pickModelFolder(), null);
    assert.equal(extras.getPathForFile({ name: 'x.gguf' }), '/dropped/x.gguf');
    const refused = createShellExtras(new FakeIpcRenderer(main, appFrameEvent('https://evil.example/')), () => '');
    await assert.rejects(refused.pickModelFile(), (e: unknown) => e instanceof ApiError && e.code === 'E_FORBIDDEN');
  });
});

describe('unwrapLabResult', () => {
  it('returns values, throws ApiErrors, and refuses malformed answers', () => {
    assert.equal(unwrapLabResult({ ok: true, value: 3 }), 3);
    assert.throws(
      () => unwrapLabResult({ ok: false, error: { code: 'E_BUSY', message: 'busy', details: { runId: 'r' } } }),
      (e: unknown) => e instanceof ApiError && e.code === 'E_BUSY' && (e.details as { runId: string }).runId === 'r',
    );
    for (const bad of [undefined, null, 3, 'x', {}, { ok: true }, { ok: 'yes', value: 1 }])
      assert.throws(
        () => unwrapLabResult(bad),
        (e: unknown) => e instanceof ApiError && e.code === 'E_INTERNAL',
      );
  });
});

describe('Electron bridge end to end on the real lab process (default model)', () => {
  const defaultModel = defaultModelPath(); // the bundled demo model: throws, naming where it looked, when it is missing
  const service = createInProcessLab({ resultsDir: mkdtempSync(join(tmpdir(), 'kvlab-shell-runs-')), defaultModel, mode: 'electron' });
  after(() => service.close());
  const main = new FakeIpcMain();
  registerLabHandlers(main, service, trusted);
  const renderer = new FakeIpcRenderer(main);
  // What main.ts does with engine events: send them to every window.
  service.onEvent((e) => renderer.emit(LAB_EVENT_CHANNEL, e));
  const api = labApiFromBridge(createLabBridge(renderer));

  it('answers through both hops with the host data intact', async () => {
    const info = await api.getAppInfo({});
    assert.equal(info.mode, 'electron');
    const models = await api.listModels({});
    assert.equal(models.length, 1);
    const card = await api.getModelCard({ modelId: info.defaultModelId ?? '' });
    assert.equal(card.path, defaultModel);
    assert.ok(card.layers > 0 && card.heads > 0);
    const methods = await api.describeMethods({});
    assert.ok(methods.some((m) => m.id === 'zigzagkv'));
  });

  it('delivers engine events to onEvent listeners', async () => {
    const events: LabEvent[] = [];
    const off = api.onEvent((e) => events.push(e));
    const card = await api.openModel({ path: sharedPath('models/stories260K/stories260K.bin') });
    assert.equal(card.format, 'llama2c');
    assert.deepEqual(events, [{ type: 'models.changed' }]);
    off();
  });

  it('rejects with real ApiError instances: code and details survive', async () => {
    await assert.rejects(
      api.getModelCard({ modelId: 'no-such-model' }),
      (e: unknown) => e instanceof ApiError && e.code === 'E_NOT_FOUND' && /no-such-model/.test(e.message),
    );
    await assert.rejects(
      api.getRun({ runId: '' }),
      (e: unknown) => e instanceof ApiError && e.code === 'E_INVALID' && Array.isArray(e.details) && e.details.length > 0,
    );
    await assert.rejects(api.openModel({ path: '/definitely/not/here.gguf' }), (e: unknown) => e instanceof ApiError && e.code !== 'E_INTERNAL');
  });
});
