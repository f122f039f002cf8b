/**
 * Every API method, fuzzed with invalid payloads (api-fuzz.ts) through both
 * transports in front of the real lab service on stories260K: serve mode's
 * HTTP server (electron/server/serve.ts, over the host in this process) and
 * the Electron IPC handlers (electron/shell/ipc.ts with the fake ipcMain) over
 * the lab process client and its lab process, as the desktop app wires them
 * (electron/host/lab-process-client.ts, lab-process.ts). Whatever comes in, the
 * answer is a typed error in the user's words — E_INVALID, E_NOT_FOUND,
 * E_MODEL, … — never E_INTERNAL, an HTTP 5xx, a stack or JS internals; or a
 * success where the broken payload happens to be valid. fast-check runs with
 * a fixed seed, so a failure names a payload that fails again.
 *
 * Downloads go to a local stand-in for the Hub that has no repos
 * (HF_ENDPOINT), so a payload the fuzzer leaves valid reaches no network.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdirSync, mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LabCall } from '@kvlab/core';
import type { LabProcessClient } from '../../electron/host/lab-process-client.ts';
import { createLabProcessClient } from '../../electron/host/lab-process-client.ts';
import { modelIdFor } from '../../electron/host/service.ts';
import { createInProcessLab } from '../../electron/host/service.ts';
import type { RunningServer } from '../../electron/server/serve.ts';
import { startServer } from '../../electron/server/serve.ts';
import { createSenderCheck, registerLabHandlers } from '../../electron/shell/ipc.ts';
import { isAppUrl } from '../../electron/shell/navigation.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';
import { appFrameEvent, FakeIpcMain, OUR_WEBCONTENTS_ID } from '../shell/fakes.ts';
import { brokenPayload, FUZZ_METHODS, templates, toIpcValue, toJsonText, userWorded } from './api-fuzz.ts';

const SEED = 20261206;
const RUNS = Number(process.env['KVLAB_FUZZ_RUNS'] ?? 40);
const MODEL = () => sharedPath('models/stories260K/stories260K.gguf');

/** The codes a user may see; E_INTERNAL is a bug. */
const USER_CODES = new Set(['E_INVALID', 'E_UNKNOWN_CALL', 'E_NOT_FOUND', 'E_FORBIDDEN', 'E_BUSY', 'E_MODEL', 'E_CANCELLED']);

/**
 * fc.assert, but a failure reports our assertion's message (which shows the payload cut to 300 characters)
 * rather than fast-check's counterexample, which would print a 70,000-character string in full.
 */
async function fuzz<T>(arb: fc.Arbitrary<T>, check: (value: T) => Promise<void>, numRuns = RUNS): Promise<void> {
  const out = await fc.check(fc.asyncProperty(arb, check), { seed: SEED, numRuns, endOnFailure: true });
  if (out.failed) {
    const e = out.errorInstance;
    assert.fail(`after ${out.numRuns} runs (seed ${SEED}, path ${String(out.counterexamplePath)}): ${e instanceof Error ? e.message : String(e)}`);
  }
}

function checkError(where: string, error: unknown): void {
  assert.ok(typeof error === 'object' && error !== null, `${where}: an error object, got ${JSON.stringify(error)}`);
  const { code, message } = error as { code?: unknown; message?: unknown };
  assert.ok(USER_CODES.has(String(code)), `${where}: ${String(code)} ${String(message)}`);
  const bad = userWorded(message);
  assert.equal(bad, null, `${where}: the message is ${bad}: ${String(message).slice(0, 300)}`);
}

describe('every API call with invalid payloads answers a typed error', () => {
  let dir: string;
  let lab: ReturnType<typeof createInProcessLab>;
  let server: RunningServer;
  let hub: Server;
  const ipc = new FakeIpcMain();
  let labProcess: LabProcessClient;
  let tmpl: ReturnType<typeof templates>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-fuzz-'));
    mkdirSync(join(dir, 'www'));
    hub = createServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":"Repository not found"}');
    });
    await new Promise<void>((ok) => hub.listen(0, '127.0.0.1', ok));
    process.env['HF_ENDPOINT'] = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
    lab = createInProcessLab({
      resultsDir: join(dir, 'runs'),
      modelsDir: join(dir, 'models'),
      defaultModel: MODEL(),
      cacheDir: testCacheDir(),
      baseDir: dir,
      settings: { threads: 1 },
    });
    server = await startServer({ port: 0, staticDir: join(dir, 'www'), handlers: lab, maxBodyBytes: 1024 * 1024 });
    // The child inherits HF_ENDPOINT (set above) with the rest of the environment.
    labProcess = createLabProcessClient({
      init: {
        resultsDir: join(dir, 'runs-ipc'),
        modelsDir: join(dir, 'models-ipc'),
        defaultModel: MODEL(),
        cacheDir: testCacheDir(),
        baseDir: dir,
        settings: { threads: 1 },
      },
    });
    registerLabHandlers(
      ipc,
      labProcess,
      createSenderCheck((id) => id === OUR_WEBCONTENTS_ID, isAppUrl),
    );
    tmpl = templates({ modelId: modelIdFor(MODEL()) });
  });
  after(async () => {
    await server.close();
    await lab.close();
    await labProcess.close();
    await new Promise<void>((done) => hub.close(() => done()));
  });

  const post = async (method: string, body: string): Promise<{ status: number; json: unknown }> => {
    const r = await fetch(`${server.origin}/api/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body,
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      assert.fail(`${method}: HTTP ${r.status} answered non-JSON: ${text.slice(0, 200)}`);
    }
    return { status: r.status, json };
  };

  describe('serve mode (HTTP)', () => {
    for (const method of FUZZ_METHODS) {
      it(method, async () => {
        await fuzz(brokenPayload(tmpl[method]), async ({ payload }) => {
          const body = toJsonText(payload);
          const { status, json } = await post(method, body);
          const where = `${method} ${body.slice(0, 300)} → HTTP ${status}`;
          assert.ok(status < 500, `${where}: ${JSON.stringify(json).slice(0, 300)}`);
          if (status !== 200) checkError(where, (json as { error?: unknown }).error);
        });
      });
    }

    it('bodies that are not a JSON object (any text, 1e309, NaN, huge numbers)', async () => {
      const bodies = fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.constantFrom('1e309', '-1e309', 'NaN', '{"path": NaN}', '{"path": 1e309}', 'null', '[]', '"x"', '{', '{"a":1}{', '\u0000', '{"__proto__":{"x":1}}'),
      );
      await fuzz(
        fc.tuple(fc.constantFrom<LabCall>(...FUZZ_METHODS), bodies),
        async ([method, body]) => {
          const { status, json } = await post(method, body);
          assert.ok(status < 500, `${method} ${JSON.stringify(body)} → HTTP ${status}`);
          if (status !== 200) checkError(`${method} ${JSON.stringify(body)}`, (json as { error?: unknown }).error);
        },
        RUNS * 4,
      );
    });
  });

  describe('what the fuzzer found, kept as plain cases', () => {
    const call = async (method: string, payload: unknown): Promise<{ code: string; message: string }> => {
      const { status, json } = await post(method, JSON.stringify(payload));
      assert.ok(status >= 400 && status < 500, `HTTP ${status}`);
      const error = (json as { error: { code: string; message: string } }).error;
      checkError(method, error);
      return error;
    };

    it('a 70,000-character budget is quoted cut short, not echoed back whole', async () => {
      const e = await call('startRun', { experiment: { ...(tmpl.startRun['experiment'] as object), budgets: ['x'.repeat(70_000)] } });
      assert.equal(e.code, 'E_INVALID');
      assert.match(e.message, /Budget "x{60}…" is not understood/);
      assert.ok(e.message.length < 1000, `${e.message.length} characters`);
    });

    it('a NUL character in any path field is E_INVALID, not a file that is not there', async () => {
      assert.equal((await call('openModel', { path: 'model\u0000.gguf' })).code, 'E_INVALID');
      const exp = tmpl.startRun['experiment'] as Record<string, unknown>;
      const withModel = await call('startRun', { experiment: { ...exp, models: ['../\u0000/etc/passwd'] } });
      assert.equal(withModel.code, 'E_INVALID');
      assert.match(withModel.message, /experiment\.models\.0: a path cannot contain a NUL character/);
    });

    it('an experiment whose model is not a model file is refused when started (E_MODEL), not queued to fail', async () => {
      const exp = tmpl.startRun['experiment'] as Record<string, unknown>;
      const e = await call('startRun', { experiment: { ...exp, models: ['/etc/passwd'] } });
      assert.equal(e.code, 'E_MODEL');
      assert.match(e.message, /^\/etc\/passwd: not a model KV Lab can read/);
      const runs = (await (await post('listRuns', '{}')).json) as unknown[];
      assert.deepEqual(runs, [], 'nothing was queued');
    });
  });

  describe('Electron IPC', () => {
    for (const method of FUZZ_METHODS) {
      it(method, async () => {
        await fuzz(brokenPayload(tmpl[method]), async ({ payload }) => {
          const value = toIpcValue(payload);
          const answer = (await ipc.invoke(appFrameEvent(), `lab:${method}`, value)) as { ok: boolean; error?: unknown };
          if (!answer.ok) checkError(`${method} ${String(JSON.stringify(value)).slice(0, 300)}`, answer.error);
        });
      });
    }
  });
});
