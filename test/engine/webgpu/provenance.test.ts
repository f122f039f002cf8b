/**
 * A result row computed on the WebGPU provider carries its adapter in its
 * provenance — on SwiftShader, flagged as a software adapter — so a number
 * from a CPU rasteriser cannot pass for a GPU's wherever the row travels.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { ResultRow } from '@kvlab/core';
import { runExperiment } from '../../../electron/experiments/runner.ts';
import { readRows } from '../../../electron/experiments/store.ts';
import { testCacheDir } from '../engine-helpers.ts';
import { sharedPath } from '../shared-data.ts';
import { useSwiftShader } from './swiftshader.ts';

describe('result provenance on WebGPU (SwiftShader)', () => {
  before(useSwiftShader);

  it('every row names the provider, why, and the software adapter', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kvlab-run-webgpu-'));
    await runExperiment(
      {
        name: 'webgpu-provenance',
        models: [sharedPath('models/stories260K/stories260K.gguf')],
        methods: ['full'],
        budgets: ['20%'],
        workloads: [{ kind: 'niah', variant: 'passkey', contextLengths: [192], depths: [50] }],
        generation: { maxNewTokens: 2 },
        engine: { threads: 1, executionProvider: 'webgpu', prefillChunk: 256 },
      },
      { outDir: out, baseDir: out, cacheDir: testCacheDir() },
    );
    const rows = readRows(out).filter((r) => r['kind'] === 'cell') as unknown as ResultRow[];
    assert.ok(rows.length > 0);
    for (const r of rows) {
      assert.equal(r.provenance.executionProvider, 'webgpu');
      assert.match(r.provenance.executionProviderReason ?? '', /^webgpu: asked for by name/);
      assert.match(r.provenance.adapter?.name ?? '', /SwiftShader/);
      assert.equal(r.provenance.adapter?.software, true);
    }
  });
});
