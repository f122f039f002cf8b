/**
 * Which onnxruntime execution providers this installation could use, and why
 * not where it cannot — for the app's settings screen (getAppInfo). The
 * engine (engine.ts) requests a provider with CPU as fallback and reports a
 * failure as `info.fallbackReason`; this module answers before anything is
 * loaded, from what onnxruntime-node says it was built with
 * (listSupportedBackends) and which provider libraries are on disk: the npm
 * package bundles CPU (and DirectML on Windows, CoreML on macOS) but not the
 * CUDA provider, which its install script downloads and this project skips
 * (docs/engine.md, "Execution providers"). WebGPU is in the package for
 * Windows, macOS and Linux x64: "available" here means the build has it; which
 * adapter it would run on (and whether that is a software one) is the
 * engine's probe's answer (engine/webgpu-adapter.ts), reported once a model
 * is loaded.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ExecutionProvider } from '@kvlab/core';
import ort from 'onnxruntime-node';

export interface ProviderStatus {
  readonly id: ExecutionProvider;
  readonly available: boolean;
  readonly reason?: string;
}

/**
 * The folder holding this platform's onnxruntime binaries, or null if it cannot be found. In an installed
 * app they are unpacked from the asar (the packaging config's asarUnpack) and the CUDA provider must be
 * copied there (`npm run setup:gpu -- --app <dir>`): Electron's fs answers for app.asar paths from the
 * archive's index, which never lists a file added after packaging, so look in app.asar.unpacked itself.
 */
export function ortBinDir(): string | null {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    return unpackedPath(join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch));
  } catch {
    return null;
  }
}

/** `…/resources/app.asar/x` → `…/resources/app.asar.unpacked/x`; other paths unchanged. */
export function unpackedPath(p: string): string {
  return p.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}

function built(): Set<string> {
  try {
    return new Set(ort.listSupportedBackends().map((b) => b.name));
  } catch {
    return new Set(['cpu']);
  }
}

export function executionProviders(platform: NodeJS.Platform = process.platform): ProviderStatus[] {
  const names = built();
  const bin = ortBinDir();
  const cudaLib = platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const out: ProviderStatus[] = [{ id: 'cpu', available: true }];

  if (platform !== 'linux' && platform !== 'win32')
    out.push({ id: 'cuda', available: false, reason: 'CUDA builds of onnxruntime exist for Linux and Windows only' });
  else if (!names.has('cuda'))
    out.push({
      id: 'cuda',
      available: false,
      reason:
        platform === 'win32'
          ? "onnxruntime-node's prebuilt Windows binaries have no CUDA provider; use DirectML (dml), which is bundled and runs on NVIDIA, AMD and Intel GPUs"
          : `this onnxruntime-node build has no CUDA provider for ${platform}/${process.arch}`,
    });
  else if (!bin || !existsSync(join(bin, cudaLib)))
    out.push({
      id: 'cuda',
      available: false,
      reason: bin?.includes('app.asar.unpacked')
        ? `the CUDA provider is not installed: from a KV Lab checkout run \`npm run setup:gpu -- --app <this app's folder>\`, which copies it into ${bin} (needs an NVIDIA driver, CUDA 12 and cuDNN 9; see docs/installers.md)`
        : 'the CUDA provider is not installed: run `npm run setup:gpu` (needs an NVIDIA driver, CUDA 12 and cuDNN 9; see docs/engine.md)',
    });
  else out.push({ id: 'cuda', available: true });

  if (platform !== 'win32') out.push({ id: 'dml', available: false, reason: 'DirectML is Windows only' });
  else if (!names.has('dml')) out.push({ id: 'dml', available: false, reason: 'this onnxruntime-node build has no DirectML provider' });
  else out.push({ id: 'dml', available: true });

  if (platform !== 'darwin') out.push({ id: 'coreml', available: false, reason: 'Core ML is macOS only' });
  else if (!names.has('coreml')) out.push({ id: 'coreml', available: false, reason: 'this onnxruntime-node build has no Core ML provider' });
  else out.push({ id: 'coreml', available: true });

  if (!names.has('webgpu'))
    out.push({
      id: 'webgpu',
      available: false,
      reason: `this onnxruntime-node build has no WebGPU provider for ${platform}/${process.arch} (it ships for Windows, macOS and Linux x64)`,
    });
  else out.push({ id: 'webgpu', available: true });
  return out;
}
