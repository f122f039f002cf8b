/**
 * The app's Content-Security-Policy (electron/shell/csp.ts): every directive
 * the issue asks for, nothing that would let script or remote content in,
 * and the header helper replacing (never adding to) a response's policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentSecurityPolicy, cspDirectives, withCspHeader } from '../../electron/shell/csp.ts';

/** The policy parsed back into directive → sources. */
function parse(csp: string): Map<string, string[]> {
  return new Map(
    csp.split(';').map((d) => {
      const [name = '', ...sources] = d.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

describe('contentSecurityPolicy', () => {
  const csp = contentSecurityPolicy();
  const p = parse(csp);

  it('is exactly the strict policy', () => {
    assert.equal(
      csp,
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self'; " +
        "object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });

  it('never allows inline or evaluated script, or any remote source', () => {
    for (const [name, sources] of p) {
      for (const s of sources) {
        assert.ok(!/unsafe-eval|unsafe-hashes|wasm-unsafe-eval|strict-dynamic|\*|https?:|wss?:|file:/.test(s), `${name} ${s}`);
        if (name !== 'style-src') assert.notEqual(s, "'unsafe-inline'", name);
      }
    }
    assert.deepEqual(p.get('script-src'), ["'self'"]);
    assert.deepEqual(p.get('default-src'), ["'self'"]);
  });

  it('names every directive once', () => {
    const names = csp.split(';').map((d) => d.trim().split(/\s+/)[0]);
    assert.equal(new Set(names).size, names.length);
    for (const d of ['default-src', 'script-src', 'style-src', 'img-src', 'connect-src', 'object-src', 'base-uri', 'frame-ancestors']) assert.ok(p.has(d), d);
  });

  it("adds 'unsafe-inline' to style-src only when asked", () => {
    assert.deepEqual(parse(contentSecurityPolicy({ inlineStyles: true })).get('style-src'), ["'self'", "'unsafe-inline'"]);
    assert.deepEqual(cspDirectives()['style-src'], ["'self'"]);
  });
});

describe('withCspHeader', () => {
  it('replaces any policy the response had, whatever the header case, and keeps the other headers', () => {
    const out = withCspHeader(
      { 'content-security-policy': ['default-src *'], 'CONTENT-SECURITY-POLICY': 'script-src *', 'Content-Type': 'text/html', 'X-A': ['1', '2'] },
      'x',
    );
    assert.deepEqual(out, { 'Content-Type': ['text/html'], 'X-A': ['1', '2'], 'Content-Security-Policy': ['x'] });
  });
  it('works without headers', () => {
    assert.deepEqual(withCspHeader(undefined, 'x'), { 'Content-Security-Policy': ['x'] });
  });
});
