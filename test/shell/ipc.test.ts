/**
 * The main-process IPC layer (electron/shell/ipc.ts) with a fake ipcMain:
 * every contract method gets exactly one `lab:<method>` channel; a sender that
 * is not our window's top frame on app://kvlab is refused (E_FORBIDDEN) before
 * any handler runs; payloads are validated by the contract's schemas
 * (E_INVALID, defaults filled); handler errors come back as ApiError JSON in
 * an envelope, and anything that is not an ApiError becomes E_INTERNAL with
 * no stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabHandlers, LabCall } from '@kvlab/core';
import { ApiError, LAB_CALLS } from '@kvlab/core';
import type { InvokeEventLike } from '../../electron/shell/ipc.ts';
import { createSenderCheck, handleGuarded, registerLabHandlers } from '../../electron/shell/ipc.ts';
import { isAppUrl } from '../../electron/shell/navigation.ts';
import { appFrameEvent, FakeIpcMain, OUR_WEBCONTENTS_ID } from './fakes.ts';

/** Handlers that record what they were called with and answer { method, input }. */
function recordingHandlers(): { handlers: LabHandlers; calls: { method: LabCall; input: unknown }[] } {
  const calls: { method: LabCall; input: unknown }[] = [];
  const handlers = Object.fromEntries(
    LAB_CALLS.map((method) => [
      method,
      async (input: unknown) => {
        calls.push({ method, input });
        return { method, input };
      },
    ]),
  ) as unknown as LabHandlers;
  return { handlers, calls };
}

const trusted = createSenderCheck((id) => id === OUR_WEBCONTENTS_ID, isAppUrl);

function setup(handlers?: LabHandlers) {
  const ipc = new FakeIpcMain();
  const rec = recordingHandlers();
  const errors: string[] = [];
  const unregister = registerLabHandlers(ipc, handlers ?? rec.handlers, trusted, { onError: (channel) => errors.push(channel) });
  return { ipc, calls: rec.calls, errors, unregister };
}

describe('registerLabHandlers', () => {
  it('registers exactly one lab:<method> channel per contract method, and removes them again', () => {
    const { ipc, unregister } = setup();
    assert.deepEqual([...ipc.handlers.keys()].sort(), LAB_CALLS.map((m) => `lab:${m}`).sort());
    unregister();
    assert.equal(ipc.handlers.size, 0);
  });

  it('passes a valid payload to the handler with defaults filled, and answers { ok: true, value }', async () => {
    const { ipc, calls } = setup();
    const r = await ipc.invoke(appFrameEvent(), 'lab:getResults', { runId: 'r1' });
    assert.deepEqual(r, { ok: true, value: { method: 'getResults', input: { runId: 'r1', offset: 0, limit: 10_000 } } });
    assert.deepEqual(calls, [{ method: 'getResults', input: { runId: 'r1', offset: 0, limit: 10_000 } }]);
    // No payload at all means {} (methods without input).
    assert.deepEqual(await ipc.invoke(appFrameEvent(), 'lab:listModels'), { ok: true, value: { method: 'listModels', input: {} } });
  });

  it('keeps the handlers object as `this` (a class-based host works)', async () => {
    class Host {
      readonly tag = 'host';
    }
    const host = new Host();
    const handlers = Object.fromEntries(
      LAB_CALLS.map((m) => [
        m,
        function (this: Host) {
          return Promise.resolve(this.tag);
        },
      ]),
    );
    Object.setPrototypeOf(handlers, host);
    const { ipc } = setup(handlers as unknown as LabHandlers);
    assert.deepEqual(await ipc.invoke(appFrameEvent(), 'lab:getSettings', {}), { ok: true, value: 'host' });
  });

  const untrusted: [string, InvokeEventLike][] = [
    ['another webContents', appFrameEvent('app://kvlab/index.html', OUR_WEBCONTENTS_ID + 1)],
    ['a remote page in our window', appFrameEvent('https://evil.example/index.html')],
    ['a file:// page in our window', appFrameEvent('file:///work/main/dist/renderer/index.html')],
    ['a look-alike origin', appFrameEvent('app://kvlab.evil/index.html')],
    ['a subframe', { sender: { id: OUR_WEBCONTENTS_ID }, senderFrame: { url: 'app://kvlab/index.html', parent: {} } }],
    ['a destroyed frame', { sender: { id: OUR_WEBCONTENTS_ID }, senderFrame: null }],
  ];
  for (const [name, event] of untrusted) {
    it(`refuses ${name} with E_FORBIDDEN before any handler runs`, async () => {
      const { ipc, calls } = setup();
      const r = (await ipc.invoke(event, 'lab:listRuns', {})) as { ok: boolean; error: { code: string; message: string } };
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'E_FORBIDDEN');
      assert.match(r.error.message, /lab:listRuns: the sender is not a KV Lab window/);
      assert.equal(calls.length, 0);
    });
  }

  it('refuses invalid payloads with E_INVALID naming the method and the problems, without calling the handler', async () => {
    const { ipc, calls } = setup();
    const cases: [string, unknown][] = [
      ['lab:getRun', {}],
      ['lab:getRun', { runId: '' }],
      ['lab:getRun', { runId: 'r1', extra: 1 }],
      ['lab:exportReport', { runId: 'r1', format: 'exe' }],
      ['lab:openModel', 'not an object'],
      ['lab:updateSettings', { threads: -1 }],
      ['lab:listModels', { surprise: true }],
    ];
    for (const [channel, payload] of cases) {
      const r = (await ipc.invoke(appFrameEvent(), channel, payload)) as { ok: boolean; error: { code: string; message: string; details?: unknown } };
      assert.equal(r.ok, false, channel);
      assert.equal(r.error.code, 'E_INVALID', `${channel} ${JSON.stringify(payload)}`);
      assert.ok(r.error.message.startsWith(channel.slice(4)), r.error.message);
      assert.ok(Array.isArray(r.error.details), 'zod issues travel as details');
    }
    assert.equal(calls.length, 0);
  });

  it('refuses a second argument (nothing may ride past the schema)', async () => {
    const { ipc, calls } = setup();
    const r = (await ipc.invoke(appFrameEvent(), 'lab:getRun', { runId: 'r1' }, { sneaky: true })) as { ok: boolean; error: { code: string } };
    assert.equal(r.error.code, 'E_INVALID');
    assert.equal(calls.length, 0);
  });

  it('serialises an ApiError from a handler as its JSON, details included', async () => {
    const { handlers } = recordingHandlers();
    const failing = { ...handlers, getRun: async () => Promise.reject(new ApiError('E_NOT_FOUND', 'no run r9', { runId: 'r9' })) } as LabHandlers;
    const { ipc, errors } = setup(failing);
    const r = await ipc.invoke(appFrameEvent(), 'lab:getRun', { runId: 'r9' });
    assert.deepEqual(r, { ok: false, error: { code: 'E_NOT_FOUND', message: 'no run r9', details: { runId: 'r9' } } });
    assert.deepEqual(errors, ['lab:getRun'], 'the main process log sees it');
  });

  it('turns any other error into E_INTERNAL with its message and no stack', async () => {
    const { handlers } = recordingHandlers();
    const failing = {
      ...handlers,
      listRuns: async () => {
        throw new TypeError('cannot read properties of undefined');
      },
      listModels: async () => Promise.reject('a string, not an Error'),
    } as LabHandlers;
    const { ipc } = setup(failing);
    const r = (await ipc.invoke(appFrameEvent(), 'lab:listRuns', {})) as { ok: false; error: Record<string, unknown> };
    assert.deepEqual(r, { ok: false, error: { code: 'E_INTERNAL', message: 'lab:listRuns: cannot read properties of undefined' } });
    assert.ok(!JSON.stringify(r).includes('    at '), 'no stack frames');
    const s = (await ipc.invoke(appFrameEvent(), 'lab:listModels', {})) as { ok: false; error: Record<string, unknown> };
    assert.deepEqual(s.error, { code: 'E_INTERNAL', message: 'lab:listModels: a string, not an Error' });
  });

  it('handleGuarded applies the same sender check to the shell channels', async () => {
    const ipc = new FakeIpcMain();
    let picked = 0;
    handleGuarded(ipc, 'shell:pickModelFile', trusted, async () => {
      picked++;
      return '/models/a.gguf';
    });
    assert.deepEqual(await ipc.invoke(appFrameEvent(), 'shell:pickModelFile'), { ok: true, value: '/models/a.gguf' });
    const r = (await ipc.invoke(appFrameEvent('https://evil.example/'), 'shell:pickModelFile')) as { ok: false; error: { code: string } };
    assert.equal(r.error.code, 'E_FORBIDDEN');
    assert.equal(picked, 1);
  });
});
