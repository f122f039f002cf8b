#!/usr/bin/env node
// `npm run setup:gpu`: installs onnxruntime-node's CUDA execution provider, which its npm package does not
// bundle (its install script downloads it from NuGet, and this project skips that script so that offline
// installs work: "allowScripts": {"onnxruntime-node": false} in package.json). README, "GPU inference".
//
//   npm run setup:gpu                       into this checkout's node_modules (npm start, kvlab serve, the CLI)
//   npm run setup:gpu -- --app <folder>     also copy it into an installed KV Lab (the folder holding its
//                                           resources/, e.g. an unpacked tar.gz, or /opt/KV Lab for the deb)
//   npm run setup:gpu -- --check            report only: driver, CUDA libraries, provider files, a CUDA session
//   npm run setup:gpu -- --reinstall        download again even if the files are there
//
// What a GPU needs (onnxruntime 1.30, CUDA 12 build): Linux x64, an NVIDIA driver for CUDA 12, and the CUDA 12
// runtime libraries (cudart, cuBLAS, cuFFT, cuRAND) and cuDNN 9 on the library path. Windows: onnxruntime-node's
// prebuilt Windows binaries have no CUDA provider; DirectML (dml) is bundled and uses any DirectX 12 GPU.
// macOS: Core ML (coreml) is bundled.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const ORT = join(ROOT, 'node_modules', 'onnxruntime-node');
const PROVIDER_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'];
/** The CUDA provider's own dependencies, as the dynamic loader names them (onnxruntime 1.30's CUDA 12 build). */
const CUDA_LIBS = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9'];

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const appIndex = args.indexOf('--app');
const appDir = appIndex >= 0 ? args[appIndex + 1] : undefined;
if (appIndex >= 0 && (appDir === undefined || appDir.startsWith('-'))) fail('--app needs the installed app’s folder');

function say(line = '') {
  console.log(line === '' ? '' : `setup:gpu: ${line}`);
}
function fail(line) {
  console.error(`setup:gpu: ${line}`);
  process.exit(1);
}

// A one-node graph (y = x + x) created on the CUDA provider, then run.
const PROBE = `
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
const { onnx } = onnxProto;
const vi = (name) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } });
const model = onnx.ModelProto.encode(onnx.ModelProto.create({
  irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
  graph: { name: 'probe', node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
})).finish();
const session = await ort.InferenceSession.create(model, { executionProviders: ['cuda'], logSeverityLevel: 3 });
const { y } = await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]) });
console.log('CUDA execution provider OK, 2·[1,2,3,4] = [' + Array.from(y.data).join(',') + ']');
`;

function readVersion() {
  try {
    return JSON.parse(readFileSync(join(ORT, 'package.json'), 'utf8')).version;
  } catch {
    return '';
  }
}

const platform = `${process.platform}/${process.arch}`;
if (process.platform === 'win32') {
  say('Windows: onnxruntime-node 1.30.0 has no CUDA provider for Windows (its prebuilt binaries ship CPU, DirectML and WebGPU).');
  say('DirectML is bundled and runs on NVIDIA, AMD and Intel GPUs with DirectX 12: choose "dml" in the app (Models → GPU setup) or pass --ep dml.');
  process.exit(0);
}
if (process.platform === 'darwin') {
  say('macOS: there is no CUDA on macOS. Core ML is bundled: choose "coreml" in the app (Models → GPU setup) or pass --ep coreml.');
  process.exit(0);
}
if (platform !== 'linux/x64') fail(`onnxruntime-node publishes its CUDA provider for linux/x64 only, not ${platform}; the CPU provider is what runs here`);
if (!existsSync(join(ORT, 'package.json'))) fail('onnxruntime-node is not installed here: run npm ci first');

const binDir = join(ORT, 'bin', 'napi-v6', 'linux', 'x64');
const installed = () => PROVIDER_FILES.every((f) => existsSync(join(binDir, f)));

// 1. The driver.
let driver = null;
try {
  driver = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 20_000 }).trim();
} catch {
  // reported below
}
if (driver) say(`NVIDIA driver: ${driver.split('\n').join('; ')}`);
else say('warning: nvidia-smi did not answer: no NVIDIA driver is installed or it is not loaded; CUDA will not work until it is');

// 2. The CUDA 12 runtime and cuDNN 9 libraries, as the dynamic loader sees them.
let ldcache = '';
try {
  ldcache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
} catch {
  try {
    ldcache = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
  } catch {
    // reported below
  }
}
const ldPath = (process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean);
const missing = CUDA_LIBS.filter((lib) => !ldcache.includes(lib) && !ldPath.some((d) => existsSync(join(d, lib))));
if (missing.length === 0) say(`CUDA 12 and cuDNN 9 libraries: found (${CUDA_LIBS.join(', ')})`);
else
  say(
    `warning: not on the library path: ${missing.join(', ')}. Install the CUDA 12 runtime and cuDNN 9 (NVIDIA's apt repository: ` +
      `cuda-libraries-12-x and libcudnn9-cuda-12; or pip's nvidia-*-cu12 wheels with their lib folders in LD_LIBRARY_PATH)`,
  );

// 3. The provider files.
if (flag('--check')) {
  say(installed() ? `CUDA provider: installed in ${binDir}` : `CUDA provider: not installed (run npm run setup:gpu)`);
} else if (installed() && !flag('--reinstall')) {
  say(`CUDA provider: already installed in ${binDir} (--reinstall downloads it again)`);
} else {
  say(`downloading the CUDA provider (Microsoft.ML.OnnxRuntime.Gpu.Linux ${readVersion()}, a few hundred MB, from api.nuget.org) …`);
  // ONNXRUNTIME_NODE_INSTALL=1 means "install this platform's extras" (cuda12 on linux/x64). The value "cuda12"
  // is NOT used: install-utils.js 1.30.0 returns nothing for it, after which the script skips the download
  // whenever npm's own variables say it runs inside this project (as under npm run).
  const dropped = /^(npm_config_onnxruntime_node_install|ONNXRUNTIME_NODE_INSTALL_CUDA$|npm_package_json$|npm_config_local_prefix$)/i;
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !dropped.test(k))), ONNXRUNTIME_NODE_INSTALL: '1' };
  const r = spawnSync(process.execPath, [join(ORT, 'script', 'install.js')], { cwd: ORT, env, stdio: 'inherit' });
  if (r.status !== 0 || !installed())
    fail(
      `the download failed (${r.status !== 0 ? `exit ${r.status ?? r.signal}` : 'files missing afterwards'}). It needs https access to api.nuget.org ` +
        '(a proxy goes in GLOBAL_AGENT_HTTPS_PROXY). Offline: copy ' +
        `${PROVIDER_FILES.join(', ')} from the NuGet package's runtimes/linux-x64/native/ into ${binDir}`,
    );
  say(`CUDA provider: installed in ${binDir}`);
}

// 4. Into an installed app: its onnxruntime binaries are unpacked from app.asar, and the provider goes beside them.
if (appDir !== undefined && installed()) {
  const target = join(resolve(appDir), 'resources', 'app.asar.unpacked', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
  if (!existsSync(join(target, 'onnxruntime_binding.node')))
    fail(`${target} has no onnxruntime_binding.node: --app takes the folder that holds KV Lab's resources/ (e.g. /opt/KV Lab)`);
  mkdirSync(target, { recursive: true });
  try {
    for (const f of PROVIDER_FILES) copyFileSync(join(binDir, f), join(target, f));
  } catch (e) {
    fail(`could not copy into ${target}: ${e.message} (a system-wide install needs sudo)`);
  }
  say(`copied the CUDA provider into ${target}`);
}

// 5. Does a CUDA session start? (The engine falls back to CPU and says why when it does not.)
if (installed()) {
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const out = `${probe.stdout}${probe.stderr}`.trim();
  if (probe.status === 0) say(`a CUDA session ran: ${out}`);
  else say(`a CUDA session could not start, so KV Lab will use the CPU: ${out.split('\n').slice(-3).join(' ')}`);
  say('');
  say('use it: npm start, then Models → GPU setup → cuda; or npm run demo:engine -- --model <file.gguf> --ep cuda');
  process.exit(probe.status === 0 ? 0 : 2);
}
