// electron-builder configuration for KV Lab's installers (docs/installers.md).
//
//   npm run dist                   this platform's installers (scripts/dist.mjs builds the UI and the shell first)
//   npm run dist -- --linux --dir  the unpacked app only
//
// Targets: Linux AppImage, deb and tar.gz (x64); macOS dmg (arm64, see MAC_ARCHS); Windows NSIS (x64).
// Offline, against a stand-in Electron, test/build/packaging.test.ts packages this config with --dir and
// tar.gz and checks the layout; the schema check runs there too.
//
// Environment:
//   KVLAB_DEMO_MODEL  the model file shipped as resources/models/kvlab-demo.gguf
//                     (default build/demo-model/kvlab-demo.gguf; the package has no model, with a warning, when it is missing)
//   KVLAB_DIST_DIR    where the renderer and shell builds are (default dist/; set by scripts/dist.mjs --stage)
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import process from 'node:process';

const ROOT = resolve(import.meta.dirname, '..');
const DEMO_MODEL = resolve(ROOT, process.env['KVLAB_DEMO_MODEL'] ?? 'build/demo-model/kvlab-demo.gguf');
/** The builds of the UI and the shell: dist/, unless scripts/dist.mjs --stage built them elsewhere. */
const DIST = resolve(ROOT, process.env['KVLAB_DIST_DIR'] ?? 'dist');
const hasDemoModel = existsSync(DEMO_MODEL);
if (!hasDemoModel)
  process.stderr.write(
    `electron-builder.config: ${DEMO_MODEL} does not exist: the package will have no bundled model, and the app will ask for one (docs/demo-model.md builds it)\n`,
  );

// onnxruntime-node 1.30.0 ships linux/{x64,arm64}, win32/{x64,arm64} and darwin/arm64 only: no Intel-Mac
// binary, so a macOS x64 build could not run the engine. Add 'x64' here when a version ships one
// (test/build/packaging.test.ts checks every arch listed below has onnxruntime binaries).
const MAC_ARCHS = ['arm64'];

/** onnxruntime-node's native binaries: every platform's are in the npm package (~300 MB); ship the target's only. */
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';

/**
 * The packages the main process and the engine load at run time: the bare imports scripts/build-shell.mjs
 * leaves external (test/build/packaging.test.ts checks this list against the bundles). package.json's other
 * dependencies (React, recharts, zustand and their ~6 MB of dependencies) are inside the renderer bundle.
 */
export const RUNTIME_PACKAGES = ['onnxruntime-node', 'onnx-proto', '@huggingface/jinja', '@huggingface/tokenizers'];

/** The packages to ship: RUNTIME_PACKAGES and their dependencies, as installed in node_modules (packages nested in another's node_modules come with it). */
export function runtimeClosure(roots = RUNTIME_PACKAGES, nodeModules = resolve(ROOT, 'node_modules')) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(resolve(nodeModules, name, 'package.json'), 'utf8'));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }))
      // Type declarations (protobufjs lists @types/node as a dependency) are never loaded.
      if (!dep.startsWith('@types/') && existsSync(resolve(nodeModules, dep, 'package.json'))) visit(dep);
  };
  roots.forEach(visit);
  return [...seen].sort();
}

/** @type {import('electron-builder').Configuration} */
const config = {
  appId: 'org.kvlab.desktop',
  productName: 'KV Lab',
  copyright: 'Copyright © 2026 KV Lab contributors',
  // Artefacts land in out/ (git-ignored); dist/ holds the builds of the renderer and the shell.
  directories: { output: 'out', buildResources: 'build' },
  artifactName: 'kv-lab-${version}-${os}-${arch}.${ext}',

  // What goes into app.asar: the bundles (package.json "main" is dist/electron/main.mjs), the built UI and
  // the run-time packages. @kvlab/core is not a separate package in the app: esbuild bundles it (and zod)
  // into main.mjs and lab-process.mjs (scripts/build-shell.mjs), and Vite bundles it into the renderer.
  // Later patterns override earlier ones.
  files: [
    'package.json',
    { from: resolve(DIST, 'electron'), to: 'dist/electron', filter: ['main.mjs', 'lab-process.mjs', 'preload.cjs'] },
    { from: resolve(DIST, 'renderer'), to: 'dist/renderer', filter: ['**/*'] },
    '!node_modules/**/*',
    ...runtimeClosure().map((name) => `node_modules/${name}/**/*`),
    // Only this target's onnxruntime binaries (${platform} is darwin/linux/win32, ${arch} x64/arm64).
    `!${ORT_BIN}/**/*`,
    `${ORT_BIN}/\${platform}/\${arch}/**/*`,
    // The install script that downloads the CUDA provider (npm run setup:gpu runs it from a checkout) and its TypeScript sources.
    '!node_modules/onnxruntime-node/script/**/*',
    '!node_modules/onnxruntime-node/lib/**/*',
    '!**/*.{md,markdown,map,ts,mts,cts}',
  ],
  // Native code cannot be loaded from inside an archive: Electron loads these from app.asar.unpacked.
  asarUnpack: [`${ORT_BIN}/**/*`],
  extraResources: hasDemoModel ? [{ from: DEMO_MODEL, to: 'models/kvlab-demo.gguf' }] : [],

  // onnxruntime-node is prebuilt N-API (ABI-stable across Node and Electron): nothing to rebuild.
  npmRebuild: false,
  nodeGypRebuild: false,
  // The UI is English only: drop Chromium's other locale files (~40 MB unpacked).
  electronLanguages: ['en-US'],

  // Electron fuses, flipped in the executable before signing (@electron/fuses; docs/installers.md).
  electronFuses: {
    runAsNode: false, // ELECTRON_RUN_AS_NODE ignored: the binary cannot be used as a plain Node (the engine uses utilityProcess, not fork)
    enableCookieEncryption: true, // the app sets no cookies; if anything ever does, they are encrypted at rest
    enableNodeOptionsEnvironmentVariable: false, // NODE_OPTIONS / NODE_EXTRA_CA_CERTS ignored
    enableNodeCliInspectArguments: false, // --inspect and SIGUSR1 do not start a debugger
    enableEmbeddedAsarIntegrityValidation: true, // macOS and Windows check app.asar against the hash in the signed binary
    onlyLoadAppFromAsar: true, // no resources/app folder can take app.asar's place
    grantFileProtocolExtraPrivileges: false, // pages come from app://kvlab, never file://
  },

  fileAssociations: [
    // Opening a .gguf (double-click, "Open with") adds it to the Models screen (electron/shell/open-files.ts).
    // Experiment files are plain .json, which an app cannot claim, and results are folders: neither is associated
    // (docs/installers.md, "File associations").
    { ext: 'gguf', name: 'GGUF model', description: 'GGUF language model', mimeType: 'application/x-gguf', role: 'Viewer', rank: 'Alternate' },
  ],

  linux: {
    target: [
      { target: 'AppImage', arch: ['x64'] },
      { target: 'deb', arch: ['x64'] },
      { target: 'tar.gz', arch: ['x64'] },
    ],
    executableName: 'kv-lab',
    icon: 'build/icons',
    category: 'Science',
    synopsis: 'A lab for KV-cache compression of language models',
    description: 'Load a language model, compress its KV cache with ZigZagKV, SnapKV, PyramidKV, H2O and others, and compare memory against accuracy.',
  },
  // deb also needs "homepage" and "author": { "name", "email" } in package.json (scripts/dist.mjs checks).
  deb: { artifactName: 'kv-lab_${version}_${arch}.${ext}' },

  mac: {
    target: [{ target: 'dmg', arch: MAC_ARCHS }],
    icon: 'build/icons/icon.icns',
    category: 'public.app-category.developer-tools',
    // Signed with CSC_LINK / CSC_KEY_PASSWORD (or a Developer ID in the keychain) and notarized when
    // APPLE_API_KEY + APPLE_API_KEY_ID + APPLE_API_ISSUER, or APPLE_ID + APPLE_APP_SPECIFIC_PASSWORD + APPLE_TEAM_ID, are set.
    hardenedRuntime: true,
  },
  dmg: { artifactName: 'kv-lab-${version}-mac-${arch}.${ext}' },

  win: {
    target: [{ target: 'nsis', arch: ['x64'] }],
    icon: 'build/icons/icon.ico',
    // Signed when CSC_LINK / CSC_KEY_PASSWORD (or WIN_CSC_LINK / WIN_CSC_KEY_PASSWORD) name a code-signing certificate.
  },
  nsis: {
    oneClick: false,
    perMachine: false,
    allowToChangeInstallationDirectory: true,
    artifactName: 'kv-lab-${version}-setup-${arch}.${ext}',
  },
};

export default config;
