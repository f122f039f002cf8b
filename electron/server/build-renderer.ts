/**
 * `kvlab serve` builds the UI on first use: when dist/renderer has no
 * index.html, renderer/vite.config.ts exists and vite is installed, it runs
 * vite's JS API build — the same build `npm run build:renderer` runs. Without
 * vite (a production install) the server serves a page that says how to
 * build instead.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { InlineConfig } from 'vite';
import { APP_ROOT, RENDERER_DIST } from '../host/paths.ts';

export type RendererState = 'built' | 'just-built' | 'no-config' | 'no-vite' | 'failed';

/** Builds dist/renderer if it is missing and can be built; never throws. `log` gets one line on failure. */
export async function ensureRendererBuilt(log: (line: string) => void, root: string = APP_ROOT, dist: string = RENDERER_DIST): Promise<RendererState> {
  if (existsSync(join(dist, 'index.html'))) return 'built';
  const configFile = join(root, 'renderer', 'vite.config.ts');
  if (!existsSync(configFile)) return 'no-config';
  let vite: { build(config: InlineConfig): Promise<unknown> };
  try {
    vite = await import('vite');
  } catch {
    log(`the UI is not built and vite is not installed: run npm run build:renderer`);
    return 'no-vite';
  }
  const cwd = process.cwd();
  try {
    // The config may use paths relative to the app root, as `npm run build:renderer` runs it there.
    process.chdir(root);
    log('building the UI (first start)…');
    await vite.build({ configFile, logLevel: 'warn' });
    return existsSync(join(dist, 'index.html')) ? 'just-built' : 'failed';
  } catch (e) {
    log(`building the UI failed: ${(e as Error).message.split('\n')[0] ?? ''}; run npm run build:renderer to see why`);
    return 'failed';
  } finally {
    process.chdir(cwd);
  }
}
