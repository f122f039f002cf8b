/**
 * stories260K's documented greedy text (shared/docs/data.md §1.2) through the
 * real engine on the WebGPU provider (SwiftShader), and the engine saying so:
 * provider 'webgpu', adapter SwiftShader, identified as a software adapter —
 * and `auto` refusing that adapter.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Engine, EngineSetupError } from '../../../electron/engine/engine.ts';
import { argmax, generate } from '../../../electron/engine/generate.ts';
import { loadModel } from '../../../electron/engine/load.ts';
import { probeInProcess } from '../../../electron/engine/webgpu-adapter.ts';
import { testCacheDir } from '../engine-helpers.ts';
import { sharedPath } from '../shared-data.ts';
import { assertSwiftShaderAdapter, useSwiftShader, webgpuEngine } from './swiftshader.ts';
import { STORIES_GOLDEN_IDS, STORIES_GOLDEN_TEXT } from '../stories-golden.ts';

describe('stories260K on WebGPU (SwiftShader)', () => {
  before(async () => {
    useSwiftShader();
    await assertSwiftShaderAdapter();
  });

  it('gives the documented greedy text (256 positions teacher-forced, 8 decoded); the engine names the adapter as software', async () => {
    const model = await loadModel(sharedPath('models/stories260K/stories260K.gguf'));
    const engine = await webgpuEngine(model);
    try {
      assert.equal(engine.info.requestedProvider, 'webgpu');
      assert.match(engine.info.adapter?.name ?? '', /SwiftShader/);
      assert.equal(engine.info.adapter?.software, true);
      assert.equal(engine.info.adapter?.backend, 'vulkan');
      assert.match(engine.info.providerReason, /software adapter/);
      const pre = await engine.prefill([1]);
      // Position 0: top logit id 403 ≈ 17.02, runner-up 385 ≈ 15.41 (data.md §1.2).
      assert.ok(Math.abs((pre.logits[403] ?? 0) - 17.02) < 0.01 && Math.abs((pre.logits[385] ?? 0) - 15.41) < 0.01);
      assert.equal(model.tokenizer.decode(STORIES_GOLDEN_IDS), STORIES_GOLDEN_TEXT);
      // Greedy decoding is argmax at every position given the text so far: one teacher-forced prefill of BOS +
      // the first 255 ids checks all 256 choices. (256 decode steps take SwiftShader ~2 minutes: it compiles
      // new shaders for every new cache length.) The decode path itself runs for the first 8 tokens.
      const forced = await engine.prefill([1, ...STORIES_GOLDEN_IDS.slice(0, 255)], { allLogits: true });
      const V = model.config.vocabSize;
      const argmaxes = STORIES_GOLDEN_IDS.map((_, t) => argmax(forced.logits.subarray(t * V, (t + 1) * V)));
      assert.equal(model.tokenizer.decode(argmaxes), STORIES_GOLDEN_TEXT);
      const r = await generate(engine, [1], { maxTokens: 8, stopAtEos: false });
      assert.deepEqual(r.tokens, STORIES_GOLDEN_IDS.slice(0, 8));
    } finally {
      await engine.dispose();
    }
  });

  it("'auto' does not take the software adapter: it runs on the CPU and says why", async () => {
    const model = await loadModel(sharedPath('models/stories260K/stories260K.gguf'));
    const engine = await Engine.create(model, { executionProvider: 'auto', cacheDir: testCacheDir(), threads: 1 });
    try {
      assert.equal(engine.info.executionProvider, 'cpu');
      assert.equal(engine.info.adapter, undefined);
      assert.match(engine.info.providerReason, /^auto: no CUDA .*SwiftShader.*software adapter.*CPU$/);
    } finally {
      await engine.dispose();
    }
  });

  it('refuses the f16 KV cache on an adapter without shader-f16 (SwiftShader), with a typed error saying what to use instead', async () => {
    const model = await loadModel(sharedPath('models/stories260K/stories260K.gguf'));
    useSwiftShader();
    const engine = await Engine.create(model, { executionProvider: 'webgpu', cacheDir: testCacheDir(), threads: 1, kvType: 'f16' });
    try {
      await assert.rejects(
        engine.prefill([1, 403]),
        (e: unknown) => e instanceof EngineSetupError && e.apiCode === 'E_INVALID' && /no shader-f16 support; use the f32 cache/.test(e.message),
      );
    } finally {
      await engine.dispose();
    }
  });

  it('the in-process probe (the Electron path) finds SwiftShader mapped and calls it a software adapter', async () => {
    const p = await probeInProcess();
    assert.ok(p.ok, p.ok ? '' : p.reason);
    assert.equal(p.adapter.software, true, p.adapter.source);
    assert.match(p.adapter.source, /libvk_swiftshader\.so/);
  });
});
