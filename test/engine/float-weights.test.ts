/**
 * Weights stored as floats, held three ways (load.ts floatWeights): float32,
 * or requantised at load to Q8_0 or Q4_0 blocks. On the bundled demo model
 * (trained, F32) and its held-out text (Persuasion), the requantised graphs'
 * NLL against the float32 run is reported — requantising changes the model,
 * so ΔNLL is a measurement, not asserted to be zero — and 'auto' takes the
 * first form whose estimate fits, refusing up front with every estimate when
 * none does.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../electron/engine/engine.ts';
import { inspectModel, loadModel } from '../../electron/engine/load.ts';
import type { FloatWeightForm } from '../../electron/engine/model.ts';
import { ModelFileError } from '../../electron/engine/model.ts';
import { testCacheDir } from './engine-helpers.ts';
import { sharedPath } from './shared-data.ts';

const DEMO = join(import.meta.dirname, '..', '..', 'build', 'demo-model', 'kvlab-demo.gguf');
const TOKENS = 512;

/** Mean next-token NLL (nats) of `ids` under the model held as `form`. */
async function nll(form: FloatWeightForm, ids: readonly number[]): Promise<number> {
  const model = await loadModel(DEMO, { floatWeights: form });
  assert.equal(model.floatWeights, form);
  const engine = await Engine.create(model, { cacheDir: testCacheDir(), threads: 1 });
  try {
    const { logits } = await engine.prefill(ids, { allLogits: true });
    const V = model.config.vocabSize;
    let sum = 0;
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      let m = -Infinity;
      for (const x of row) m = Math.max(m, x);
      let z = 0;
      for (const x of row) z += Math.exp(x - m);
      sum += m + Math.log(z) - (row[ids[t + 1] ?? 0] ?? 0);
    }
    return sum / (ids.length - 1);
  } finally {
    await engine.dispose();
  }
}

describe('float-stored weights: float32, Q8_0 or Q4_0 blocks', () => {
  it('requantised demo models: ΔNLL against float32 on held-out text, reported', async (t) => {
    const text = readFileSync(sharedPath('texts/austen-persuasion.txt'), 'utf8').slice(20_000, 26_000);
    const tok = (await loadModel(DEMO)).tokenizer;
    const ids = tok.encode(text).slice(0, TOKENS);
    assert.equal(ids.length, TOKENS);
    const f32 = await nll('f32', ids);
    const q8 = await nll('q8', ids);
    const q4 = await nll('q4', ids);
    t.diagnostic(
      `NLL over ${TOKENS} tokens: float32 ${f32.toFixed(4)}, Q8_0 ${q8.toFixed(4)} (Δ ${(q8 - f32).toFixed(4)}), Q4_0 ${q4.toFixed(4)} (Δ ${(q4 - f32).toFixed(4)})`,
    );
    for (const v of [f32, q8, q4]) assert.ok(Number.isFinite(v) && v > 0);
    // The requantised graphs are different models (else the form was not applied) and still the same model in kind.
    assert.notEqual(q8, f32);
    assert.notEqual(q4, f32);
    assert.ok(Math.abs(q8 - f32) < 0.05, `Q8_0 ΔNLL ${q8 - f32}`);
    assert.ok(Math.abs(q4 - f32) < 0.5, `Q4_0 ΔNLL ${q4 - f32}`);
  });

  it("'auto' takes float32, else 8-bit, else 4-bit blocks — the first that fits — and refuses with every estimate when none does", async () => {
    const est = inspectModel(DEMO).floatWeightEstimates;
    assert.ok(est && est.f32 > est.q8 && est.q8 > est.q4);
    assert.equal((await loadModel(DEMO, { availableBytes: est.f32 })).floatWeights, 'f32');
    assert.equal((await loadModel(DEMO, { availableBytes: est.f32 - 1 })).floatWeights, 'q8');
    assert.equal((await loadModel(DEMO, { availableBytes: est.q8 - 1 })).floatWeights, 'q4');
    await assert.rejects(loadModel(DEMO, { availableBytes: est.q4 - 1 }), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.code, 'E_MODEL_TOO_LARGE');
      assert.match(e.message, /with its float weights as float32: .* as 8-bit blocks: .* as 4-bit blocks: /);
      return true;
    });
    // An explicit form is held to its own estimate.
    await assert.rejects(loadModel(DEMO, { floatWeights: 'f32', availableBytes: est.q8 }), /needs about/);
  });
});
