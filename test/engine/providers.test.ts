/**
 * The execution-provider decision table (electron/engine/providers.ts): what
 * a named request and `auto` pick for every combination of "CUDA installed"
 * and "what the WebGPU probe found", and that the reason says why. Pure: no
 * GPU needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GpuAdapterInfo } from '@kvlab/core';
import { EXECUTION_PROVIDERS } from '@kvlab/core';
import type { ProviderFacts } from '../../electron/engine/providers.ts';
import { decideProvider } from '../../electron/engine/providers.ts';

const hw: GpuAdapterInfo = { name: 'NVIDIA GeForce RTX 4090', backend: 'vulkan', software: false, source: 'test' };
const sw: GpuAdapterInfo = { name: 'SwiftShader Device (Subzero)', backend: 'vulkan', software: true, source: 'test' };
const unknown: GpuAdapterInfo = { name: null, backend: 'd3d12', software: null, source: 'test' };
const cudaYes = { installed: true } as const;
const cudaNo = { installed: false, reason: 'the CUDA provider is not installed' } as const;
const noAdapter = { ok: false, reason: 'Failed to get a WebGPU adapter: No supported adapters' } as const;

describe('decideProvider: auto', () => {
  const table: [string, ProviderFacts, string, RegExp][] = [
    ['CUDA installed wins over a hardware adapter', { cuda: cudaYes, webgpu: { ok: true, adapter: hw } }, 'cuda', /CUDA provider is installed/],
    ['CUDA installed wins with no adapter', { cuda: cudaYes, webgpu: noAdapter }, 'cuda', /CUDA/],
    ['no CUDA, hardware adapter: WebGPU', { cuda: cudaNo, webgpu: { ok: true, adapter: hw } }, 'webgpu', /RTX 4090.*hardware adapter/],
    ['no CUDA, software adapter: CPU', { cuda: cudaNo, webgpu: { ok: true, adapter: sw } }, 'cpu', /SwiftShader.*software adapter.*by name/],
    ['no CUDA, adapter of unknown kind: CPU', { cuda: cudaNo, webgpu: { ok: true, adapter: unknown } }, 'cpu', /kind is unknown/],
    ['no CUDA, no adapter: CPU', { cuda: cudaNo, webgpu: noAdapter }, 'cpu', /no WebGPU adapter \(Failed to get a WebGPU adapter/],
  ];
  for (const [name, facts, provider, reason] of table) {
    it(name, () => {
      const d = decideProvider('auto', facts);
      assert.equal(d.provider, provider);
      assert.match(d.reason, /^auto: /);
      assert.match(d.reason, reason);
      assert.equal(d.adapter !== undefined, provider === 'webgpu', 'an adapter is reported exactly when WebGPU is picked');
    });
  }
});

describe('decideProvider: a provider by name', () => {
  it('uses every named provider as asked, whatever CUDA and WebGPU look like', () => {
    for (const p of EXECUTION_PROVIDERS)
      for (const facts of [
        { cuda: cudaNo, webgpu: noAdapter },
        { cuda: cudaYes, webgpu: { ok: true, adapter: hw } },
      ] satisfies ProviderFacts[]) {
        const d = decideProvider(p, facts);
        assert.equal(d.provider, p);
        assert.match(d.reason, /asked for by name/);
      }
  });
  it('webgpu by name runs on a software adapter, and says it is one', () => {
    const d = decideProvider('webgpu', { cuda: cudaNo, webgpu: { ok: true, adapter: sw } });
    assert.equal(d.provider, 'webgpu');
    assert.deepEqual(d.adapter, sw);
    assert.match(d.reason, /SwiftShader Device \(Subzero\) \(vulkan, a software adapter\).*no GPU speed/);
  });
  it('webgpu by name with no adapter still tries (the session then fails and falls back with a reason)', () => {
    const d = decideProvider('webgpu', { cuda: cudaNo, webgpu: noAdapter });
    assert.equal(d.provider, 'webgpu');
    assert.equal(d.adapter, undefined);
  });
});
