/**
 * Where the app's pages may go and what they may ask for
 * (electron/shell/navigation.ts, permissions.ts): only app://kvlab stays in
 * the app; window.open is always denied; http(s) may go to the system
 * browser, anything else is dropped; permissions and requests are refused
 * except the few named ones from our origin.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APP_ENTRY_URL, APP_ORIGIN, decideNavigation, decideWindowOpen, isAppUrl } from '../../electron/shell/navigation.ts';
import { isPermissionAllowed, shouldBlockRequest } from '../../electron/shell/permissions.ts';

describe('isAppUrl', () => {
  it('accepts our origin', () => {
    for (const u of [APP_ENTRY_URL, APP_ORIGIN, `${APP_ORIGIN}/`, `${APP_ORIGIN}/assets/index-abc.js`, `${APP_ORIGIN}/index.html#/runs?x=1`])
      assert.ok(isAppUrl(u), u);
  });
  it('refuses everything else, including look-alikes', () => {
    for (const u of [
      'file:///work/main/dist/renderer/index.html',
      'https://kvlab/index.html',
      'http://127.0.0.1:5173/',
      'app://kvlab.evil.example/',
      'app://evil/kvlab',
      'app://user@kvlab/',
      'app://kvlab:pw@kvlab/',
      'apps://kvlab/',
      'javascript:alert(1)',
      'data:text/html,<script>1</script>',
      'about:blank',
      'not a url',
      '',
    ])
      assert.ok(!isAppUrl(u), u);
  });
});

describe('decideNavigation / decideWindowOpen', () => {
  it('lets our own pages through', () => {
    assert.deepEqual(decideNavigation(`${APP_ORIGIN}/index.html`), { allow: true });
  });
  it('denies remote pages, handing http(s) to the system browser', () => {
    assert.deepEqual(decideNavigation('https://arxiv.org/abs/2412.09036'), { allow: false, external: 'https://arxiv.org/abs/2412.09036' });
    assert.deepEqual(decideNavigation('http://example.com'), { allow: false, external: 'http://example.com/' });
  });
  it('drops other schemes and credentialled URLs instead of opening them anywhere', () => {
    for (const u of [
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/html,x',
      'smb://host/share',
      'ms-settings:',
      'https://user:pw@example.com/',
      'garbage',
    ])
      assert.deepEqual(decideNavigation(u), { allow: false, external: null }, u);
  });
  it('never opens a new in-app window, not even for our origin', () => {
    assert.deepEqual(decideWindowOpen(APP_ENTRY_URL), { action: 'deny', external: null });
    assert.deepEqual(decideWindowOpen('https://github.com/x'), { action: 'deny', external: 'https://github.com/x' });
    assert.deepEqual(decideWindowOpen('file:///etc/passwd'), { action: 'deny', external: null });
  });
});

describe('permissions and requests', () => {
  it('allows only clipboard writes and fullscreen, only for our origin', () => {
    assert.ok(isPermissionAllowed('clipboard-sanitized-write', APP_ORIGIN));
    assert.ok(isPermissionAllowed('fullscreen', `${APP_ORIGIN}/index.html`));
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fileSystem', 'unknown'])
      assert.ok(!isPermissionAllowed(p, APP_ORIGIN), p);
    assert.ok(!isPermissionAllowed('clipboard-sanitized-write', 'https://evil.example'));
  });
  it('blocks every request that is not ours or in-memory', () => {
    for (const u of [`${APP_ORIGIN}/assets/a.js`, 'data:image/png;base64,AA', 'blob:app://kvlab/1234', 'devtools://devtools/bundled/inspector.html'])
      assert.ok(!shouldBlockRequest(u), u);
    for (const u of ['https://cdn.example/x.js', 'http://127.0.0.1:8080/api', 'wss://x/', 'file:///etc/passwd', 'ftp://x/', 'chrome://gpu', 'nonsense'])
      assert.ok(shouldBlockRequest(u), u);
  });
});
