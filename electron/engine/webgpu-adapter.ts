/**
 * Which GPU adapter onnxruntime's WebGPU provider would run on, learnt from a
 * short probe process.
 *
 * onnxruntime-node 1.30 says nothing about the adapter: no API returns it, the
 * verbose session log prints only "WebGPU EP Context is created for:
 * Instance=0x…, Device=0x…", and profiling records the provider per node but
 * not the device (all checked; docs/engine.md "WebGPU"). Dawn picks the
 * adapter itself (power preference "high-performance": a discrete GPU before
 * an integrated one before a CPU rasteriser). So the probe starts a
 * one-node WebGPU session in a child process — the same onnxruntime, the same
 * environment — and on Linux sets VK_LOADER_DEBUG=driver, which makes the
 * Vulkan loader print the physical devices it hands Dawn ("Sorted order: [0]
 * SwiftShader Device (Subzero)"). Where no device list is printed (Windows,
 * macOS), the name stays unknown.
 *
 * A software adapter (SwiftShader, llvmpipe, WARP) is recognised by its
 * device name: it computes correct results on the CPU, slowly, and must never
 * be taken for a GPU.
 *
 * Inside Electron (the app's engine process) there is no plain Node to start:
 * the packaged app's RunAsNode fuse is off, so process.execPath would launch
 * the app itself. There the probe runs in-process and, on Linux, reads which
 * Vulkan drivers the loader mapped into the process (/proc/self/maps against
 * the drivers' manifests): software only when every mapped driver is
 * SwiftShader or lavapipe. It learns no device name.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import type { GpuAdapterInfo } from '@kvlab/core';
import ort from 'onnxruntime-node';
import { OnnxGraph } from './graph/onnx-builder.ts';

export type { GpuAdapterInfo };

/** What the probe found: an adapter that ran a WebGPU session, or why none did. */
export type WebGpuProbe = { readonly ok: true; readonly adapter: GpuAdapterInfo } | { readonly ok: false; readonly reason: string };

/** Device names of CPU rasterisers that pose as GPUs (Vulkan: SwiftShader, lavapipe = "llvmpipe (LLVM …)"; D3D12: WARP). */
const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

export function isSoftwareAdapterName(name: string): boolean {
  return SOFTWARE_NAMES.test(name);
}

/** Dawn's default backend per platform (onnxruntime leaves dawnBackendType unset). */
export function dawnBackend(platform: NodeJS.Platform = process.platform): GpuAdapterInfo['backend'] {
  return platform === 'win32' ? 'd3d12' : platform === 'darwin' ? 'metal' : 'vulkan';
}

/**
 * The Vulkan loader's device list from its VK_LOADER_DEBUG=driver log: the
 * last "Sorted order:" block (the order Dawn receives them in). Empty when the
 * log has none.
 */
export function parseVulkanDevices(log: string): string[] {
  const lines = log.split('\n');
  let devices: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/Sorted order:/.test(lines[i] ?? '')) continue;
    const block: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const m = /DRIVER:\s+\[\d+\]\s+(.*?)\s*$/.exec(lines[j] ?? '');
      if (!m?.[1]) break;
      block.push(m[1]);
    }
    if (block.length > 0) devices = block;
  }
  return devices;
}

/**
 * The adapter Dawn takes from the loader's device list: with the
 * high-performance preference a hardware device wins over a software one, so
 * the adapter is software only when every device is.
 */
export function adapterFromDevices(devices: readonly string[], platform: NodeJS.Platform = process.platform): GpuAdapterInfo {
  const backend = dawnBackend(platform);
  const hardware = devices.find((d) => !isSoftwareAdapterName(d));
  if (devices.length > 0) {
    return {
      name: hardware ?? devices[0] ?? null,
      backend,
      software: hardware === undefined,
      source: `Vulkan loader device list (${devices.join('; ')})`,
    };
  }
  // Metal has no software device; on Windows Dawn may fall back to WARP, which the probe cannot see.
  return {
    name: null,
    backend,
    software: platform === 'darwin' ? false : null,
    source: 'onnxruntime-node does not report the adapter; no device list on this platform',
  };
}

/**
 * The probe process: loads onnxruntime-node, runs a one-node (Add) model on
 * the WebGPU provider alone, prints "ok" or the error. The model is inlined
 * (ONNX protobuf, base64) so the probe needs no file.
 */
const PROBE_SCRIPT = `
const ort = require(process.argv[1]);
const model = Buffer.from(process.argv[2], 'base64');
(async () => {
  try {
    const s = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
    const x = new ort.Tensor('float32', Float32Array.of(1), [1]);
    const out = await s.run({ x });
    await s.release();
    process.stdout.write(out.y.data[0] === 2 ? 'ok' : 'wrong result ' + out.y.data[0]);
  } catch (e) {
    process.stdout.write('error ' + String(e && e.message || e).split('\\n')[0]);
  }
})();
`;

/** ONNX model `y = x + x` over float[1], base64 for the probe's command line. */
function addModel(): string {
  const g = new OnnxGraph('unused.data');
  g.input('x', 'float', [1]);
  g.op('Add', ['x', 'x'], {}, { name: 'y' });
  g.output('y', 'float', [1]);
  return Buffer.from(g.serialize('probe', 17).model).toString('base64');
}

let cached: Promise<WebGpuProbe> | undefined;

/**
 * Probes once per process (the adapter does not change while it runs; a
 * probe takes about a second). `timeoutMs` bounds a driver that hangs.
 */
export function probeWebGpu(timeoutMs = 60_000): Promise<WebGpuProbe> {
  cached ??= process.versions['electron'] ? probeInProcess() : runProbe(timeoutMs);
  return cached;
}

/** Vulkan driver (ICD) libraries named by the manifests the loader reads: VK_ICD_FILENAMES / VK_DRIVER_FILES, else the standard folders. */
function vulkanDriverLibraries(): string[] {
  const listed = (process.env['VK_DRIVER_FILES'] ?? process.env['VK_ICD_FILENAMES'])?.split(':').filter(Boolean);
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  const manifests = listed ?? dirs.filter(existsSync).flatMap((d) => readdirSync(d).map((f) => join(d, f)));
  return manifests.flatMap((m) => {
    try {
      const lib = (JSON.parse(readFileSync(m, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path;
      return lib ? [basename(lib)] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The adapter from the Vulkan drivers mapped into this process after a WebGPU session started:
 * software when every mapped driver is a software one, hardware when any other is mapped, unknown when
 * none is recognised.
 */
export function adapterFromMappedDrivers(maps: string, drivers: readonly string[]): GpuAdapterInfo {
  const mapped = [...new Set(drivers)].filter((lib) => maps.includes(`/${lib}`));
  const soft = (lib: string) => /swiftshader|lvp|lavapipe/i.test(lib);
  return {
    name: null,
    backend: 'vulkan',
    software: mapped.length === 0 ? null : mapped.every(soft),
    source: `Vulkan drivers mapped into the process (${mapped.join(', ') || 'none recognised'})`,
  };
}

/** The in-process probe (the Electron path; exported for its test). */
export async function probeInProcess(): Promise<WebGpuProbe> {
  try {
    const s = await ort.InferenceSession.create(Buffer.from(addModel(), 'base64'), { executionProviders: ['webgpu'], logSeverityLevel: 3 });
    await s.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1]) });
    await s.release();
  } catch (e) {
    return { ok: false, reason: (e instanceof Error ? e.message : String(e)).split('\n')[0]?.replace(/^.*? was false\. /, '') ?? '' };
  }
  if (process.platform !== 'linux') return { ok: true, adapter: adapterFromDevices([]) };
  let maps = '';
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    // keep '': unknown
  }
  return { ok: true, adapter: adapterFromMappedDrivers(maps, vulkanDriverLibraries()) };
}

function runProbe(timeoutMs: number): Promise<WebGpuProbe> {
  let ortPath: string;
  try {
    ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch (e) {
    return Promise.resolve({ ok: false, reason: `onnxruntime-node not found (${(e as Error).message})` });
  }
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['-e', PROBE_SCRIPT, ortPath, addModel()],
      {
        // ELECTRON_RUN_AS_NODE: inside the app process.execPath is Electron, which then acts as node
        // (a packaged app with the RunAsNode fuse off refuses: the probe fails and says so).
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', VK_LOADER_DEBUG: 'driver' },
        timeout: timeoutMs,
        maxBuffer: 16 << 20,
        windowsHide: true,
      },
      (err, stdout, stderr) => {
        const out = stdout.trim();
        if (out === 'ok') resolvePromise({ ok: true, adapter: adapterFromDevices(parseVulkanDevices(stderr)) });
        else if (out.startsWith('error ')) resolvePromise({ ok: false, reason: out.slice(6).replace(/^.*? was false\. /, '') });
        else resolvePromise({ ok: false, reason: `the WebGPU probe process failed (${err?.message.split('\n')[0] ?? (out || 'no output')})` });
      },
    );
  });
}
