/**
 * `npm start` (scripts/start.mjs loads this through tsx): open the desktop
 * app where Electron can run, otherwise say why in one line and start serve
 * mode, which prints the URL to open. Both build what is missing or older
 * than its sources first (the renderer always; the shell bundle only for
 * Electron), so a fresh checkout starts with no setup.
 *
 *   npm start [-- --serve] [-- --no-build] [-- <kvlab serve / electron args>]
 *
 * The decisions are pure functions (tested); `main` does the I/O. Runs under
 * plain Node: no electron import.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { APP_ROOT } from '../host/paths.ts';

/** The checkout (or unpacked app). */
export const ROOT = APP_ROOT;

export type ElectronProbe = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * The Electron executable, as the electron package reports it (which honours
 * ELECTRON_OVERRIDE_DIST_PATH), if that file exists. The package's require
 * throws when its postinstall never downloaded the binary — the normal case
 * on offline machines.
 */
export function probeElectron(load: () => unknown, exists: (path: string) => boolean): ElectronProbe {
  let path: unknown;
  try {
    path = load();
  } catch {
    // Its own message ("failed to install correctly, … try installing again") would send the user reinstalling in vain offline.
    return { ok: false, reason: 'node_modules/electron has no binary: its download was skipped or failed' };
  }
  if (typeof path !== 'string' || path === '') return { ok: false, reason: 'the electron package did not name an executable' };
  if (!exists(path)) return { ok: false, reason: `${path} does not exist` };
  return { ok: true, path };
}

/** Why no window could open here even with a binary (a Linux box without a display server), or null. */
export function displayProblem(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>): string | null {
  if (platform !== 'linux') return null;
  if ((env['DISPLAY'] ?? '') !== '' || (env['WAYLAND_DISPLAY'] ?? '') !== '') return null;
  return 'no display: DISPLAY and WAYLAND_DISPLAY are unset';
}

export interface StartArgs {
  /** --serve: serve mode even where Electron could run. */
  readonly forceServe: boolean;
  /** --no-build: start with whatever dist/ holds. */
  readonly noBuild: boolean;
  /** Everything else, passed on to `kvlab serve` or to the app. */
  readonly rest: readonly string[];
}

export function parseStartArgs(argv: readonly string[]): StartArgs {
  return {
    forceServe: argv.includes('--serve'),
    noBuild: argv.includes('--no-build'),
    rest: argv.filter((a) => a !== '--serve' && a !== '--no-build'),
  };
}

export type StartMode = { readonly mode: 'electron'; readonly electronPath: string } | { readonly mode: 'serve'; readonly reason: string | null };

/** Electron if it can run here; else serve mode with the reason (null when --serve asked for it). */
export function decideStartMode(args: StartArgs, electron: ElectronProbe, display: string | null): StartMode {
  if (args.forceServe) return { mode: 'serve', reason: null };
  if (!electron.ok) return { mode: 'serve', reason: electron.reason };
  if (display !== null) return { mode: 'serve', reason: display };
  return { mode: 'electron', electronPath: electron.path };
}

/** The one line `npm start` prints when it falls back. */
export function fallbackMessage(reason: string): string {
  return `Electron is not available on this machine (${reason}); starting serve mode instead`;
}

/** Newest modification time (ms) of the files under `paths`, skipping node_modules and dist; 0 when there are none. */
export function newestMtime(paths: readonly string[]): number {
  let newest = 0;
  const visit = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules' && name !== 'dist' && !name.startsWith('.')) visit(join(p, name));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of paths) visit(p);
  return newest;
}

/** True when an output is missing or older than the newest source. */
export function needsBuild(outputs: readonly string[], sources: readonly string[]): boolean {
  let oldest = Infinity;
  for (const out of outputs) {
    try {
      oldest = Math.min(oldest, statSync(out).mtimeMs);
    } catch {
      return true;
    }
  }
  return newestMtime(sources) > oldest;
}

export const RENDERER_OUTPUTS = [join(ROOT, 'dist', 'renderer', 'index.html')];
export const RENDERER_SOURCES = [join(ROOT, 'renderer'), join(ROOT, 'core', 'src')];
export const SHELL_OUTPUTS = ['main.mjs', 'preload.cjs', 'lab-process.mjs'].map((f) => join(ROOT, 'dist', 'electron', f));
export const SHELL_SOURCES = [join(ROOT, 'electron'), join(ROOT, 'core', 'src')];

/** Runs `npm run <script>` with the npm that started us (npm_execpath) when there is one. */
function npmRun(script: string): boolean {
  const npmCli = process.env['npm_execpath'];
  const r =
    npmCli !== undefined && /\.[cm]?js$/.test(npmCli)
      ? spawnSync(process.execPath, [npmCli, 'run', '--silent', script], { cwd: ROOT, stdio: 'inherit' })
      : spawnSync('npm', ['run', '--silent', script], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  return r.status === 0;
}

/** Builds one part if needed; false when it is still unusable afterwards. */
function ensureBuilt(what: string, script: string, outputs: readonly string[], sources: readonly string[], noBuild: boolean): boolean {
  if (noBuild || !needsBuild(outputs, sources)) return true;
  console.log(`Building the ${what} (npm run ${script})…`);
  if (npmRun(script)) return true;
  const usable = outputs.every((o) => existsSync(o));
  console.error(usable ? `Building the ${what} failed; starting with the previous build.` : `Building the ${what} failed and there is no previous build.`);
  return usable;
}

/** Passes Ctrl-C and termination on to the child, and exits with its code. */
function follow(child: ChildProcess): Promise<number> {
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((done) => {
    child.on('error', (err) => {
      console.error(`start: ${err.message}`);
      done(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      done(code ?? (signal === null ? 0 : 1));
    });
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseStartArgs(argv);
  const electron = probeElectron(() => createRequire(join(ROOT, 'package.json'))('electron'), existsSync);
  const decision = decideStartMode(args, electron, displayProblem(process.platform, process.env));

  if (decision.mode === 'electron') {
    if (!ensureBuilt('renderer', 'build:renderer', RENDERER_OUTPUTS, RENDERER_SOURCES, args.noBuild)) return 1;
    if (!ensureBuilt('Electron shell', 'build:shell', SHELL_OUTPUTS, SHELL_SOURCES, args.noBuild)) return 1;
    // ELECTRON_RUN_AS_NODE (set by some tools) would make the binary a plain Node and ignore our app.
    const env = { ...process.env };
    delete env['ELECTRON_RUN_AS_NODE'];
    return follow(spawn(decision.electronPath, [ROOT, ...args.rest], { cwd: ROOT, stdio: 'inherit', env }));
  }

  if (decision.reason !== null) console.log(fallbackMessage(decision.reason));
  if (!ensureBuilt('renderer', 'build:renderer', RENDERER_OUTPUTS, RENDERER_SOURCES, args.noBuild)) return 1;
  return follow(spawn(process.execPath, [join(ROOT, 'electron', 'cli', 'kvlab.mjs'), 'serve', ...args.rest], { cwd: ROOT, stdio: 'inherit' }));
}
