/**
 * Files the operating system asks the app to open, through the installers'
 * file associations (build/electron-builder.config.mjs): a .gguf
 * double-clicked or "Opened with KV Lab". Linux and Windows pass it on the
 * command line (of the first instance, or of a second launch, which the
 * single-instance lock turns into 'second-instance'); macOS sends
 * 'open-file', possibly before the app is ready. main.ts hands each file to
 * the engine's openModel, which adds it to the Models screen.
 *
 * No electron import, so the tests run it under plain Node.
 */
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSOCIATED_MODEL_EXTENSIONS } from '@kvlab/core';

/** The extensions the installers associate with KV Lab: core's model formats that have an association. */
export const OPENABLE_EXTENSIONS: readonly string[] = ASSOCIATED_MODEL_EXTENSIONS;

export function isOpenableFile(path: string): boolean {
  return OPENABLE_EXTENSIONS.includes(extname(path).toLowerCase());
}

export interface ArgvOptions {
  /** The folder relative paths resolve against (the launching process's working directory). */
  readonly cwd: string;
  /** process.defaultApp: true under `electron <app folder>`, whose argv[1] is the app, not a file. */
  readonly defaultApp: boolean;
}

/**
 * The openable files a command line names: operands after the executable (and the app folder), never
 * switches, as absolute paths. Linux desktop entries pass `%U`, so an operand may be a file:// URL.
 */
export function filesFromArgv(argv: readonly string[] | undefined, opts: ArgvOptions): string[] {
  if (!argv) return [];
  const out: string[] = [];
  for (const a of argv.slice(opts.defaultApp ? 2 : 1)) {
    if (a === '' || a.startsWith('-')) continue;
    let path: string;
    try {
      path = a.startsWith('file://') ? fileURLToPath(a) : resolve(opts.cwd, a);
    } catch {
      continue; // a file:// URL naming another host
    }
    if (isOpenableFile(path)) out.push(path);
  }
  return out;
}
