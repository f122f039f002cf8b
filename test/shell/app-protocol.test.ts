/**
 * The app:// protocol handler (electron/shell/app-protocol.ts) over a real
 * folder: files under the root are served with the right type and our
 * security headers; nothing outside the root is reachable, however the path
 * is encoded; other origins and methods are refused.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { contentTypeFor, createAppProtocolHandler, resolveAppFile } from '../../electron/shell/app-protocol.ts';

const base = mkdtempSync(join(tmpdir(), 'kvlab-app-proto-'));
const root = join(base, 'renderer');
mkdirSync(join(root, 'assets'), { recursive: true });
writeFileSync(join(root, 'index.html'), '<!doctype html><title>KV Lab</title>');
writeFileSync(join(root, 'assets', 'index-1.js'), 'console.log(1)');
writeFileSync(join(root, 'assets', 'a b.css'), 'body{}');
writeFileSync(join(base, 'secret.txt'), 'outside the root');
writeFileSync(join(base, 'renderer-evil.txt'), 'sibling with a shared prefix');

const handler = createAppProtocolHandler({ root, csp: "default-src 'self'" });
const get = (url: string, method = 'GET') => handler({ url, method });

describe('resolveAppFile', () => {
  it('maps paths under the root, / to index.html, and decodes escapes', () => {
    assert.deepEqual(resolveAppFile(root, 'app://kvlab/'), { ok: true, path: join(root, 'index.html') });
    assert.deepEqual(resolveAppFile(root, 'app://kvlab'), { ok: true, path: join(root, 'index.html') });
    assert.deepEqual(resolveAppFile(root, 'app://kvlab/assets/a%20b.css?v=1#x'), { ok: true, path: join(root, 'assets', 'a b.css') });
    assert.deepEqual(resolveAppFile(root, 'app://kvlab/assets/'), { ok: true, path: join(root, 'assets', 'index.html') });
  });
  it('refuses traversal in every spelling', () => {
    for (const u of [
      'app://kvlab/%2e%2e/secret.txt',
      'app://kvlab/..%2fsecret.txt',
      'app://kvlab/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      'app://kvlab/%2e%2e%5csecret.txt',
      'app://kvlab/..%2frenderer-evil.txt',
      'app://kvlab/%2fetc%2fpasswd/..%2f..%2f..%2f..%2fetc%2fpasswd',
    ]) {
      const r = resolveAppFile(root, u);
      if (r.ok) assert.ok(r.path.startsWith(root + '/'), `${u} → ${r.path}`);
      else assert.equal(r.status, 403, u);
    }
    assert.deepEqual(resolveAppFile(root, 'app://kvlab/..%2fsecret.txt'), { ok: false, status: 403 });
  });
  it('refuses other origins, NUL bytes and undecodable paths', () => {
    assert.deepEqual(resolveAppFile(root, 'app://other/index.html'), { ok: false, status: 403 });
    assert.deepEqual(resolveAppFile(root, 'https://kvlab/index.html'), { ok: false, status: 403 });
    assert.deepEqual(resolveAppFile(root, 'app://kvlab/index.html%00.png'), { ok: false, status: 400 });
    assert.deepEqual(resolveAppFile(root, 'app://kvlab/%E0%A4%A'), { ok: false, status: 400 });
    assert.deepEqual(resolveAppFile(root, 'nonsense'), { ok: false, status: 400 });
  });
});

describe('createAppProtocolHandler', () => {
  it('serves files with their type, the CSP and nosniff', async () => {
    const r = await get('app://kvlab/index.html');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.headers.get('content-security-policy'), "default-src 'self'");
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await r.text(), '<!doctype html><title>KV Lab</title>');
    const js = await get('app://kvlab/assets/index-1.js');
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await js.text(), 'console.log(1)');
  });
  it('answers HEAD without a body', async () => {
    const r = await get('app://kvlab/index.html', 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '');
  });
  it('answers 404 for missing files and folders, 403 outside the root, 405 for writes — all with the CSP', async () => {
    for (const [url, method, status] of [
      ['app://kvlab/nope.js', 'GET', 404],
      ['app://kvlab/assets', 'GET', 404],
      ['app://kvlab/..%2fsecret.txt', 'GET', 403],
      ['app://kvlab/index.html', 'POST', 405],
    ] as const) {
      const r = await get(url, method);
      assert.equal(r.status, status, `${method} ${url}`);
      assert.equal(r.headers.get('content-security-policy'), "default-src 'self'");
      assert.doesNotMatch(await r.text(), /outside the root/);
    }
  });
  it('knows the types a vite build produces', () => {
    assert.equal(contentTypeFor('a.MJS'), 'text/javascript; charset=utf-8');
    assert.equal(contentTypeFor('a.svg'), 'image/svg+xml');
    assert.equal(contentTypeFor('a.woff2'), 'font/woff2');
    assert.equal(contentTypeFor('a.unknown'), 'application/octet-stream');
  });
});
