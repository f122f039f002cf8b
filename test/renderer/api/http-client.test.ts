/**
 * The browser's LabApi (renderer/src/api/http-client.ts) against a real
 * `kvlab serve` process (lab process and all): serve prints exactly one line
 * (the URL with its token); the client's calls, its ApiErrors, its event
 * stream; the token taken from the address, stored for the tab and stripped
 * from the address bar; Ctrl-C stops the server cleanly.
 *
 * Node has fetch but (on 20) no EventSource, so the stream is read with a
 * small fetch-based factory — the client takes one by design.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabEvent } from '@kvlab/core';
import { ApiError } from '@kvlab/core';
import type { EventSourceFactory, TokenEnv } from '../../../renderer/src/api/http-client.ts';
import { createHttpClient, readToken, TOKEN_STORAGE_KEY } from '../../../renderer/src/api/http-client.ts';
import { sharedPath } from '../../engine/shared-data.ts';

const KVLAB = join(import.meta.dirname, '../../../electron/cli/kvlab.mjs');

/** EventSource's job, for Node: read `data:` lines off a streaming fetch. */
const fetchEventSource: EventSourceFactory = (url, onData) => {
  const ac = new AbortController();
  void (async () => {
    const res = await fetch(url, { signal: ac.signal });
    if (!res.ok || !res.body) return;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        for (const line of buf.slice(0, i).split('\n')) if (line.startsWith('data: ')) onData(line.slice(6));
        buf = buf.slice(i + 2);
      }
    }
  })().catch(() => undefined);
  return { close: () => ac.abort() };
};

describe('HTTP client against kvlab serve', () => {
  let dir: string;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let url: URL;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-http-'));
    child = spawn(
      process.execPath,
      [KVLAB, 'serve', '--port', '0', '--model', sharedPath('models/stories260K/stories260K.gguf'), '--results', join(dir, 'runs'), '--no-build'],
      { env: { ...process.env, KVLAB_CACHE: join(dir, 'cache'), XDG_CONFIG_HOME: join(dir, 'config') }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const t0 = Date.now();
    while (!stdout.includes('\n')) {
      if (child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`kvlab serve did not print its URL: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    url = new URL(stdout.trim());
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints exactly one line: the loopback URL with the token', () => {
    assert.equal(stdout.split('\n').length, 2, `one line, got ${JSON.stringify(stdout)}`);
    assert.equal(url.hostname, '127.0.0.1');
    assert.ok((url.searchParams.get('token') ?? '').length >= 40);
  });

  it('reads the token from the address, keeps it for the tab and strips it from the address bar', () => {
    const store = new Map<string, string>();
    let replaced: string | undefined;
    const env = (search: string): TokenEnv => ({
      location: { search, pathname: '/', hash: '#/runs' },
      storage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) },
      history: { replaceState: (_d: unknown, _t: string, u?: string | URL | null) => void (replaced = String(u)) },
    });
    assert.equal(readToken(env(`?token=abc123&fake`)), 'abc123');
    assert.equal(store.get(TOKEN_STORAGE_KEY), 'abc123');
    assert.equal(replaced, '/?fake#/runs');
    assert.equal(readToken(env('')), 'abc123', 'a reload finds it in sessionStorage');
    assert.equal(readToken(null), null);
  });

  it('calls the engine, rejects with ApiErrors, and streams events', async () => {
    const token = url.searchParams.get('token');
    const lab = createHttpClient({ baseUrl: url.origin, token, eventSource: fetchEventSource });
    const info = await lab.getAppInfo({});
    assert.equal(info.mode, 'serve');
    assert.equal(info.resultsDir, join(dir, 'runs'));
    const models = await lab.listModels({});
    assert.equal(models[0]?.name, 'stories260K');
    assert.ok((await lab.describeMethods({})).some((m) => m.id === 'zigzagkv'));
    await assert.rejects(lab.getRun({ runId: '' }), (e: unknown) => e instanceof ApiError && e.code === 'E_INVALID');
    await assert.rejects(lab.getModelCard({ modelId: 'nope' }), (e: unknown) => e instanceof ApiError && e.code === 'E_NOT_FOUND');

    const events: LabEvent[] = [];
    const off = lab.onEvent((e) => events.push(e));
    await new Promise((r) => setTimeout(r, 200)); // the stream connects
    const copy = join(dir, 'copy.gguf');
    copyFileSync(sharedPath('models/stories260K/stories260K.gguf'), copy);
    const card = await lab.openModel({ path: copy });
    assert.equal(card.layers, 5);
    const t0 = Date.now();
    while (!events.some((e) => e.type === 'models.changed') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(events.some((e) => e.type === 'models.changed'));
    off();

    const wrong = createHttpClient({ baseUrl: url.origin, token: 'not-the-token' });
    await assert.rejects(wrong.listModels({}), (e: unknown) => e instanceof ApiError && e.code === 'E_FORBIDDEN');
    const none = createHttpClient({ baseUrl: url.origin, token: null });
    await assert.rejects(none.listModels({}), (e: unknown) => e instanceof ApiError && e.code === 'E_FORBIDDEN' && /kvlab serve/.test(e.message));
    const gone = createHttpClient({ baseUrl: 'http://127.0.0.1:1', token: 'x' });
    await assert.rejects(gone.listModels({}), (e: unknown) => e instanceof ApiError && e.code === 'E_INTERNAL' && /cannot reach/.test(e.message));
  });

  it('Ctrl-C stops the server and its engine cleanly', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.equal(stdout.split('\n').length, 2, 'still one line on stdout');
    await assert.rejects(fetch(url.origin), 'no longer listening');
  });
});
