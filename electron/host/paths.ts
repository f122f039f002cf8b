/**
 * Where the app's files are, in one place for the Electron shell, `kvlab
 * serve` and the tests: the app root (the checkout, or the unpacked app), the
 * built UI, the default results folder and the settings file.
 */
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

/** The repository (or unpacked app) root: two levels above electron/host/. In a packaged app, resources/app.asar. */
export const APP_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Electron's resources folder when running from an installed app: electron-builder puts the app in
 * resources/app.asar and the extra resources (the bundled demo model) beside it
 * (build/electron-builder.config.mjs). null in a checkout: `electron .`, `kvlab serve`, the tests.
 */
export const PACKAGED_RESOURCES: string | null = packagedResources(APP_ROOT, Reflect.get(process, 'resourcesPath'));

/** The resources folder if `appRoot` is a packaged app.asar (Electron's process.resourcesPath, else the asar's folder). */
export function packagedResources(appRoot: string, resourcesPath: unknown): string | null {
  if (basename(appRoot) !== 'app.asar') return null;
  return typeof resourcesPath === 'string' && resourcesPath !== '' ? resourcesPath : dirname(appRoot);
}

/** The built UI (`npm run build:renderer`); inside app.asar when packaged, which Electron's fs reads like a folder. */
export const RENDERER_DIST = join(APP_ROOT, 'dist', 'renderer');

/** Settings persist here: $XDG_CONFIG_HOME/kvlab/settings.json, else ~/.config/kvlab/settings.json. */
export function defaultSettingsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(resolve(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config')), 'kvlab', 'settings.json');
}

/** Runs are stored here unless told otherwise: $KVLAB_RESULTS, else ~/.local/share/kvlab/runs. */
export function defaultResultsDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['KVLAB_RESULTS'] ?? join(homedir(), '.local', 'share', 'kvlab', 'runs'));
}
