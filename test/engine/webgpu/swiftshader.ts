/**
 * The WebGPU test group runs onnxruntime's WebGPU provider on SwiftShader, the
 * software Vulkan driver Debian's chromium package ships (shared/docs/
 * environment.md §5): correctness on a CPU-only machine, never a speed figure.
 *
 * `useSwiftShader()` points this process's Vulkan loader at SwiftShader
 * (VK_ICD_FILENAMES is read when Dawn creates its Vulkan instance, so setting
 * it here, before the first WebGPU session, is enough; libvulkan.so.1 itself
 * must be on the library path: Debian's libvulkan1, which .ci/run installs).
 * A missing driver FAILS the test with what to install — never a skip, so CI
 * cannot pass without having run the group. Child processes inherit the
 * variables.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../../electron/engine/engine.ts';
import { Engine as EngineClass } from '../../../electron/engine/engine.ts';
import type { LoadedModel } from '../../../electron/engine/model.ts';
import { probeWebGpu } from '../../../electron/engine/webgpu-adapter.ts';
import { testCacheDir } from '../engine-helpers.ts';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const INSTALL = 'install it with `apt-get install chromium libvulkan1` (Debian; .ci/run does this)';

export function useSwiftShader(): void {
  assert.equal(process.platform, 'linux', 'the WebGPU test group runs on SwiftShader, which this project sets up on Linux only');
  assert.ok(existsSync(SWIFTSHADER_ICD), `SwiftShader's Vulkan driver is missing (${SWIFTSHADER_ICD}): ${INSTALL}`);
  process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  // Dawn warns without a runtime dir; any writable folder does.
  process.env['XDG_RUNTIME_DIR'] ??= mkdtempSync(join(tmpdir(), 'kvlab-xdg-'));
}

/** Asserts the probe finds SwiftShader, and says what is missing when it does not. */
export async function assertSwiftShaderAdapter(): Promise<void> {
  const probe = await probeWebGpu();
  assert.ok(probe.ok, `no WebGPU adapter on SwiftShader (${probe.ok ? '' : probe.reason}); is libvulkan.so.1 installed? ${INSTALL}`);
  assert.match(probe.adapter.name ?? '', /SwiftShader/);
  assert.equal(probe.adapter.software, true, 'SwiftShader must be identified as a software adapter');
}

/** An engine on the WebGPU provider (asked for by name), failing if it fell back to the CPU. */
export async function webgpuEngine(model: LoadedModel, prefillChunk = 128, exactMatmul = false): Promise<Engine> {
  const engine = await EngineClass.create(model, { executionProvider: 'webgpu', cacheDir: testCacheDir(), threads: 1, prefillChunk, exactMatmul });
  assert.equal(engine.info.executionProvider, 'webgpu', `fell back to ${engine.info.executionProvider}: ${engine.info.fallbackReason ?? ''}`);
  return engine;
}
