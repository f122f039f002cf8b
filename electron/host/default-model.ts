/**
 * The model the app opens when the user has not picked one, resolved in ONE
 * place so the Electron shell, `kvlab serve`, `npm start` and the tests agree:
 *
 *   1. the bundled demo model: build/demo-model/kvlab-demo.gguf in a checkout
 *      (trained by build/demo-model/); in an installed app, where the installer
 *      put it, resources/models/kvlab-demo.gguf (an extraResource of
 *      build/electron-builder.config.mjs: a plain file beside app.asar);
 *   2. else the stories260K GGUF in the shared data folder ($KVLAB_SHARED, or
 *      ../shared next to the checkout) — what development machines have until
 *      the demo model exists.
 *
 * Anything else is a clear error that says where it looked and how to get a
 * model, never a silent null.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { APP_ROOT, PACKAGED_RESOURCES } from './paths.ts';

export const DEMO_MODEL_RELATIVE = join('build', 'demo-model', 'kvlab-demo.gguf');
/** Where an installed app holds the demo model, relative to its resources folder (the packaging config's extraResources `to`). */
export const PACKAGED_DEMO_MODEL_RELATIVE = join('models', 'kvlab-demo.gguf');

export interface DefaultModelOptions {
  /** Root the bundled model is looked up under (default APP_ROOT). */
  readonly appRoot?: string;
  /** An installed app's resources folder (default PACKAGED_RESOURCES; null in a checkout): the demo model is looked up there instead. */
  readonly resourcesDir?: string | null;
  readonly env?: NodeJS.ProcessEnv;
}

/** Where the default model is looked for, in order (for error messages and docs). */
export function defaultModelCandidates(opts: DefaultModelOptions = {}): { demo: string; sharedDir: string } {
  const root = opts.appRoot ?? APP_ROOT;
  const env = opts.env ?? process.env;
  const shared = resolve(env['KVLAB_SHARED'] ?? join(root, '..', 'shared'));
  const resources = opts.resourcesDir === undefined ? PACKAGED_RESOURCES : opts.resourcesDir;
  const demo = resources !== null ? join(resources, PACKAGED_DEMO_MODEL_RELATIVE) : join(root, DEMO_MODEL_RELATIVE);
  return { demo, sharedDir: join(shared, 'models', 'stories260K') };
}

/** The default model's absolute path; throws an Error naming every place it looked. */
export function defaultModelPath(opts: DefaultModelOptions = {}): string {
  const { demo, sharedDir } = defaultModelCandidates(opts);
  if (existsSync(demo)) return demo;
  let ggufs: string[] = [];
  try {
    ggufs = readdirSync(sharedDir)
      .filter((f) => /\.gguf$/i.test(f))
      .sort();
  } catch {
    // folder missing: reported below
  }
  const first = ggufs[0];
  if (first !== undefined) return join(sharedDir, first);
  throw new Error(
    `no default model: neither the bundled demo model ${demo} (built by build/demo-model/) ` +
      `nor a stories260K .gguf in ${sharedDir} (set KVLAB_SHARED to the shared data folder that holds models/stories260K/) exists; ` +
      `pass a model explicitly (kvlab serve --model <file.gguf>)`,
  );
}

/** defaultModelPath, or null when there is none (callers that can run without a default). */
export function findDefaultModel(opts: DefaultModelOptions = {}): string | null {
  try {
    return defaultModelPath(opts);
  } catch {
    return null;
  }
}
