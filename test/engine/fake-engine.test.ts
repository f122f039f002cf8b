/**
 * The fake engine keeps the contract the real one does, so what passes over
 * it says something about the callers: a decode step continues a prefill
 * exactly (step after prefill of n tokens = prefill of n + 1), every
 * attention row is a distribution, and the generation loop and the layer
 * profile run over it through the InferenceEngine interface alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMethodSpec } from '@kvlab/core';
import { generate, prefillForMethods } from '../../electron/engine/generate.ts';
import { KvCache } from '../../electron/engine/kv-cache.ts';
import { profilePrompt } from '../../electron/experiments/profile.ts';
import { FakeEngine, fakeConfig } from './fake-engine.ts';
import { maxAbsDiff } from './engine-helpers.ts';

const engine = () => new FakeEngine(fakeConfig());
const prompt = (n: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 7) % 90));

describe('fake engine', () => {
  it('a decode step continues a prefill: step after n tokens gives the logits a prefill of n + 1 gives', async () => {
    const e = engine();
    const ids = prompt(40);
    const pre = await e.prefill(ids.slice(0, 39));
    const cache = KvCache.full(e.shape, pre.keys, pre.values, pre.n);
    const step = await e.step(cache, [ids[39] ?? 0]);
    const whole = await e.prefill(ids);
    assert.ok(maxAbsDiff(step.logits, whole.logits) < 1e-5);
    // Teacher forcing several tokens at once gives every position's logits.
    const all = await e.prefill(ids, { allLogits: true });
    const cache2 = KvCache.full(e.shape, pre.keys, pre.values, pre.n);
    const forced = await e.step(cache2, [ids[39] ?? 0], { allLogits: true });
    assert.ok(maxAbsDiff(forced.logits, all.logits.subarray(39 * 96)) < 1e-5);
  });

  it('window statistics are sums of attention distributions: each window of α queries sums to α per head', async () => {
    const e = engine();
    const pre = await e.prefill(prompt(50), { windows: [8, 100], accumulate: true });
    const { numHeads: Hq } = e.config;
    for (const o of pre.observations) {
      assert.deepEqual(
        o.windows.map((w) => w.size),
        [1, 8, 50],
        'α = 1 always, a window longer than the prompt clamped to it',
      );
      for (const w of o.windows)
        for (let h = 0; h < Hq; h++) {
          const total = w.sum.data.subarray(h * 50, (h + 1) * 50).reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(total - w.size) < 1e-4, `layer ${o.layer} head ${h} α ${w.size}: ${total}`);
        }
      assert.ok(o.accumulated);
      const acc = o.accumulated.data.subarray(0, 50).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(acc - 50) < 1e-3, 'H2O sums every query row');
    }
  });

  it('the generation loop compresses and decodes over it; the profile reads its statistics', async () => {
    const e = engine();
    const ids = prompt(120);
    const method = parseMethodSpec('snapkv/zigzagkv');
    const pre = await prefillForMethods(e, ids, [method]);
    const r = await generate(e, ids, { method, budget: { kind: 'keepRatio', value: 0.25 }, maxTokens: 6, prefill: pre });
    assert.equal(r.tokens.length, 6);
    assert.ok(r.plan?.compress);
    assert.ok(r.heldAfterCompression.bytes < r.heldAfterCompression.fullBytes);
    const full = await generate(e, ids, { maxTokens: 6 });
    assert.equal(full.tokens[0], r.tokens[0], 'the first token comes from the uncompressed prefill');
    const p = await profilePrompt(e, ids, { windowSize: 8 });
    assert.equal(p.lmba.length, e.config.numLayers);
    assert.equal(p.lmbo.length, e.config.numLayers);
  });
});
