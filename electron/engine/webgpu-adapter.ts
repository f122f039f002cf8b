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
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import type { GpuAdapterInfo } from '@kvlab/core';
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
  cached ??= runProbe(timeoutMs);
  return cached;
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
