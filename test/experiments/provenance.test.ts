/** The per-engine part of a row's provenance (providerStamp): provider, reason and WebGPU adapter travel with every row. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { providerStamp } from '../../electron/experiments/provenance.ts';

describe('providerStamp', () => {
  it('stamps the provider and why, and the adapter only when there is one', () => {
    assert.deepEqual(providerStamp({ executionProvider: 'cpu', providerReason: 'cpu: asked for by name' }), {
      executionProvider: 'cpu',
      executionProviderReason: 'cpu: asked for by name',
    });
    const adapter = { name: 'SwiftShader Device (Subzero)', backend: 'vulkan', software: true, source: 'test' } as const;
    assert.deepEqual(providerStamp({ executionProvider: 'webgpu', providerReason: 'webgpu: asked for by name', adapter }), {
      executionProvider: 'webgpu',
      executionProviderReason: 'webgpu: asked for by name',
      adapter,
    });
  });
});
