/**
 * The installers' configuration (build/electron-builder.config.mjs) and what it packages.
 *
 * The Electron runtime cannot be downloaded on the project's machines (shared/docs/environment.md §3), so
 * `npm run dist` (scripts/dist.mjs, in --stage mode so the checkout's dist/ is left alone) packages for
 * linux/x64 against a STAND-IN Electron folder: a placeholder executable that carries Electron's fuse
 * sentinel and wire, a LICENSE, a version file and two locales. The test then reads what electron-builder
 * 26.17.0 produced, --dir and tar.gz (tar.gz needs the system's 7za: Debian p7zip-full, which .ci/run
 * installs):
 *
 *   - app.asar: package.json, the main / engine / preload bundles (with @kvlab/core inside them), the built
 *     renderer with every asset its index.html names; node_modules holds exactly the packages the bundles
 *     import and their dependencies, with nothing of React, recharts or type declarations;
 *   - app.asar.unpacked: onnxruntime-node's binaries for linux/x64 only (no darwin, win32 or linux/arm64);
 *   - resources/models/kvlab-demo.gguf: the bundled model, byte for byte, where the app looks for it;
 *   - the fuses electron-builder flipped in the (stand-in) executable, read back with @electron/fuses;
 *   - Chromium locales pruned to en-US; the executable renamed kv-lab;
 *   - the packaged engine bundle runs under plain Node from an extracted copy of the package, using only the
 *     package's own node_modules and onnxruntime binary (app info, and a generation when a model is at hand);
 *   - the payload stays under a size budget, printed.
 *
 * Also: the config passes electron-builder's own schema check offline (and a misspelt key fails it), every
 * architecture it targets has onnxruntime binaries, and the committed icons are the ones icon.svg makes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ASSOCIATED_MODEL_EXTENSIONS } from '@kvlab/core';
import { defaultModelCandidates, PACKAGED_DEMO_MODEL_RELATIVE } from '../../electron/host/default-model.ts';
import { createLabProcessClient } from '../../electron/host/lab-process-client.ts';
import { LAB_PROCESS_ENV } from '../../electron/host/protocol.ts';
import { unpackedPath } from '../../electron/host/execution-providers.ts';
import { APP_ROOT, packagedResources, RENDERER_DIST } from '../../electron/host/paths.ts';
import { utilitySpawner } from '../../electron/shell/lab-process.ts';
import { testCacheDir } from '../engine/engine-helpers.ts';
import { nodeForkSpawner } from '../shell/node-fork.ts';

const CONFIG_FILE = join(APP_ROOT, 'build', 'electron-builder.config.mjs');
const ELECTRON_VERSION = '41.7.1';
/** app.asar + app.asar.unpacked (the app without Electron itself and without the model). Today ≈ 52 MB, of which onnxruntime ≈ 45 MB. */
const PAYLOAD_BUDGET_BYTES = 64 * 1024 * 1024;
const SEVEN_ZIP = ['/usr/bin/7za', '/usr/local/bin/7za'].find((p) => existsSync(p));
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** @electron/fuses' FuseV1Options order, and the states Electron ships them in ('1' on, '0' off); Electron 41's wire has a 9th (WasmTrapHandlers). */
const FUSES = [
  'runAsNode',
  'enableCookieEncryption',
  'enableNodeOptionsEnvironmentVariable',
  'enableNodeCliInspectArguments',
  'enableEmbeddedAsarIntegrityValidation',
  'onlyLoadAppFromAsar',
  'loadBrowserProcessSpecificV8Snapshot',
  'grantFileProtocolExtraPrivileges',
] as const;
const ELECTRON_DEFAULT_WIRE = '101100011';

const NOT_PROVEN = [
  'What this test does NOT prove:',
  '  - that the real Electron binary starts from this layout: the executable here is a stand-in (no Electron can be downloaded on these machines);',
  '  - that Electron honours the fuses: they are flipped in the stand-in, and asar integrity is only enforced on macOS and Windows;',
  '  - that utilityProcess.fork runs dist/electron/lab-process.mjs from inside app.asar, or that onnxruntime-node loads from app.asar.unpacked inside Electron;',
  '  - the AppImage, deb, dmg and NSIS targets (their tools download from GitHub), signing and notarization;',
  '  - the macOS and Windows layouts (only linux/x64 is packaged here).',
].join('\n');

// --- electron-builder's own modules, resolved from where electron-builder is installed -------------------

const requireFromBuilder = createRequire(createRequire(join(APP_ROOT, 'package.json')).resolve('electron-builder/package.json'));
const requireFromLib = createRequire(requireFromBuilder.resolve('app-builder-lib/package.json'));

interface AsarModule {
  listPackage(archive: string, options: { isPack: boolean }): string[];
  extractFile(archive: string, file: string): Buffer;
  extractAll(archive: string, dest: string): void;
  getRawHeader(archive: string): { header: AsarDir };
}
interface AsarDir {
  files: Record<string, AsarDir | AsarFile>;
}
interface AsarFile {
  size?: number;
  unpacked?: boolean;
}
const asar = requireFromLib('@electron/asar') as AsarModule;
const fuses = requireFromLib('@electron/fuses') as { getCurrentFuseWire(path: string): Promise<Record<string, unknown>> };

interface BuilderConfig {
  readonly electronFuses: Record<string, boolean>;
  readonly mac: { readonly target: readonly { readonly target: string; readonly arch: readonly string[] }[] };
  readonly win: { readonly target: readonly { readonly target: string; readonly arch: readonly string[] }[] };
  readonly linux: { readonly target: readonly { readonly target: string; readonly arch: readonly string[] }[]; readonly executableName: string };
  readonly extraResources: readonly { readonly from: string; readonly to: string }[];
  readonly [key: string]: unknown;
}
interface ConfigModule {
  readonly default: BuilderConfig;
  readonly RUNTIME_PACKAGES: readonly string[];
}
const loadConfig = async (): Promise<ConfigModule> => (await import(pathToFileURL(CONFIG_FILE).href)) as ConfigModule;

async function validate(config: unknown): Promise<void> {
  const { validateConfiguration } = requireFromLib('./out/util/config/config.js') as {
    validateConfiguration(c: unknown, logger: unknown): Promise<void>;
  };
  const { DebugLogger } = requireFromLib('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
  await validateConfiguration(config, new DebugLogger(false));
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function duBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + duBytes(join(path, name)), 0);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)));
}

/** The bare package names a bundle imports (static imports, dynamic imports and requires), builtins excluded. */
function bareImports(code: string): Set<string> {
  const out = new Set<string>();
  for (const m of code.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? '';
    if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/.*)?$/i.test(spec) || spec.startsWith('node:')) continue;
    const name = spec
      .split('/')
      .slice(0, spec.startsWith('@') ? 2 : 1)
      .join('/');
    if (builtinModules.includes(name) || name === 'electron') continue;
    out.add(name);
  }
  return out;
}

/** A folder electron-builder accepts as an unpacked Electron: the executable (a shell script carrying the fuse wire), licences, version, two locales. */
function makeStandInElectron(dir: string): void {
  mkdirSync(join(dir, 'locales'), { recursive: true });
  mkdirSync(join(dir, 'resources'), { recursive: true });
  const exe = join(dir, 'electron');
  const wire = Buffer.concat([Buffer.from(FUSE_SENTINEL), Buffer.from([1, ELECTRON_DEFAULT_WIRE.length]), Buffer.from(ELECTRON_DEFAULT_WIRE)]);
  writeFileSync(exe, Buffer.concat([Buffer.from('#!/bin/sh\necho "stand-in for Electron: not runnable" >&2\nexit 1\n# '), wire, Buffer.from('\n')]));
  chmodSync(exe, 0o755);
  writeFileSync(join(dir, 'LICENSE'), 'stand-in');
  writeFileSync(join(dir, 'LICENSES.chromium.html'), 'stand-in');
  writeFileSync(join(dir, 'version'), ELECTRON_VERSION);
  writeFileSync(join(dir, 'locales', 'en-US.pak'), 'stand-in');
  writeFileSync(join(dir, 'locales', 'de.pak'), 'stand-in');
}

// --- checks that need no packaging --------------------------------------------------------------------

describe('installer configuration', () => {
  it("passes electron-builder 26.17.0's schema check offline, and a misspelt key fails it", async () => {
    const { default: config } = await loadConfig();
    await validate(structuredClone(config));
    await assert.rejects(validate({ ...structuredClone(config), electronFuses: { ...config.electronFuses, runAsNod: false } }), /configuration\.electronFuses/);
    await assert.rejects(validate({ ...structuredClone(config), linux: { ...config.linux, targett: 'deb' } }), /configuration\.linux/);
  });

  it('targets Linux AppImage/deb/tar.gz, macOS dmg and Windows NSIS, each arch with onnxruntime binaries in the npm package', async () => {
    const { default: config } = await loadConfig();
    const targets = (p: { target: readonly { target: string; arch: readonly string[] }[] }) => p.target.map((t) => t.target);
    assert.deepEqual(targets(config.linux), ['AppImage', 'deb', 'tar.gz']);
    assert.deepEqual(targets(config.mac), ['dmg']);
    assert.deepEqual(targets(config.win), ['nsis']);
    assert.equal(config['appId'], 'org.kvlab.desktop');
    assert.equal(config['productName'], 'KV Lab');
    const ortBin = join(APP_ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    for (const [platform, spec] of [
      ['linux', config.linux],
      ['darwin', config.mac],
      ['win32', config.win],
    ] as const)
      for (const t of spec.target)
        for (const arch of t.arch)
          assert.ok(
            existsSync(join(ortBin, platform, arch, 'onnxruntime_binding.node')),
            `${t.target} ${arch}: onnxruntime-node has no ${platform}/${arch} binary`,
          );
    // The reason macOS x64 is not a target: the package has no binary for it (add it when one ships).
    assert.equal(existsSync(join(ortBin, 'darwin', 'x64')), false, 'onnxruntime-node now ships darwin/x64: add x64 to MAC_ARCHS');
  });

  it('sets the fuses: RunAsNode, NODE_OPTIONS, --inspect and file:// privileges off; asar-only loading, asar integrity and cookie encryption on', async () => {
    const { default: config } = await loadConfig();
    assert.deepEqual(config.electronFuses, {
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
    assert.equal(config['asar'] ?? true, true, 'asar on (the default)');
    assert.deepEqual(config['fileAssociations'], [
      { ext: 'gguf', name: 'GGUF model', description: 'GGUF language model', mimeType: 'application/x-gguf', role: 'Viewer', rank: 'Alternate' },
    ]);
    // The config is plain JavaScript and cannot import core's TypeScript, so it restates the associated
    // extensions; this keeps it equal to core's format list.
    const associated = (config['fileAssociations'] as { ext: string }[]).map((a) => `.${a.ext}`);
    assert.deepEqual(associated, [...ASSOCIATED_MODEL_EXTENSIONS]);
  });

  it('ships the icons icon.svg makes (scripts/make-icons.mjs): every size, a valid .ico and .icns', () => {
    const dir = join(APP_ROOT, 'build', 'icons');
    const manifest = JSON.parse(readFileSync(join(dir, 'icons.json'), 'utf8')) as { sourceSha256: string; files: Record<string, string> };
    assert.equal(
      sha256(readFileSync(join(dir, 'icon.svg'))),
      manifest.sourceSha256,
      'icon.svg changed: run node scripts/make-icons.mjs and commit what it writes',
    );
    for (const [name, hash] of Object.entries(manifest.files))
      assert.equal(sha256(readFileSync(join(dir, name))), hash, `${name} is not what make-icons wrote`);
    for (const s of [16, 24, 32, 48, 64, 128, 256, 512, 1024]) {
      const png = readFileSync(join(dir, `${s}x${s}.png`));
      assert.equal(png.readUInt32BE(16), s, `${s}x${s}.png width`);
      assert.equal(png.readUInt32BE(20), s, `${s}x${s}.png height`);
    }
    const ico = readFileSync(join(dir, 'icon.ico'));
    assert.deepEqual([ico.readUInt16LE(0), ico.readUInt16LE(2)], [0, 1], 'ICO header');
    const sizes: number[] = [];
    for (let i = 0; i < ico.readUInt16LE(4); i++) {
      const e = 6 + 16 * i;
      const size = ico[e] || 256;
      const len = ico.readUInt32LE(e + 8);
      const off = ico.readUInt32LE(e + 12);
      assert.ok(off + len <= ico.length, 'ICO entry inside the file');
      const isPng = ico.readUInt32BE(off) === 0x89504e47;
      if (isPng) assert.equal(ico.readUInt32BE(off + 16), size);
      else
        assert.deepEqual(
          [ico.readUInt32LE(off), ico.readInt32LE(off + 4), ico.readInt32LE(off + 8), ico.readUInt16LE(off + 14)],
          [40, size, 2 * size, 32],
          'BMP entry',
        );
      sizes.push(size);
    }
    assert.deepEqual(sizes, [16, 24, 32, 48, 64, 128, 256]);
    const icns = readFileSync(join(dir, 'icon.icns'));
    assert.equal(icns.toString('latin1', 0, 4), 'icns');
    assert.equal(icns.readUInt32BE(4), icns.length);
    const types: string[] = [];
    for (let off = 8; off < icns.length; off += icns.readUInt32BE(off + 4)) types.push(icns.toString('latin1', off, off + 4));
    assert.deepEqual(types.sort(), ['ic07', 'ic08', 'ic09', 'ic10', 'ic11', 'ic12', 'ic13', 'ic14', 'icp4', 'icp5', 'icp6']);
  });

  it('finds the model and the CUDA provider folder in an installed layout', () => {
    const res = join('/opt', 'KV Lab', 'resources');
    assert.equal(packagedResources(join(res, 'app.asar'), res), res);
    assert.equal(packagedResources(join(res, 'app.asar'), undefined), res, 'without process.resourcesPath, the asar’s folder');
    assert.equal(packagedResources(APP_ROOT, '/elsewhere'), null, 'a checkout is not packaged, even under `electron .`');
    assert.equal(defaultModelCandidates({ appRoot: join(res, 'app.asar'), resourcesDir: res }).demo, join(res, 'models', 'kvlab-demo.gguf'));
    assert.equal(defaultModelCandidates({ resourcesDir: null }).demo, join(APP_ROOT, 'build', 'demo-model', 'kvlab-demo.gguf'));
    assert.equal(
      unpackedPath('/opt/KV Lab/resources/app.asar/node_modules/onnxruntime-node/bin'),
      '/opt/KV Lab/resources/app.asar.unpacked/node_modules/onnxruntime-node/bin',
    );
    assert.equal(unpackedPath('/work/node_modules/onnxruntime-node/bin'), '/work/node_modules/onnxruntime-node/bin');
  });
});

// --- packaging against a stand-in Electron ---------------------------------------------------------

describe('npm run dist against a stand-in Electron (linux/x64: --dir and tar.gz)', () => {
  const work = mkdtempSync(join(tmpdir(), 'kvlab-packaging-'));
  const out = join(work, 'out');
  const unpacked = join(out, 'linux-unpacked');
  const resources = join(unpacked, 'resources');
  const archive = join(resources, 'app.asar');
  const realModel = join(APP_ROOT, 'build', 'demo-model', 'kvlab-demo.gguf');
  const model = existsSync(realModel) ? realModel : join(work, 'kvlab-demo.gguf');
  const children: ChildProcess[] = [];
  let listing: string[] = [];
  let runtimePackages: readonly string[] = [];
  let buildSeconds = 0;

  before(async () => {
    const standIn = join(work, 'electron-dist');
    makeStandInElectron(standIn);
    if (model !== realModel) writeFileSync(model, 'GGUF stand-in: build/demo-model/kvlab-demo.gguf does not exist in this checkout yet\n');
    ({ RUNTIME_PACKAGES: runtimePackages } = await loadConfig());
    const t0 = Date.now();
    const r = spawnSync(
      process.execPath,
      [
        join(APP_ROOT, 'scripts', 'dist.mjs'),
        '--stage',
        join(work, 'stage'),
        '--linux',
        'dir',
        ...(SEVEN_ZIP ? ['tar.gz'] : []),
        '--x64',
        `-c.electronDist=${standIn}`,
        `-c.electronVersion=${ELECTRON_VERSION}`,
        `-c.directories.output=${out}`,
        '-c.compression=store',
      ],
      {
        cwd: APP_ROOT,
        encoding: 'utf8',
        timeout: 240_000,
        env: { ...process.env, KVLAB_DEMO_MODEL: model, ...(SEVEN_ZIP ? { ELECTRON_BUILDER_7ZIP_PATH: SEVEN_ZIP } : {}) },
      },
    );
    buildSeconds = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, `npm run dist failed:\n${r.stdout}\n${r.stderr}`);
    listing = asar.listPackage(archive, { isPack: false }).map((f) => f.replace(/\\/g, '/'));
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('app.asar holds package.json, the three bundles (with @kvlab/core inside) and the built UI with every asset it names', (t) => {
    t.diagnostic(`packaged in ${buildSeconds.toFixed(0)} s (renderer and shell builds, then electron-builder)`);
    const pkg = JSON.parse(asar.extractFile(archive, 'package.json').toString('utf8')) as { main: string; version: string };
    assert.equal(pkg.main, 'dist/electron/main.mjs');
    for (const f of ['/package.json', '/dist/electron/main.mjs', '/dist/electron/lab-process.mjs', '/dist/electron/preload.cjs', '/dist/renderer/index.html'])
      assert.ok(listing.includes(f), `${f} in app.asar`);
    assert.equal(listing.filter((f) => f.endsWith('.map')).length, 0, 'no source maps');
    // The renderer sits where paths.ts looks for it, relative to the app root (app.asar when packaged).
    assert.ok(listing.includes(`/${relative(APP_ROOT, RENDERER_DIST).replace(/\\/g, '/')}/index.html`));
    const html = asar.extractFile(archive, 'dist/renderer/index.html').toString('utf8');
    const assets = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(
      assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')),
      `index.html names its script and stylesheet: ${assets.join(', ')}`,
    );
    for (const a of assets) assert.ok(listing.includes(`/dist/renderer/${a}`), `${a} (named by index.html) in app.asar`);
    // @kvlab/core is compiled into the bundles, not shipped as a package.
    const mainJs = asar.extractFile(archive, 'dist/electron/main.mjs').toString('utf8');
    const engineJs = asar.extractFile(archive, 'dist/electron/lab-process.mjs').toString('utf8');
    for (const code of [mainJs, engineJs]) {
      assert.ok(!/["']@kvlab\/core["']/.test(code), 'no import of @kvlab/core left');
      assert.match(code, /zigzagkv/, "core's method registry is inside");
    }
    assert.ok(!listing.some((f) => f.startsWith('/node_modules/@kvlab/') || f.startsWith('/core/')), 'no @kvlab/core package or core/ sources');
  });

  it('node_modules holds exactly what the bundles import, with its dependencies, and no React, recharts or type declarations', () => {
    const imported = new Set<string>();
    for (const f of ['dist/electron/main.mjs', 'dist/electron/lab-process.mjs'])
      for (const name of bareImports(asar.extractFile(archive, f).toString('utf8'))) imported.add(name);
    assert.deepEqual([...imported].sort(), [...runtimePackages].sort(), 'RUNTIME_PACKAGES in the config = the bundles’ bare imports');
    const packages = new Set(
      listing.map((f) => /^\/node_modules\/((?:@[^/]+\/)?[^/]+)\/package\.json$/.exec(f)?.[1]).filter((n): n is string => n !== undefined),
    );
    for (const name of packages) {
      const pkg = JSON.parse(asar.extractFile(archive, `node_modules/${name}/package.json`).toString('utf8')) as { dependencies?: Record<string, string> };
      for (const dep of Object.keys(pkg.dependencies ?? {}))
        if (!dep.startsWith('@types/'))
          assert.ok(
            packages.has(dep) || listing.includes(`/node_modules/${name}/node_modules/${dep}/package.json`),
            `${name} needs ${dep}, which is not in app.asar`,
          );
    }
    for (const name of imported) assert.ok(packages.has(name), `${name} in app.asar`);
    for (const name of ['react', 'react-dom', 'recharts', 'zustand', 'victory-vendor', 'es-toolkit', '@reduxjs/toolkit', 'electron', 'typescript', 'vite'])
      assert.ok(!packages.has(name), `${name} is not shipped`);
    assert.ok(!listing.some((f) => f.startsWith('/node_modules/@types/') || f.endsWith('.d.ts')), 'no type declarations');
    assert.ok(!listing.some((f) => f.startsWith('/node_modules/onnxruntime-node/script/')), "onnxruntime-node's install script is not shipped");
  });

  it("app.asar.unpacked holds onnxruntime-node's binaries for linux/x64 only", () => {
    const bin = join(resources, 'app.asar.unpacked', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    assert.deepEqual(readdirSync(bin), ['linux']);
    assert.deepEqual(readdirSync(join(bin, 'linux')), ['x64']);
    assert.deepEqual(readdirSync(join(bin, 'linux', 'x64')).sort(), ['libonnxruntime.so.1', 'onnxruntime_binding.node']);
    for (const f of ['libonnxruntime.so.1', 'onnxruntime_binding.node'])
      assert.equal(
        sha256(readFileSync(join(bin, 'linux', 'x64', f))),
        sha256(readFileSync(join(APP_ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', f))),
        `${f} is onnxruntime-node's`,
      );
    // Electron reads them through the archive's index, which must mark them unpacked.
    const header = asar.getRawHeader(archive).header;
    const entry = ['node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'onnxruntime_binding.node'].reduce<AsarDir | AsarFile | undefined>(
      (node, part) => (node && 'files' in node ? node.files[part] : undefined),
      header,
    ) as AsarFile | undefined;
    assert.equal(entry?.unpacked, true, 'onnxruntime_binding.node is marked unpacked in app.asar');
    const everything = [...listing, ...filesUnder(join(resources, 'app.asar.unpacked')).map((f) => `/${f}`)];
    for (const other of ['darwin', 'win32', 'linux/arm64']) assert.ok(!everything.some((f) => f.includes(`/napi-v6/${other}`)), `no ${other} binaries`);
    assert.ok(!everything.some((f) => /\.(dll|dylib)$/.test(f)), 'no Windows or macOS libraries');
  });

  it('carries the WebGPU provider inside its libonnxruntime (nothing extra to ship) and no CUDA files', () => {
    // onnxruntime-node's prebuilt Linux x64 library contains Dawn and the WebGPU provider; the provider's
    // registered name is in the binary. CUDA's provider is a separate library setup:gpu downloads: never shipped.
    const lib = readFileSync(join(resources, 'app.asar.unpacked', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1'));
    assert.ok(lib.includes('WebGpuExecutionProvider'), 'the packaged libonnxruntime.so.1 has the WebGPU provider');
    const everything = [...listing, ...filesUnder(join(resources, 'app.asar.unpacked')).map((f) => `/${f}`)];
    assert.deepEqual(
      everything.filter((f) => /cuda|cudnn|cublas|tensorrt/i.test(f)),
      [],
      'no CUDA, cuDNN or TensorRT files in the package',
    );
  });

  it('ships the bundled model as resources/models/kvlab-demo.gguf, where the installed app looks for it', (t) => {
    if (model !== realModel) t.diagnostic(`build/demo-model/kvlab-demo.gguf does not exist yet: packaged a stand-in file (${model}) in its place`);
    const packaged = join(resources, PACKAGED_DEMO_MODEL_RELATIVE);
    assert.equal(sha256(readFileSync(packaged)), sha256(readFileSync(model)), 'the same bytes as the source');
    const appRoot = join(resources, 'app.asar');
    const candidates = defaultModelCandidates({ appRoot, resourcesDir: packagedResources(appRoot, undefined) });
    assert.equal(candidates.demo, packaged);
  });

  it('flips the configured fuses in the executable (read back from the stand-in), renamed kv-lab; keeps only the en-US locale', async () => {
    const { default: config } = await loadConfig();
    const exe = join(unpacked, config.linux.executableName);
    assert.ok(existsSync(exe), 'the executable is renamed kv-lab');
    const wire = await fuses.getCurrentFuseWire(exe);
    FUSES.forEach((name, i) => {
      const want = config.electronFuses[name];
      const state = String.fromCharCode(Number(wire[i]));
      assert.equal(state, want === undefined ? ELECTRON_DEFAULT_WIRE[i] : want ? '1' : '0', `fuse ${name}`);
    });
    assert.equal(String.fromCharCode(Number(wire[8])), '1', 'the fuse @electron/fuses does not know (WasmTrapHandlers) is left alone');
    assert.deepEqual(readdirSync(join(unpacked, 'locales')), ['en-US.pak']);
  });

  it('tar.gz holds the same app', { skip: SEVEN_ZIP === undefined && 'no 7za (apt-get install p7zip-full)' }, () => {
    const tgz = readdirSync(out).find((f) => f.endsWith('.tar.gz'));
    assert.equal(tgz, 'kv-lab-0.1.0-linux-x64.tar.gz');
    const r = spawnSync('tar', ['tzf', join(out, tgz)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, r.stderr);
    const entries = r.stdout.split('\n').filter(Boolean);
    const top = 'kv-lab-0.1.0-linux-x64/';
    for (const f of [
      'kv-lab',
      'resources/app.asar',
      'resources/models/kvlab-demo.gguf',
      'resources/app.asar.unpacked/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    ])
      assert.ok(entries.includes(top + f), `${f} in the tar.gz`);
    assert.ok(!entries.some((e) => /napi-v6\/(darwin|win32)/.test(e)));
  });

  it('the packaged engine runs under plain Node from an extracted copy, on its own node_modules and onnxruntime binary', async (t: TestContext) => {
    // resources/app.asar/ as a folder, so APP_ROOT in the child is an app.asar as in the installed app.
    const copy = join(work, 'extracted', 'resources');
    asar.extractAll(archive, join(copy, 'app.asar'));
    cpSync(join(resources, 'models'), join(copy, 'models'), { recursive: true });
    assert.ok(!existsSync(join(dirname(copy), 'node_modules')) && !existsSync(join(work, 'node_modules')), 'no node_modules above the copy');
    const shared = join(APP_ROOT, '..', 'shared', 'models', 'stories260K', 'stories260K.gguf');
    const runnable = model === realModel ? join(copy, PACKAGED_DEMO_MODEL_RELATIVE) : existsSync(shared) ? shared : null;
    const nodeFork = nodeForkSpawner(children, copy);
    const env: Record<string, string | undefined> = { ...process.env, [LAB_PROCESS_ENV]: '1', NODE_PATH: undefined, NODE_OPTIONS: undefined };
    const client = createLabProcessClient({
      init: { resultsDir: join(work, 'runs'), defaultModel: runnable, mode: 'electron', cacheDir: testCacheDir() },
      spawn: utilitySpawner(nodeFork, { entry: join(copy, 'app.asar', 'dist', 'electron', 'lab-process.mjs'), env }),
      closeTimeoutMs: 10_000,
    });
    try {
      const info = await client.getAppInfo({});
      assert.equal(info.version, '0.1.0', "the version read from the package's own package.json");
      // Before a model is loaded the app reports the requested choice: 'auto', the default setting.
      assert.equal(info.executionProvider, 'auto');
      assert.equal(info.executionProviders.find((p) => p.id === 'cpu')?.available, true);
      if (runnable === null) {
        t.diagnostic('no runnable model here (no demo model, no ../shared stories260K): generation not tried');
        return;
      }
      const p = await client.runPlayground({
        modelId: info.defaultModelId ?? '',
        prompt: 'Once upon a time there was a little girl named Lily. She liked to play in the park with her friends.',
        maxNewTokens: 4,
        configs: [{ method: 'snapkv', budget: '50%' }],
        chatTemplate: false,
      });
      assert.ok(p.results.every((r) => r.generatedTokens > 0));
      t.diagnostic(`generated with ${relative(APP_ROOT, runnable).startsWith('..') ? runnable : relative(APP_ROOT, runnable)} from the packaged engine`);
    } finally {
      await client.close();
    }
  });

  it(`stays under the size budget (${mib(PAYLOAD_BUDGET_BYTES)} for app.asar + app.asar.unpacked), and says what is not proven`, (t) => {
    const asarBytes = statSync(archive).size;
    const unpackedBytes = duBytes(join(resources, 'app.asar.unpacked'));
    const modelBytes = statSync(join(resources, PACKAGED_DEMO_MODEL_RELATIVE)).size;
    const allOrt = duBytes(join(APP_ROOT, 'node_modules', 'onnxruntime-node', 'bin'));
    const tgz = readdirSync(out).find((f) => f.endsWith('.tar.gz'));
    const lines = [
      `app.asar ${mib(asarBytes)} + app.asar.unpacked ${mib(unpackedBytes)} = ${mib(asarBytes + unpackedBytes)} (budget ${mib(PAYLOAD_BUDGET_BYTES)})`,
      `bundled model ${mib(modelBytes)}${model === realModel ? '' : ' (a stand-in)'}; onnxruntime-node for every platform would be ${mib(allOrt)}`,
      ...(tgz ? [`${tgz}: ${mib(statSync(join(out, tgz)).size)} (stored with -c.compression=store; Electron itself not included: a stand-in)`] : []),
    ];
    for (const l of [...lines, ...NOT_PROVEN.split('\n')]) t.diagnostic(l);
    assert.ok(asarBytes + unpackedBytes < PAYLOAD_BUDGET_BYTES, lines[0]);
  });
});
