/**
 * Compression against the full cache: a compressed run whose budget covers the
 * prompt is identical to the full run, and a run at 20 % really holds 20 %
 * of the bytes. Plus the generation loop's contract: first token from the
 * uncompressed prefill, positions continuing from n, seeded sampling.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CompressionConfig } from '@kvlab/core';
import { parseMethodSpec } from '@kvlab/core';
import { compressPrefill, generate, prefillFor, sampler } from '../../electron/engine/generate.ts';
import { KvCache } from '../../electron/engine/kv-cache.ts';
import { randomModel } from './reference/random-model.ts';
import { createEngine, inMemoryModel, maxAbsDiff } from './engine-helpers.ts';

const model = inMemoryModel(
  randomModel({
    vocab: 101,
    hidden: 32,
    inter: 64,
    layers: 4,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    qkvBias: false,
    tied: true,
    ropeLayout: 'interleaved',
    ropeTheta: 10000,
    seed: 21,
  }),
);
const prompt = Array.from({ length: 60 }, (_, i) => (i * 29 + 7) % 101);
const methods = ['snapkv/zigzagkv', 'snapkv/pyramidkv+adakv', 'h2o/uniform', 'streamingllm/cake', 'tova/zigzagkv', 'knorm/uniform', 'random/pyramidkv'].map(
  (s) => parseMethodSpec(s) as CompressionConfig,
);

describe('compressed generation', () => {
  it('a budget ≥ the prompt gives the full run: same cache, same logits (≤ 1e-6), same tokens', async () => {
    const engine = await createEngine(model, 16);
    const full = await generate(engine, prompt, { maxTokens: 12 });
    for (const method of methods) {
      const pre = await prefillFor(engine, prompt, method);
      const { cache, plan } = compressPrefill(engine, pre, method, { kind: 'keepRatio', value: 1 });
      assert.equal(plan?.compress, false);
      const ref = KvCache.full(engine.shape, pre.keys, pre.values, prompt.length);
      for (const t of [3, 50, 99]) {
        const a = (await engine.step(cache, [t])).logits;
        const b = (await engine.step(ref, [t])).logits;
        assert.ok(maxAbsDiff(a, b) <= 1e-6);
      }
      const g = await generate(engine, prompt, { method, budget: { kind: 'tokensPerLayer', value: 1000 }, maxTokens: 12 });
      assert.deepEqual(g.tokens, full.tokens, JSON.stringify(method));
      assert.equal(g.heldAtEnd.bytes, full.heldAtEnd.bytes);
    }
    await engine.dispose();
  });

  it('a run at 20 % holds 20 % of the bytes (as measured in the cache), and at the end n·20 % + t tokens per head', async () => {
    const engine = await createEngine(model, 16);
    for (const method of methods) {
      const g = await generate(engine, prompt, { method, budget: { kind: 'keepRatio', value: 0.2 }, maxTokens: 6, stopAtEos: false });
      const L = engine.config.numLayers;
      const total = Math.round(0.2 * L * prompt.length);
      assert.equal(g.budget?.totalTokens, total);
      assert.equal(g.heldAfterCompression.bytes / g.heldAfterCompression.fullBytes, total / (L * prompt.length), JSON.stringify(method));
      const Hkv = engine.config.numKvHeads;
      assert.equal(g.heldAtEnd.entries, Hkv * total + L * Hkv * 5, 'five decode steps appended to every head');
    }
    await engine.dispose();
  });

  it('compression changes the continuation at a small budget (the cache really is smaller), and the first token is unaffected', async () => {
    const engine = await createEngine(model, 16);
    const full = await generate(engine, prompt, { maxTokens: 20, stopAtEos: false });
    const small = await generate(engine, prompt, {
      method: parseMethodSpec('streamingllm'),
      budget: { kind: 'tokensPerLayer', value: 6 },
      maxTokens: 20,
      stopAtEos: false,
    });
    assert.equal(small.tokens[0], full.tokens[0], 'the first token comes from the uncompressed prefill');
    assert.notDeepEqual(small.tokens, full.tokens);
    await engine.dispose();
  });

  it('a handed-over prefill (lastUseOfPrefill) is emptied of its K/V: while the caller keeps it, the prompt is held once', async () => {
    const gc = exposedGc();
    const engine = await createEngine(model, 16);
    const want = await generate(engine, prompt, { maxTokens: 8, stopAtEos: false });
    for (const method of ['full' as const, parseMethodSpec('snapkv/zigzagkv') as CompressionConfig]) {
      const pre = await prefillFor(engine, prompt, method);
      // The prompt's K/V as the prefill returned them; only the cache may keep them alive from here on.
      const arrays = [...pre.keys, ...pre.values].map((a) => new WeakRef(a));
      let alive = -1;
      let calls = 0;
      const opts = method === 'full' ? {} : { method, budget: { kind: 'keepRatio', value: 0.5 } as const };
      const onToken = (): void => {
        // The second token comes after the first step: an adopted cache has grown out of the prefill's arrays by then, a compressed one never held them.
        if (++calls !== 2) return;
        gc();
        alive = arrays.filter((r) => r.deref() !== undefined).length;
      };
      const g = await generate(engine, prompt, { ...opts, prefill: pre, lastUseOfPrefill: true, maxTokens: 8, stopAtEos: false, onToken: () => onToken() });
      assert.equal(alive, 0, `${JSON.stringify(method)}: the prefill's K/V outlived the handover`);
      assert.equal(pre.keys.length + pre.values.length + pre.observations.length, 0);
      assert.equal(pre.n, prompt.length, 'what the caller reads of it afterwards stays');
      if (method === 'full') assert.deepEqual(g.tokens, want.tokens);
    }
    // Without the handover the prefill keeps its K/V, and a later method can use them.
    const kept = await prefillFor(engine, prompt, 'full');
    await generate(engine, prompt, { prefill: kept, maxTokens: 4, stopAtEos: false });
    assert.equal(kept.keys.length, engine.config.numLayers);
    await engine.dispose();
  });

  it('seeded sampling is reproducible and differs across seeds', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const draw = (seed: number) => {
      const s = sampler({ temperature: 1, seed });
      return Array.from({ length: 20 }, () => s(logits));
    };
    assert.deepEqual(draw(1), draw(1));
    assert.notDeepEqual(draw(1), draw(2));
    assert.equal(sampler()(logits), 33); // greedy: sin is largest near 33 (≈ 10.5π)
  });
});

/** V8's gc(), in a test run without --expose-gc: the flag set at run time reaches contexts created after it. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
