#!/usr/bin/env node
// `npm run build:shell`: bundles the Electron shell into dist/electron/ with esbuild
// (installed with tsx; the same version tsx runs our tests with).
//
//   main.mjs            the main process (ESM)
//   lab-process.mjs     the lab process: the service and the engine (Electron's utilityProcess, ESM)
//                       Both bundle our own code and @kvlab/core (whose exports are
//                       TypeScript sources) with its dependency zod; the packages in
//                       package.json's dependencies (onnxruntime-node's native binding,
//                       tokenizers…) stay external and load from node_modules, as they
//                       do under tsx and in the installed app, whose node_modules holds
//                       exactly those (build/electron-builder.config.mjs).
//   preload.cjs         the preload. Sandboxed preloads cannot load ES modules or
//                       packages at run time — they get a require() that knows only
//                       'electron' and a few builtins — so it is ONE minified CommonJS
//                       file with the contract and zod inlined; checked afterwards.
//
// The files sit two folders below the root like their sources (electron/host/…), so
// the modules that find the app root with import.meta.dirname + '../..' still do.
//
//   node scripts/build-shell.mjs [--out <dir>]
import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const outDir = values.out === undefined ? join(root, 'dist', 'electron') : isAbsolute(values.out) ? values.out : resolve(values.out);

let esbuild;
try {
  esbuild = createRequire(join(root, 'package.json'))('esbuild');
} catch {
  console.error('build-shell: esbuild is not installed (it comes with tsx); run npm ci');
  process.exit(1);
}

/** The package name of a bare import (`zod/v4` → `zod`, `@scope/pkg/x` → `@scope/pkg`). */
const packageName = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
// What an installed app has in node_modules: package.json's dependencies and theirs (electron-builder collects
// those). Anything else the bundles import, such as @kvlab/core's own dependency zod, is bundled.
const appDependencies = new Set(Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {}));

/** Keeps the app's npm dependencies, builtins and electron external; bundles our workspace package (TypeScript sources) and its dependencies. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = packageName(args.path);
      if (name === '@kvlab/core') return undefined;
      if (args.path.startsWith('node:') || builtinModules.includes(name) || name === 'electron' || appDependencies.has(name))
        return { path: args.path, external: true };
      return undefined;
    });
  },
};

// ESM bundles get a real `require`, in case a bundled CommonJS module asks for a builtin.
const esmBanner = "import { createRequire as __kvlabCreateRequire } from 'node:module'; const require = __kvlabCreateRequire(import.meta.url);";

const common = { absWorkingDir: root, bundle: true, sourcemap: 'linked', logLevel: 'warning', legalComments: 'none' };

const [mainBuild] = await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: [join(root, 'electron', 'main.ts')],
    outfile: join(outDir, 'main.mjs'),
    platform: 'node',
    format: 'esm',
    target: 'node22',
    plugins: [externalPackages],
    banner: { js: esmBanner },
    metafile: true,
  }),
  esbuild.build({
    ...common,
    entryPoints: [join(root, 'electron', 'preload.ts')],
    outfile: join(outDir, 'preload.cjs'),
    platform: 'browser',
    format: 'cjs',
    target: 'chrome130',
    external: ['electron'],
    minify: true,
  }),
  esbuild.build({
    ...common,
    entryPoints: [join(root, 'electron', 'host', 'lab-process.ts')],
    outfile: join(outDir, 'lab-process.mjs'),
    platform: 'node',
    format: 'esm',
    target: 'node22',
    plugins: [externalPackages],
    banner: { js: esmBanner },
  }),
]);

// The sandbox's require() throws for anything but these; a stray require would only show up as a blank window.
const SANDBOX_MODULES = new Set(['electron', 'events', 'timers', 'url']);
const preload = readFileSync(join(outDir, 'preload.cjs'), 'utf8');
const bad = [...preload.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]).filter((name) => !SANDBOX_MODULES.has(name));
if (bad.length > 0) {
  console.error(`build-shell: the preload requires ${[...new Set(bad)].join(', ')}, which a sandboxed preload cannot load`);
  process.exit(1);
}
// The engine belongs in its utility process. If the main bundle holds it, something the main process imports
// pulls the host in (e.g. a constant imported from lab-process.ts): the app still works, but the main process
// then loads onnxruntime at start-up for nothing.
const engineInMain = Object.keys(mainBuild.metafile.inputs).filter((f) => /electron\/host\/service\.ts$|electron\/engine\//.test(f));
if (engineInMain.length > 0)
  console.warn(`build-shell: warning: main.mjs bundles the engine host (${engineInMain.length} engine files, e.g. ${engineInMain[0]})`);
console.log(`build-shell: wrote main.mjs, preload.cjs, lab-process.mjs to ${outDir}`);
