/**
 * Serve mode over HTTPS (electron/server/serve.ts with `tls`) with a
 * self-signed certificate made here by openssl, on 127.0.0.1 only: the API
 * and the page answer over TLS, the same port refuses cleartext, and the
 * printed URL says https. Then the user's mistakes with --tls-cert/--tls-key
 * (missing file, a folder, not PEM, a key of another certificate), each one
 * line naming the file; and the warning for a non-loopback bind without TLS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabHandlers } from '@kvlab/core';
import { LAB_CALLS } from '@kvlab/core';
import type { RunningServer } from '../../electron/server/serve.ts';
import { exposureWarning, isLoopbackHost, readTlsFiles, startServer, TlsFileError } from '../../electron/server/serve.ts';

/** A self-signed certificate for 127.0.0.1 and localhost, valid one day. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt.pem`);
  const key = join(dir, `${name}.key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** Handlers that answer without an engine: TLS is the transport's business. */
const handlers = {
  ...Object.fromEntries(LAB_CALLS.map((m) => [m, () => Promise.resolve({ method: m })])),
  onEvent: () => () => undefined,
} as unknown as LabHandlers & { onEvent: () => () => void };

function send(
  req: typeof httpsRequest,
  url: URL,
  opts: { method: string; headers?: Record<string, string>; ca?: string | Buffer; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = req(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: opts.method, headers: opts.headers, ...(opts.ca ? { ca: opts.ca } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    r.on('error', reject);
    r.end(opts.body);
  });
}

describe('kvlab serve over HTTPS', () => {
  let dir: string;
  let files: { cert: string; key: string };
  let server: RunningServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-tls-'));
    mkdirSync(join(dir, 'www'));
    writeFileSync(join(dir, 'www', 'index.html'), '<!doctype html><title>KV Lab UI</title>');
    files = selfSigned(dir, 'server');
    server = await startServer({ port: 0, host: '127.0.0.1', staticDir: join(dir, 'www'), handlers, tls: readTlsFiles(files.cert, files.key) });
  });
  after(() => server.close());

  it('prints an https URL and answers the API and the page over TLS, verified against the certificate', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const ca = readTlsFiles(files.cert, files.key).cert;
    const api = await send(httpsRequest, new URL('/api/listModels', server.origin), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body: '{}',
      ca,
    });
    assert.equal(api.status, 200);
    assert.deepEqual(JSON.parse(api.body), { method: 'listModels' });
    const page = await send(httpsRequest, new URL('/', server.origin), { method: 'GET', ca });
    assert.equal(page.status, 200);
    assert.match(page.body, /KV Lab UI/);
    // The token is still required over TLS.
    const noToken = await send(httpsRequest, new URL('/api/listModels', server.origin), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
      ca,
    });
    assert.equal(noToken.status, 401);
  });

  it('refuses a client that does not trust the certificate, and cleartext HTTP on the same port', async () => {
    await assert.rejects(send(httpsRequest, new URL('/', server.origin), { method: 'GET' }), /self-signed|self signed/i);
    const plain = new URL(server.origin.replace('https:', 'http:'));
    // The TLS server cannot parse a cleartext request: it closes the connection, and no page or token crosses.
    await assert.rejects(send(httpRequest, plain, { method: 'GET' }));
  });
});

describe('--tls-cert / --tls-key mistakes', () => {
  let dir: string;
  let good: { cert: string; key: string };
  let other: { cert: string; key: string };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-tls-bad-'));
    good = selfSigned(dir, 'good');
    other = selfSigned(dir, 'other');
    writeFileSync(join(dir, 'notes.txt'), 'not a certificate');
    writeFileSync(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  });

  const refuses = (cert: string, key: string, file: string, message: RegExp): void =>
    assert.throws(
      () => readTlsFiles(cert, key),
      (e: unknown) => e instanceof TlsFileError && e.apiCode === 'E_INVALID' && e.file === file && message.test(e.message),
    );

  it('a missing file, a folder or a file that is not PEM names the file and the flag', () => {
    const missing = join(dir, 'missing.pem');
    refuses(missing, good.key, missing, /missing\.pem: --tls-cert no such file; give the certificate as a PEM file$/);
    refuses(good.cert, missing, missing, /--tls-key no such file; give the private key as a PEM file$/);
    refuses(dir, good.key, dir, /--tls-cert is a folder, not a file/);
    refuses(join(dir, 'notes.txt'), good.key, join(dir, 'notes.txt'), /--tls-cert is not a PEM file/);
    refuses(join(dir, 'broken.pem'), good.key, join(dir, 'broken.pem'), /not a usable certificate/);
  });

  it('a key that belongs to another certificate is named as such', () => {
    refuses(good.cert, other.key, other.key, /--tls-key is not the private key of the certificate .*good\.crt\.pem/);
    assert.doesNotThrow(() => readTlsFiles(other.cert, other.key));
  });
});

describe('the warning for a bind other machines can reach', () => {
  it('says nothing on loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(h), true, h);
      assert.equal(exposureWarning(h, 8787, false), null, h);
    }
  });

  it('without TLS: cleartext, and SSH port forwarding with the real port, then the TLS flags', () => {
    for (const h of ['0.0.0.0', '::', '192.168.1.20', 'gpu-box']) assert.equal(isLoopbackHost(h), false, h);
    const w = exposureWarning('0.0.0.0', 8787, false) ?? '';
    assert.match(w, /WARNING: listening on 0\.0\.0\.0 without TLS/);
    assert.match(w, /cleartext/);
    assert.match(w, /ssh -L 8787:127\.0\.0\.1:8787 /);
    assert.match(w, /kvlab serve --port 8787/);
    assert.match(w, /--tls-cert <cert\.pem> --tls-key <key\.pem>/);
  });

  it('with TLS: only that whoever has the token can use the lab', () => {
    const w = exposureWarning('0.0.0.0', 8443, true) ?? '';
    assert.match(w, /over HTTPS/);
    assert.doesNotMatch(w, /cleartext/);
  });
});
