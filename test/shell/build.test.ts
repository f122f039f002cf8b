/**
 * The shell as it ships: `scripts/build-shell.mjs` bundles main, preload and
 * lab process, and each bundle is run as far as this machine allows.
 *   - preload.cjs in a bare VM context whose require() knows only 'electron'
 *     (what a sandboxed preload gets): it loads, and exposes exactly `lab`
 *     (the contract's methods + onEvent) and `labShell`, which work over a
 *     fake ipcRenderer.
 *   - lab-process.mjs under plain Node — no tsx — forked as the utility
 *     process would be: the real engine answers, including a real playground
 *     generation on the default model (onnxruntime-node loads from the bundle).
 *   - main.mjs with 'electron' mapped to test/shell/fake-electron.ts: the
 *     start-up order (privileged scheme before ready), every IPC channel, the
 *     sender check, a call through ipcMain to the bundled lab process and
 *     back, engine events reaching the window, the navigation and window.open
 *     guards, the CSP on app:// responses and on other responses, the
 *     permission handlers, the file dialog, and the engine closed on quit.
 * What this cannot show: that the real Electron/Chromium honours these
 * settings. There is no Electron binary here (docs/app.md, "Electron shell").
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import type { LabHandlers } from '@kvlab/core';
import { LAB_CALLS } from '@kvlab/core';
import { defaultModelPath } from '../../electron/host/default-model.ts';
import { createLabProcessClient } from '../../electron/host/lab-process-client.ts';
import { LAB_PROCESS_ENV } from '../../electron/host/protocol.ts';
import { APP_ROOT } from '../../electron/host/paths.ts';
import type { UtilityFork } from '../../electron/shell/lab-process.ts';
import { utilitySpawner } from '../../electron/shell/lab-process.ts';
import { createSenderCheck, registerLabHandlers } from '../../electron/shell/ipc.ts';
import { isAppUrl } from '../../electron/shell/navigation.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { sharedPath } from '../engine/shared-data.ts';
import type * as FakeElectron from './fake-electron.ts';
import { FakeIpcMain, FakeIpcRenderer, OUR_WEBCONTENTS_ID } from './fakes.ts';
import { nodeForkSpawner } from './node-fork.ts';

// Two folders below the root, like dist/electron, so import.meta.dirname + '../..' is still the app root.
const outDir = join(APP_ROOT, 'dist', `.test-shell-${process.pid}`);
const defaultModel = defaultModelPath(); // the bundled demo model: throws, naming where it looked, when it is missing
const children: ChildProcess[] = [];

/** utilityProcess.fork's stand-in: child_process.fork of the bundle under plain Node (no tsx). */
const nodeFork = nodeForkSpawner(children);

before(() => {
  const r = spawnSync(process.execPath, [join(APP_ROOT, 'scripts', 'build-shell.mjs'), '--out', outDir], { cwd: APP_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(outDir, { recursive: true, force: true });
});

describe('preload.cjs in a sandbox-like context', () => {
  it('loads with only electron to require, and exposes exactly lab and labShell', async () => {
    const code = readFileSync(join(outDir, 'preload.cjs'), 'utf8');
    const main = new FakeIpcMain();
    const handlers = Object.fromEntries(LAB_CALLS.map((m) => [m, async (input: unknown) => ({ method: m, input })])) as unknown as LabHandlers;
    registerLabHandlers(
      main,
      handlers,
      createSenderCheck((id) => id === OUR_WEBCONTENTS_ID, isAppUrl),
    );
    const exposed: Record<string, Record<string, unknown>> = {};
    const required: string[] = [];
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => void (exposed[key] = api) },
      ipcRenderer: new FakeIpcRenderer(main),
      webUtils: { getPathForFile: (f: { name: string }) => `/dropped/${f.name}` },
    };
    const sandboxRequire = (name: string): unknown => {
      required.push(name);
      if (name === 'electron') return electron;
      throw new Error(`module not found: ${name}`);
    };
    const module = { exports: {} };
    vm.runInNewContext(code, { require: sandboxRequire, module, exports: module.exports, console }, { filename: 'preload.cjs' });
    assert.deepEqual(required, ['electron']);
    assert.deepEqual(Object.keys(exposed).sort(), ['lab', 'labShell']);
    const lab = exposed['lab'] ?? {};
    assert.deepEqual(Object.keys(lab).sort(), [...LAB_CALLS, 'onEvent'].sort());
    const r = await (lab['getRun'] as (i: unknown) => Promise<unknown>)({ runId: 'r1' });
    assert.equal(JSON.stringify(r), JSON.stringify({ ok: true, value: { method: 'getRun', input: { runId: 'r1' } } }));
    const bad = await (lab['getRun'] as (i: unknown) => Promise<{ ok: boolean; error: { code: string } }>)({});
    assert.equal(bad.error.code, 'E_INVALID');
    assert.deepEqual(Object.keys(exposed['labShell'] ?? {}).sort(), ['getPathForFile', 'pickModelFile', 'pickModelFolder']);
    assert.equal((exposed['labShell']?.['getPathForFile'] as (f: unknown) => string)({ name: 'm.gguf' }), '/dropped/m.gguf');
  });
});

describe('lab-process.mjs under plain Node', () => {
  it('runs the real engine from the bundle: app info, models, a playground generation', async () => {
    const client = createLabProcessClient({
      init: { resultsDir: mkdtempSync(join(tmpdir(), 'kvlab-shell-build-')), defaultModel, mode: 'electron', cacheDir: testCacheDir() },
      spawn: utilitySpawner(nodeFork, { entry: join(outDir, 'lab-process.mjs'), env: { ...process.env, [LAB_PROCESS_ENV]: '1' } }),
      closeTimeoutMs: 10_000,
    });
    try {
      const info = await client.getAppInfo({});
      assert.equal(info.mode, 'electron');
      const modelId = info.defaultModelId ?? '';
      const p = await client.runPlayground({
        modelId,
        prompt: 'Once upon a time there was a little girl named Lily. She liked to play in the park with her friends.',
        maxNewTokens: 4,
        configs: [{ method: 'snapkv', budget: '50%' }],
        chatTemplate: false,
      });
      assert.equal(p.results.length, 2);
      assert.ok(p.results.every((r) => r.generatedTokens > 0));
      assert.ok((p.results[1]?.kvBytes ?? Infinity) < (p.results[0]?.kvBytes ?? 0), 'the compressed cache holds less');
    } finally {
      await client.close();
    }
  });
});

describe('main.mjs under a fake electron module', () => {
  type Fake = typeof FakeElectron;
  let fake: Fake;
  let win: InstanceType<Fake['BrowserWindow']>;
  const resultsDir = mkdtempSync(join(tmpdir(), 'kvlab-shell-main-'));

  before(async () => {
    const fakeUrl = pathToFileURL(join(import.meta.dirname, 'fake-electron.ts')).href;
    const hook = `export async function resolve(s, c, next) { return s === 'electron' ? { url: ${JSON.stringify(fakeUrl)}, shortCircuit: true } : next(s, c); }`;
    register(`data:text/javascript,${encodeURIComponent(hook)}`);
    fake = (await import(fakeUrl)) as Fake;
    // The bundle forks dist/electron/lab-process.mjs; point it at this test's bundle instead.
    fake.state.fork = (path, args, opts) => {
      assert.equal(path, join(APP_ROOT, 'dist', 'electron', 'lab-process.mjs'));
      return nodeFork(join(outDir, 'lab-process.mjs'), args, opts as Parameters<UtilityFork>[2]);
    };
    process.env['KVLAB_RESULTS'] = resultsDir;
    await import(pathToFileURL(join(outDir, 'main.mjs')).href);
    for (let i = 0; i < 200 && fake.BrowserWindow.all.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const w = fake.BrowserWindow.all[0];
    assert.ok(w, 'main.mjs opened a window');
    win = w;
  });

  const invoke = (channel: string, payload: unknown, frameUrl = 'app://kvlab/index.html', senderId?: number) => {
    const h = fake.state.ipcHandlers.get(channel);
    assert.ok(h, channel);
    return h({ sender: { id: senderId ?? win.webContents.id }, senderFrame: { url: frameUrl, parent: null } }, payload) as Promise<{
      ok: boolean;
      value?: unknown;
      error?: { code: string; message: string };
    }>;
  };

  it('registers the privileged scheme and the sandbox before ready, then serves, then opens the window', () => {
    const c = fake.state.calls;
    assert.ok(c.indexOf('protocol.registerSchemesAsPrivileged') < c.indexOf('ready'));
    assert.ok(c.indexOf('app.enableSandbox') < c.indexOf('ready'));
    assert.ok(c.indexOf('session.protocol.handle(app)') < c.indexOf('new BrowserWindow'));
    assert.deepEqual(fake.state.schemes, [{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } }]);
    assert.deepEqual(win.loaded, ['app://kvlab/index.html']);
    const prefs = win.options['webPreferences'] as Record<string, unknown>;
    assert.equal(prefs['preload'], join(APP_ROOT, 'dist', 'electron', 'preload.cjs'));
    assert.deepEqual([prefs['contextIsolation'], prefs['sandbox'], prefs['nodeIntegration'], prefs['webSecurity']], [true, true, false, true]);
    assert.deepEqual([win.options['width'], win.options['height'], win.options['minWidth'], win.options['minHeight']], [1280, 800, 1280, 800]);
    win.emit('ready-to-show');
    assert.ok(win.shown);
  });

  it('answers exactly the contract methods and the two dialogs on ipcMain', () => {
    assert.deepEqual([...fake.state.ipcHandlers.keys()].sort(), [...LAB_CALLS.map((m) => `lab:${m}`), 'shell:pickModelFile', 'shell:pickModelFolder'].sort());
  });

  it('refuses other senders and bad payloads before the engine is involved', async () => {
    assert.equal((await invoke('lab:listRuns', {}, 'https://evil.example/')).error?.code, 'E_FORBIDDEN');
    assert.equal((await invoke('lab:listRuns', {}, 'app://kvlab/index.html', win.webContents.id + 100)).error?.code, 'E_FORBIDDEN');
    assert.equal((await invoke('lab:getRun', { runId: 42 })).error?.code, 'E_INVALID');
  });

  it('calls the bundled lab process through ipcMain, and forwards its events to the window', async () => {
    const info = await invoke('lab:getAppInfo', {});
    assert.equal(info.ok, true, JSON.stringify(info.error));
    assert.equal((info.value as { mode: string; resultsDir: string }).mode, 'electron');
    assert.equal((info.value as { resultsDir: string }).resultsDir, resultsDir);
    const opened = await invoke('lab:openModel', { path: sharedPath('models/stories260K/stories260K.bin') });
    assert.equal(opened.ok, true, JSON.stringify(opened.error));
    for (let i = 0; i < 100 && win.webContents.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(win.webContents.sent, [['lab:event', { type: 'models.changed' }]]);
    const missing = await invoke('lab:getModelCard', { modelId: 'nope' });
    assert.equal(missing.error?.code, 'E_NOT_FOUND');
  });

  it('opens the native file dialog for the window', async () => {
    assert.deepEqual(await invoke('shell:pickModelFile', undefined), { ok: true, value: '/picked/model.gguf' });
    const options = fake.state.dialogs.at(-1)?.at(-1) as { properties: string[] };
    assert.deepEqual(options.properties, ['openFile']);
  });

  it('guards navigation and window.open on every webContents', () => {
    const wc = win.webContents;
    const nav = (event: string, url: string) => {
      let prevented = false;
      wc.emit(event, { url, preventDefault: () => void (prevented = true) });
      return prevented;
    };
    assert.equal(nav('will-navigate', 'app://kvlab/index.html'), false);
    assert.equal(nav('will-navigate', 'https://arxiv.org/abs/2412.09036'), true);
    assert.equal(nav('will-frame-navigate', 'file:///etc/passwd'), true);
    assert.equal(nav('will-redirect', 'http://example.com/'), true);
    assert.deepEqual(fake.state.opened, ['https://arxiv.org/abs/2412.09036', 'http://example.com/']);
    assert.deepEqual(wc.windowOpenHandler?.({ url: 'app://kvlab/index.html' }), { action: 'deny' });
    assert.deepEqual(wc.windowOpenHandler?.({ url: 'https://github.com/x' }), { action: 'deny' });
    assert.equal(fake.state.opened.at(-1), 'https://github.com/x');
    let webviewPrevented = false;
    wc.emit('will-attach-webview', { preventDefault: () => void (webviewPrevented = true) });
    assert.ok(webviewPrevented);
  });

  it('sets the CSP on app:// responses and on any other response, and refuses permissions and remote requests', async () => {
    const handler = fake.state.protocolHandlers.get('app') as (r: { url: string; method: string }) => Promise<Response>;
    const r = await handler({ url: 'app://kvlab/%2e%2e%2fpackage.json', method: 'GET' });
    assert.ok(r.status === 403 || r.status === 404);
    assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    let headers: Record<string, string[]> = {};
    fake.state.onHeadersReceived?.(
      { responseHeaders: { 'content-security-policy': ['default-src *'] } } as never,
      ((res: { responseHeaders: Record<string, string[]> }) => (headers = res.responseHeaders)) as never,
    );
    assert.deepEqual(Object.keys(headers), ['Content-Security-Policy']);
    let cancel: boolean | undefined;
    fake.state.onBeforeRequest?.({ url: 'https://cdn.example/x.js' } as never, ((res: { cancel: boolean }) => (cancel = res.cancel)) as never);
    assert.equal(cancel, true);
    let granted: boolean | undefined;
    fake.state.permissionRequest?.(null as never, 'media' as never, ((g: boolean) => (granted = g)) as never, { requestingUrl: 'app://kvlab/' } as never);
    assert.equal(granted, false);
    assert.equal(fake.state.permissionCheck?.(null as never, 'clipboard-sanitized-write' as never, 'app://kvlab' as never, {} as never), true);
  });

  it('focuses the window on a second launch', () => {
    const before = win.focused;
    fake.app.emit('second-instance');
    assert.equal(win.focused, before + 1);
  });

  it('closes the engine before quitting', async () => {
    const labChild = children.at(-1);
    assert.ok(labChild && labChild.exitCode === null, 'the lab process is running');
    fake.app.quit();
    assert.equal(fake.app.quitted, false, 'the first quit waits for the engine');
    for (let i = 0; i < 500 && !fake.app.quitted; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(fake.app.quitted, true);
    for (let i = 0; i < 100 && labChild.exitCode === null && labChild.signalCode === null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(labChild.exitCode !== null || labChild.signalCode !== null, 'the lab process exited');
    assert.deepEqual(fake.state.errors, []);
  });
});
