/**
 * Decode-time eviction (H2O, StreamingLLM, TOVA, Knorm, Random): every head
 * stays at its budget while generating, positions continue from n, and the
 * logits at every step equal the float64 reference holding exactly the
 * positions the engine's cache holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompressionConfig } from '@kvlab/core';
import { parseMethodSpec } from '@kvlab/core';
import { DecodeEvictor } from '../../electron/engine/decode-eviction.ts';
import { compressPrefill, generate, prefillFor } from '../../electron/engine/generate.ts';
import { createReference } from './reference/forward.ts';
import { randomModel } from './reference/random-model.ts';
import { createEngine, inMemoryModel, maxAbsDiff } from './engine-helpers.ts';

const m = randomModel({
  vocab: 89,
  hidden: 32,
  inter: 48,
  layers: 3,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  qkvBias: false,
  tied: true,
  ropeLayout: 'halves',
  ropeTheta: 10000,
  seed: 5,
});
const prompt = Array.from({ length: 30 }, (_, i) => (i * 13 + 5) % 89);

describe('decode-time eviction', () => {
  for (const spec of ['h2o/zigzagkv', 'streamingllm/uniform', 'tova/pyramidkv', 'knorm/uniform+adakv', 'random/uniform']) {
    it(`${spec}: heads stay at budget and every step matches the reference on the same positions`, async () => {
      const method = parseMethodSpec(spec) as CompressionConfig;
      const engine = await createEngine(inMemoryModel(m), 8);
      const pre = await prefillFor(engine, prompt, method);
      const { cache, plan } = compressPrefill(engine, pre, method, { kind: 'tokensPerLayer', value: 12 });
      assert.ok(plan?.compress);
      const evictor = new DecodeEvictor(cache, plan, pre, m.config.numHeads);
      const ref = createReference(m.config, m.weights);
      ref.prefill(prompt);
      const full = ref.cache;
      let tok = 7;
      for (let t = 0; t < 10; t++) {
        // The reference holds exactly what the engine's cache holds, plus nothing else.
        ref.cache = full.map((layer, l) => layer.map((entries, h) => entries.filter((e) => cache.positionsOf(l, h).includes(e.position))));
        const want = ref.step(tok, prompt.length + t);
        const r = await engine.step(cache, [tok], { attention: evictor.wantsAttention });
        assert.ok(maxAbsDiff(r.logits, want) < 1e-4, `step ${t}: ${maxAbsDiff(r.logits, want)}`);
        // The reference appended the new token; keep its full history for the next filter.
        full.forEach((layer, l) => layer.forEach((entries, h) => entries.push(...(ref.cache[l]?.[h] ?? []).filter((e) => e.position === prompt.length + t))));
        evictor.afterStep(r.attention);
        const live = cache.size().perHead;
        live.forEach((heads, l) => heads.forEach((n, h) => assert.equal(n, plan.headBudgets[l]?.[h], `layer ${l} head ${h} after step ${t}`)));
        // A protected window keeps the newest token; Knorm and Random (no window) may evict it at once.
        if (plan.protect.window > 0)
          for (let l = 0; l < cache.numLayers; l++)
            for (let h = 0; h < 2; h++) assert.ok(cache.positionsOf(l, h).includes(prompt.length + t), 'the newest token is kept');
        tok = (tok * 7 + 3) % 89;
      }
      assert.equal(evictor.evictions, 10 * 3 * 2);
      await engine.dispose();
    });
  }

  it('StreamingLLM keeps the sinks and the most recent tokens while decoding', async () => {
    const engine = await createEngine(inMemoryModel(m), 8);
    const r = await generate(engine, prompt, {
      method: parseMethodSpec('streamingllm'),
      budget: { kind: 'tokensPerLayer', value: 10 },
      maxTokens: 15,
      stopAtEos: false,
      evictDuringDecode: true,
    });
    assert.equal(r.decodeEvictions, 14 * 3 * 2);
    assert.equal(r.heldAtEnd.entries, r.heldAfterCompression.entries);
    // Compaction runs once a layer has 16 dead slots: the buffers never exceed what is held by more than that.
    const perSlot = 3 * 2 * 8 * 2 * 4; // layers · Hkv · d · (K+V) · fp32
    assert.ok(r.heldAtEnd.slotBytes - r.heldAtEnd.bytes < 16 * perSlot, `${r.heldAtEnd.slotBytes} vs ${r.heldAtEnd.bytes}`);
    await engine.dispose();
  });

  it('refuses scorers that cannot score during decoding', async () => {
    const engine = await createEngine(inMemoryModel(m), 8);
    await assert.rejects(
      () =>
        generate(engine, prompt, { method: parseMethodSpec('snapkv'), budget: { kind: 'tokensPerLayer', value: 12 }, maxTokens: 3, evictDuringDecode: true }),
      /cannot score during decoding/,
    );
    await engine.dispose();
  });
});
