/**
 * The golden text: stories260K, loaded from its GGUF and from
 * its llama2.c .bin + tok512.bin, reproduces the documented greedy text
 * exactly through the real engine (shared/docs/data.md §1.2). The model files
 * come from ../shared and are sha256-checked: a missing file fails the test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generate } from '../../electron/engine/generate.ts';
import { loadModel } from '../../electron/engine/load.ts';
import { createEngine } from './engine-helpers.ts';
import { sharedPath } from './shared-data.ts';
import { STORIES_GOLDEN_TEXT } from './stories-golden.ts';

const GOLDEN = STORIES_GOLDEN_TEXT;
const FIRST_20 = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];

describe('stories260K golden output through the engine', () => {
  for (const file of ['models/stories260K/stories260K.gguf', 'models/stories260K/stories260K.bin']) {
    it(`${file}: 256 greedy steps from BOS give the documented text`, async () => {
      if (file.endsWith('.bin')) sharedPath('models/stories260K/tok512.bin');
      const model = await loadModel(sharedPath(file));
      const engine = await createEngine(model);
      const pre = await engine.prefill([1]);
      const V = model.config.vocabSize;
      // Position 0: top logit id 403 ≈ 17.02, runner-up 385 ≈ 15.41 (data.md §1.2).
      assert.ok(Math.abs((pre.logits[403] ?? 0) - 17.02) < 0.01 && Math.abs((pre.logits[385] ?? 0) - 15.41) < 0.01);
      assert.equal(pre.logits.length, V);
      const r = await generate(engine, [1], { maxTokens: 256, stopAtEos: false });
      assert.deepEqual(r.tokens.slice(0, 20), FIRST_20);
      assert.ok(!r.tokens.includes(1), 'BOS is never produced');
      assert.equal(model.tokenizer.decode(r.tokens), GOLDEN);
      await engine.dispose();
    });
  }
});
