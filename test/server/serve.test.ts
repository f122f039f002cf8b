/**
 * Serve mode's HTTP server (electron/server/serve.ts), over real HTTP on a
 * free port, in front of the real lab process (in-process; no call here loads
 * a model): the token (missing, wrong, header vs query), static files and
 * path traversal in raw and encoded forms (403/404, never the file), payload
 * validation (400 E_INVALID), unknown API calls, content type and size limits,
 * the SSE stream, the page shown before the UI is built, and the default
 * bind address.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabEvent } from '@kvlab/core';
import { createInProcessLab } from '../../electron/host/service.ts';
import type { RunningServer } from '../../electron/server/serve.ts';
import { startServer } from '../../electron/server/serve.ts';
import { sharedPath } from '../engine/shared-data.ts';

const SECRET = 'top secret: not for the web';

/** A raw GET: node's http client sends the path exactly as given (fetch would normalise "/../"). */
function rawGet(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kvlab serve HTTP server', () => {
  let dir: string;
  let staticDir: string;
  let server: RunningServer;
  let lab: ReturnType<typeof createInProcessLab>;
  const post = (method: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.origin}/api/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-serve-'));
    staticDir = join(dir, 'www');
    mkdirSync(join(staticDir, 'assets'), { recursive: true });
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>KV Lab UI</title><script type="module" src="./assets/app.js"></script>');
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log("app")');
    writeFileSync(join(dir, 'secret.txt'), SECRET);
    symlinkSync(join(dir, 'secret.txt'), join(staticDir, 'assets', 'link.txt'));
    lab = createInProcessLab({ resultsDir: join(dir, 'runs'), defaultModel: sharedPath('models/stories260K/stories260K.gguf') });
    server = await startServer({ port: 0, staticDir, handlers: lab, maxBodyBytes: 64 * 1024, heartbeatMs: 200 });
  });
  after(async () => {
    await server.close();
    await lab.close();
  });

  it('binds 127.0.0.1 by default and prints a URL with the token', async () => {
    assert.equal(server.host, '127.0.0.1');
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{40,}$/);
    assert.ok(server.url.includes(encodeURIComponent(server.token)));
    // Not reachable on the machine's other addresses.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) await assert.rejects(fetch(`http://${external.address}:${server.port}/`), 'refused on a non-loopback address');
  });

  it('requires the token on /api: missing or wrong → 401 E_FORBIDDEN', async () => {
    const none = await fetch(`${server.origin}/api/getAppInfo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'E_FORBIDDEN');
    const wrong = await post('getAppInfo', {}, { Authorization: `Bearer ${server.token}x` });
    assert.equal(wrong.status, 401);
    // The query token is for the event stream only.
    const query = await fetch(`${server.origin}/api/getAppInfo?token=${server.token}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(query.status, 401);
    // Unknown methods are not revealed without the token either.
    assert.equal((await fetch(`${server.origin}/api/nope`, { method: 'POST' })).status, 401);
    const ok = await post('getAppInfo', {});
    assert.equal(ok.status, 200);
    const info = (await ok.json()) as { mode: string; defaultModelId: string };
    assert.equal(info.mode, 'serve');
    assert.equal(typeof info.defaultModelId, 'string');
  });

  it('validates payloads (400 E_INVALID), API calls (404 E_UNKNOWN_CALL), verbs, content type and size', async () => {
    const bad = await post('getRun', { runId: 42 });
    assert.equal(bad.status, 400);
    const err = ((await bad.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'E_INVALID');
    assert.match(err.message, /getRun/);
    const extra = await post('listModels', { surprise: true });
    assert.equal(extra.status, 400, 'strict schemas refuse unknown keys');
    const notJson = await post('listModels', '{nope');
    assert.equal(notJson.status, 400);
    const unknown = await post('formatDisk', {});
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'E_UNKNOWN_CALL');
    const proto = await post('__proto__', {});
    assert.equal(proto.status, 404);
    const get = await fetch(`${server.origin}/api/listModels`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(get.status, 405);
    const form = await post('listModels', 'a=b', { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    const big = await post('openModel', { path: 'x'.repeat(100 * 1024) });
    assert.equal(big.status, 413);
    const missing = await post('getRun', { runId: 'no-such-run' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'E_NOT_FOUND');
    const empty = await fetch(`${server.origin}/api/listRuns`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
    });
    assert.equal(empty.status, 200, 'an empty body is {}');
  });

  it('serves the UI and refuses every path outside it', async () => {
    const index = await fetch(`${server.origin}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await index.text(), /KV Lab UI/);
    const js = await fetch(`${server.origin}/assets/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${server.origin}/assets/missing.js`)).status, 404);
    for (const path of [
      '/../package.json',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/assets/../../secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/%252e%252e/secret.txt',
      '/assets/link.txt',
      `/${'..%2f'.repeat(12)}etc/passwd`,
      '/%00index.html',
      '/%zz',
    ]) {
      const r = await rawGet(server.origin, path);
      assert.ok([400, 403, 404].includes(r.status), `${path}: ${r.status}`);
      assert.ok(!r.body.includes(SECRET) && !r.body.includes('"name": "kv-lab"') && !r.body.includes('root:'), `${path} leaked a file`);
    }
    assert.equal((await rawGet(server.origin, '/../secret.txt')).status, 403);
    assert.equal((await rawGet(server.origin, '/assets/link.txt')).status, 403, 'a symlink out of the root is outside it');
  });

  it('streams events over SSE (query token), and refuses the stream without it', async () => {
    assert.equal((await fetch(`${server.origin}/api/events`)).status, 401);
    assert.equal((await fetch(`${server.origin}/api/events?token=wrong`)).status, 401);
    const ac = new AbortController();
    const res = await fetch(`${server.origin}/api/events?token=${encodeURIComponent(server.token)}`, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body?.getReader();
    assert.ok(reader);
    const received: LabEvent[] = [];
    let buffer = '';
    let pings = 0;
    const pump = (async () => {
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          for (const line of block.split('\n')) {
            if (line.startsWith('data: ')) received.push(JSON.parse(line.slice(6)) as LabEvent);
            if (line === ': ping') pings++;
          }
        }
      }
    })().catch(() => undefined);
    // Opening a second copy of the model makes the engine announce models.changed.
    const copy = join(dir, 'copy.gguf');
    copyFileSync(sharedPath('models/stories260K/stories260K.gguf'), copy);
    assert.equal((await post('openModel', { path: copy })).status, 200);
    const t0 = Date.now();
    while ((!received.some((e) => e.type === 'models.changed') || pings === 0) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      received.some((e) => e.type === 'models.changed'),
      'the event arrived over SSE',
    );
    assert.ok(pings > 0, 'keep-alive comments flow');
    ac.abort();
    await pump;
  });

  it('without a built UI, / says how to build it; a fixed token is used as given', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const s = await startServer({ port: 0, staticDir: empty, handlers: lab, token: 'fixed-token-123' });
    try {
      assert.equal(s.token, 'fixed-token-123');
      const r = await fetch(`${s.origin}/`);
      assert.equal(r.status, 200);
      assert.match(await r.text(), /npm run build:renderer/);
      assert.equal((await fetch(`${s.origin}/assets/app.js`)).status, 404);
    } finally {
      await s.close();
    }
  });
});
