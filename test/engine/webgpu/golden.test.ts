/**
 * stories260K's documented greedy text (shared/docs/data.md §1.2) through the
 * real engine on the WebGPU provider (SwiftShader), and the engine saying so:
 * provider 'webgpu', adapter SwiftShader, identified as a software adapter —
 * and `auto` refusing that adapter.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Engine } from '../../../electron/engine/engine.ts';
import { argmax, generate } from '../../../electron/engine/generate.ts';
import { loadModel } from '../../../electron/engine/load.ts';
import { probeInProcess } from '../../../electron/engine/webgpu-adapter.ts';
import { testCacheDir } from '../engine-helpers.ts';
import { sharedPath } from '../shared-data.ts';
import { assertSwiftShaderAdapter, useSwiftShader, webgpuEngine } from './swiftshader.ts';

const GOLDEN = `Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.
Lily's mom said, "Lily, let's go to the park." Lily was sad and didn't know what to do. She said, "I want to play with your ball, but I can't find it."
Lily was sad and didn't know what to do. She said, "I'm sorry, Lily. I didn't know what to do."
Lily didn't want to help her mom, so she said, "I'm sorry, mom. I didn't know what to do." Her mom said, "Don't worry, Lily. We can help you.`;

/** The 256 greedy ids from BOS (as in test/engine/reference.test.ts); they decode to GOLDEN. */
const GOLDEN_256 = [
  403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426,
  385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438,
  310, 439, 419, 357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 267, 265, 282, 295, 433, 426, 436, 317, 286, 296, 418, 269, 279, 292, 416,
  439, 413, 409, 416, 327, 263, 415, 294, 267, 400, 426, 338, 336, 432, 313, 442, 391, 267, 337, 335, 364, 420, 268, 388, 432, 398, 359, 280, 303, 439, 413,
  272, 417, 264, 312, 426, 436, 13, 438, 310, 286, 296, 418, 269, 279, 292, 416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400, 426, 338, 336, 432, 313, 442,
  439, 423, 262, 304, 420, 422, 432, 317, 426, 359, 279, 292, 416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400, 426, 436, 13, 438, 310, 279, 292, 416, 439,
  413, 391, 267, 281, 421, 427, 311, 357, 432, 384, 358, 336, 432, 313, 442, 439, 423, 262, 304, 420, 422, 432, 357, 426, 359, 279, 292, 416, 439, 413, 409,
  416, 327, 263, 415, 294, 267, 400, 426, 436, 320, 285, 357, 336, 432, 313, 455, 289, 439, 413, 263, 304, 420, 422, 432, 317, 426, 410, 448, 411, 280, 303,
  281, 421, 427, 364, 426,
];

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
      assert.equal(model.tokenizer.decode(GOLDEN_256), GOLDEN);
      // Greedy decoding is argmax at every position given the text so far: one teacher-forced prefill of BOS +
      // the first 255 ids checks all 256 choices. (256 decode steps take SwiftShader ~2 minutes: it compiles
      // new shaders for every new cache length.) The decode path itself runs for the first 8 tokens.
      const forced = await engine.prefill([1, ...GOLDEN_256.slice(0, 255)], { allLogits: true });
      const V = model.config.vocabSize;
      const argmaxes = GOLDEN_256.map((_, t) => argmax(forced.logits.subarray(t * V, (t + 1) * V)));
      assert.equal(model.tokenizer.decode(argmaxes), GOLDEN);
      const r = await generate(engine, [1], { maxTokens: 8, stopAtEos: false });
      assert.deepEqual(r.tokens, GOLDEN_256.slice(0, 8));
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

  it('the in-process probe (the Electron path) finds SwiftShader mapped and calls it a software adapter', async () => {
    const p = await probeInProcess();
    assert.ok(p.ok, p.ok ? '' : p.reason);
    assert.equal(p.adapter.software, true, p.adapter.source);
    assert.match(p.adapter.source, /libvk_swiftshader\.so/);
  });
});
