#!/usr/bin/env node
// `npm run dist`: KV Lab's installers for this platform (README, "Releasing"; docs/installers.md).
//
//   npm run dist                                   build the UI and the shell, then electron-builder for this platform
//   npm run dist -- --linux tar.gz                 any electron-builder arguments pass through (targets, --x64/--arm64, -c.key=value)
//   npm run dist -- --dir                          the unpacked app only (out/<platform>-unpacked)
//   npm run dist -- --skip-build                   package what dist/ holds
//   npm run dist -- --stage <dir> …                build the UI and the shell into <dir>/dist instead of dist/, and
//                                                  package those (artefacts in <dir>/out unless -c.directories.output
//                                                  says otherwise): test/build/packaging.test.ts uses it, so it never
//                                                  rewrites the checkout's dist/ under the other tests
//
// electron-builder runs with build/electron-builder.config.mjs and `--publish never` unless --publish is given.
// It downloads Electron (and, for some targets, its tools) from GitHub into its cache; where that is not
// possible, `-c.electronDist=<unpacked Electron folder>` packages against a local one.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CONFIG = join(ROOT, 'build', 'electron-builder.config.mjs');

const args = process.argv.slice(2);
const take = (flag) => {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  if (value === undefined || value.startsWith('-')) fail(`${flag} needs a value`);
  return value;
};
const takeFlag = (flag) => {
  const i = args.indexOf(flag);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};

function fail(message) {
  console.error(`dist: ${message}`);
  process.exit(1);
}

function run(what, command, commandArgs, opts = {}) {
  console.log(`dist: ${what}`);
  const r = spawnSync(command, commandArgs, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.status !== 0) fail(`${what} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
}

const stageArg = take('--stage');
const skipBuild = takeFlag('--skip-build');
const stage = stageArg === undefined ? ROOT : resolve(stageArg);
const distDir = join(stage, 'dist');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

// Which platforms electron-builder will build: the ones named, else this one.
const named = { mac: ['--mac', '-m', '--macos'], linux: ['--linux', '-l'], win: ['--win', '-w', '--windows'] };
const platforms = Object.keys(named).filter((p) => named[p].some((f) => args.includes(f)));
if (platforms.length === 0) platforms.push(process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : 'linux');

// deb refuses to build without a homepage and a maintainer; say so before a long build rather than after.
const linuxTargets = (() => {
  const i = args.findIndex((a) => named.linux.includes(a));
  if (i < 0) return [];
  const out = [];
  for (let j = i + 1; j < args.length && !args[j].startsWith('-'); j++) out.push(...args[j].split(','));
  return out;
})();
const buildsDeb = platforms.includes('linux') && !args.includes('--dir') && (linuxTargets.length === 0 || linuxTargets.includes('deb'));
const authorEmail = typeof pkg.author === 'object' ? pkg.author?.email : /<[^>]+@[^>]+>/.test(pkg.author ?? '');
if (buildsDeb && (!pkg.homepage || !authorEmail))
  fail(
    'the deb target needs "homepage" and "author": { "name", "email" } in package.json (they become the package\'s ' +
      'Homepage and Maintainer); add them, or build other targets (npm run dist -- --linux AppImage tar.gz)',
  );

if (!skipBuild) {
  const rendererOut = join(distDir, 'renderer');
  const shellOut = join(distDir, 'electron');
  rmSync(shellOut, { recursive: true, force: true });
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  run('building the UI (vite)', process.execPath, [
    vite,
    'build',
    '--config',
    'renderer/vite.config.ts',
    '--outDir',
    rendererOut,
    '--emptyOutDir',
    '--logLevel',
    'warn',
  ]);
  run('building the shell (esbuild)', process.execPath, [join(ROOT, 'scripts', 'build-shell.mjs'), '--out', shellOut]);
}
for (const f of ['electron/main.mjs', 'electron/preload.cjs', 'electron/lab-process.mjs', 'renderer/index.html'])
  if (!existsSync(join(distDir, f))) fail(`${join(distDir, f)} is missing (run without --skip-build)`);

// electron-builder runs on the checkout (its node_modules is what it collects); the config takes the builds from distDir.
const env = { ...process.env, KVLAB_DIST_DIR: distDir };
// tar.gz / zip / 7z targets: use the system's 7-Zip rather than electron-builder downloading one.
if (env['ELECTRON_BUILDER_7ZIP_PATH'] === undefined && process.platform !== 'win32')
  for (const p of ['/usr/bin/7za', '/usr/local/bin/7za', '/opt/homebrew/bin/7za'])
    if (existsSync(p)) {
      env['ELECTRON_BUILDER_7ZIP_PATH'] = p;
      break;
    }

const builderArgs = ['--config', CONFIG, '--projectDir', ROOT, ...args];
if (!args.some((a) => a === '--publish' || a === '-p' || a.startsWith('--publish='))) builderArgs.push('--publish', 'never');
if (stageArg !== undefined && !args.some((a) => a.startsWith('-c.directories.output'))) builderArgs.push(`-c.directories.output=${join(stage, 'out')}`);
const cli = join(ROOT, 'node_modules', 'electron-builder', 'cli.js');
if (!existsSync(cli)) fail('electron-builder is not installed (npm ci)');
run(`electron-builder ${builderArgs.slice(4).join(' ')} (KV Lab ${pkg.version}, ${platforms.join(' + ')})`, process.execPath, [cli, ...builderArgs], { env });
console.log(`dist: done: the artefacts are in ${join(stage, 'out')} unless -c.directories.output says otherwise`);
