/**
 * `npm start` (scripts/start.mjs → electron/shell/launch.ts): the decision
 * between Electron and serve mode, the staleness check that triggers builds,
 * and — for real — the fallback on this machine: one line saying Electron is
 * unavailable and why, then serve mode printing its URL, which answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decideStartMode, displayProblem, fallbackMessage, needsBuild, newestMtime, parseStartArgs, probeElectron, ROOT } from '../../electron/shell/launch.ts';

describe('probeElectron', () => {
  it('finds an existing executable', () => {
    assert.deepEqual(
      probeElectron(
        () => '/opt/electron/electron',
        (p) => p === '/opt/electron/electron',
      ),
      { ok: true, path: '/opt/electron/electron' },
    );
  });
  it('explains a package without its binary, without repeating its "reinstall" advice', () => {
    const r = probeElectron(
      () => {
        throw new Error('Electron failed to install correctly, please delete node_modules/electron and try installing again');
      },
      () => true,
    );
    assert.equal(r.ok, false);
    assert.ok(!r.ok && /no binary/.test(r.reason) && !/try installing again/.test(r.reason));
  });
  it('refuses a path that does not exist, or no path at all', () => {
    assert.deepEqual(
      probeElectron(
        () => '/gone/electron',
        () => false,
      ),
      { ok: false, reason: '/gone/electron does not exist' },
    );
    assert.equal(
      probeElectron(
        () => ({}),
        () => true,
      ).ok,
      false,
    );
  });
});

describe('decideStartMode', () => {
  const yes = { ok: true as const, path: '/e' };
  const no = { ok: false as const, reason: 'no binary' };
  it('uses Electron when it exists and a display does', () => {
    assert.deepEqual(decideStartMode(parseStartArgs([]), yes, null), { mode: 'electron', electronPath: '/e' });
  });
  it('falls back to serve mode with the reason', () => {
    assert.deepEqual(decideStartMode(parseStartArgs([]), no, null), { mode: 'serve', reason: 'no binary' });
    assert.deepEqual(decideStartMode(parseStartArgs([]), yes, 'no display'), { mode: 'serve', reason: 'no display' });
  });
  it('serves without a reason when --serve asks for it', () => {
    assert.deepEqual(decideStartMode(parseStartArgs(['--serve']), yes, null), { mode: 'serve', reason: null });
  });
  it('keeps its own flags away from the serve command', () => {
    assert.deepEqual(parseStartArgs(['--serve', '--port', '8080', '--no-build']), { forceServe: true, noBuild: true, rest: ['--port', '8080'] });
  });
  it('says what happens in one line', () => {
    const m = fallbackMessage('no binary');
    assert.equal(m, 'Electron is not available on this machine (no binary); starting serve mode instead');
    assert.ok(!m.includes('\n'));
  });
});

describe('displayProblem', () => {
  it('needs DISPLAY or WAYLAND_DISPLAY on Linux only', () => {
    assert.match(displayProblem('linux', {}) ?? '', /no display/);
    assert.equal(displayProblem('linux', { DISPLAY: ':0' }), null);
    assert.equal(displayProblem('linux', { WAYLAND_DISPLAY: 'wayland-0' }), null);
    assert.equal(displayProblem('darwin', {}), null);
    assert.equal(displayProblem('win32', {}), null);
  });
});

describe('needsBuild', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvlab-launch-'));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'node_modules'), { recursive: true });
  writeFileSync(join(src, 'a.ts'), '');
  writeFileSync(join(src, 'node_modules', 'ignored.js'), '');
  const out = join(dir, 'out.js');
  const at = (p: string, s: number) => utimesSync(p, s, s);

  it('builds when an output is missing', () => {
    assert.equal(needsBuild([out], [src]), true);
  });
  it('builds when a source is newer than the oldest output, not otherwise', () => {
    writeFileSync(out, '');
    at(join(src, 'a.ts'), 1000);
    at(join(src, 'node_modules', 'ignored.js'), 5000);
    at(out, 2000);
    assert.equal(needsBuild([out], [src]), false, 'node_modules does not count');
    at(join(src, 'a.ts'), 3000);
    assert.equal(needsBuild([out], [src]), true);
    assert.equal(newestMtime([join(dir, 'nothing-here')]), 0);
  });
});

describe('npm start on a machine without Electron', () => {
  it('prints one line saying so, then serve mode prints a URL that answers', { timeout: 240_000 }, async () => {
    const results = mkdtempSync(join(tmpdir(), 'kvlab-start-'));
    // ELECTRON_OVERRIDE_DIST_PATH makes the decision the same on a machine that has a binary.
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--no-build', '--port', '0', '--results', results], {
      cwd: ROOT,
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: join(results, 'no-electron-here') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(stdout);
          if (m?.[1]) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`start exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`)));
      });
      const lines = stdout.trim().split('\n');
      assert.equal(lines.length, 2, stdout);
      assert.match(lines[0] ?? '', /^Electron is not available on this machine \(.+ does not exist\); starting serve mode instead$/);
      const token = new URL(url).searchParams.get('token') ?? '';
      const res = await fetch(new URL('/api/getAppInfo', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { mode: string }).mode, 'serve');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    }
  });
});
