/**
 * The engine's ONNX graph against the independent float64 reference
 * (test/engine/reference/forward.ts, which shares no code with the graph
 * builder): logits within 1e-4 on random-weight models of several shapes,
 * for prefill in several chunk sizes and for decoding, and decoding from
 * compressed, ragged caches (different lengths per layer and per KV head).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCompression } from '@kvlab/core';
import { KvCache } from '../../electron/engine/kv-cache.ts';
import { createReference } from './reference/forward.ts';
import type { RandomModelOptions } from './reference/random-model.ts';
import { randomModel } from './reference/random-model.ts';
import { createEngine, inMemoryModel, maxAbsDiff } from './engine-helpers.ts';

const TOL = 1e-4;
const base: Omit<RandomModelOptions, 'heads' | 'kvHeads' | 'headDim' | 'seed'> = {
  vocab: 97,
  hidden: 48,
  inter: 80,
  layers: 3,
  qkvBias: false,
  tied: true,
  ropeLayout: 'halves',
  ropeTheta: 10000,
};
const shapes: (Partial<RandomModelOptions> & { label: string })[] = [
  { label: 'MHA (GQA 1), d=8, tied', heads: 4, kvHeads: 4, headDim: 8 },
  { label: 'GQA 2, d=16, untied, qkv bias', heads: 4, kvHeads: 2, headDim: 16, tied: false, qkvBias: true },
  { label: 'GQA 4, d=64, interleaved (GGUF) RoPE', heads: 8, kvHeads: 2, headDim: 64, hidden: 64, ropeLayout: 'interleaved' },
  {
    label: 'GQA 2, d=16, llama3 rope scaling, interleaved, bias',
    heads: 4,
    kvHeads: 2,
    headDim: 16,
    ropeLayout: 'interleaved',
    qkvBias: true,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 },
  },
];
const prompt = [5, 17, 3, 88, 42, 42, 9, 60, 13, 71, 2, 33, 64];

describe('engine vs reference forward pass', () => {
  shapes.forEach((s, i) => {
    const m = randomModel({ ...base, heads: 4, kvHeads: 4, headDim: 8, ...s, seed: 100 + i });
    it(`${s.label}: prefill logits in chunks of 1, 3, 5 and 13, then 4 decode steps, within ${TOL}`, async () => {
      const ref = createReference(m.config, m.weights);
      const expected = ref.prefill(prompt).logits;
      for (const chunk of [1, 3, 5, 13]) {
        const engine = await createEngine(inMemoryModel(m), chunk);
        const pre = await engine.prefill(prompt, { allLogits: true });
        const V = m.config.vocabSize;
        prompt.forEach((_, t) => {
          const d = maxAbsDiff(pre.logits.subarray(t * V, (t + 1) * V), expected[t] ?? []);
          assert.ok(d < TOL, `chunk ${chunk}, position ${t}: max |Δlogit| ${d}`);
        });
        if (chunk === 5) {
          // Reserve 1: the cache's capacity grows (its heads move to a new stride) during the steps.
          const grown = KvCache.full(engine.shape, pre.keys, pre.values, prompt.length, 1);
          const cache = KvCache.full(engine.shape, pre.keys, pre.values, prompt.length);
          for (const [k, tok] of [7, 50, 1, 96].entries()) {
            const got = (await engine.step(cache, [tok])).logits;
            const want = ref.step(tok, prompt.length + k);
            assert.ok(maxAbsDiff(got, want) < TOL, `decode step ${k}: ${maxAbsDiff(got, want)}`);
            const afterGrowth = (await engine.step(grown, [tok])).logits;
            assert.ok(maxAbsDiff(afterGrowth, want) < TOL, `decode step ${k}, growing cache: ${maxAbsDiff(afterGrowth, want)}`);
          }
        }
        await engine.dispose();
      }
    });
  });

  it('decodes from a compressed, ragged cache (ZigZagKV layer budgets × Ada-KV head budgets) exactly like the reference holding the same positions', async () => {
    const m = randomModel({ ...base, heads: 8, kvHeads: 4, headDim: 8, layers: 4, seed: 7 });
    const long = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 97);
    const engine = await createEngine(inMemoryModel(m), 16);
    const pre = await engine.prefill(long, { windows: [8] });
    const plan = planCompression(pre.observations, { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' }, headwise: { id: 'adakv' } }, 4 * 16);
    const lens = plan.kept.map((layer) => layer.map((k) => k.length));
    assert.ok(new Set(lens.flat()).size > 1, `budgets should differ across layers/heads: ${JSON.stringify(lens)}`);
    const cache = KvCache.fromKept(engine.shape, pre.keys, pre.values, long.length, plan.kept);
    const ref = createReference(m.config, m.weights);
    ref.prefill(long);
    ref.cache = ref.cache.map((layer, l) => layer.map((entries, h) => entries.filter((e) => plan.kept[l]?.[h]?.includes(e.position))));
    for (const [k, tok] of [3, 14, 15, 92, 65].entries()) {
      const got = (await engine.step(cache, [tok])).logits;
      const want = ref.step(tok, long.length + k);
      assert.ok(maxAbsDiff(got, want) < TOL, `step ${k}: ${maxAbsDiff(got, want)}`);
    }
    // Positions held: the kept prompt positions, then n, n+1, … for the generated tokens.
    assert.deepEqual([...cache.positionsOf(0, 0)], [...(plan.kept[0]?.[0] ?? []), 40, 41, 42, 43, 44]);
    await engine.dispose();
  });

  it("returns the window attention statistics of the reference's attention (sums, last row, accumulated)", async () => {
    const m = randomModel({ ...base, heads: 4, kvHeads: 2, headDim: 8, seed: 3 });
    const engine = await createEngine(inMemoryModel(m), 4);
    const pre = await engine.prefill(prompt, { windows: [3, 8], accumulate: true });
    const ref = createReference(m.config, m.weights).prefill(prompt, 0, { attention: true });
    const n = prompt.length;
    for (let l = 0; l < m.config.numLayers; l++) {
      const obs = pre.observations[l];
      assert.ok(obs);
      for (const a of [1, 3, 8]) {
        const w = obs.windows.find((x) => x.size === a);
        assert.ok(w, `window ${a}`);
        for (let h = 0; h < 4; h++) {
          const want = new Float64Array(n);
          for (let i = n - a; i < n; i++) (ref.attention?.[l]?.[h]?.[i] ?? []).forEach((p, j) => (want[j] = (want[j] ?? 0) + p));
          const d = maxAbsDiff(w.sum.data.subarray(h * n, (h + 1) * n), want);
          assert.ok(d < 1e-5, `layer ${l} α=${a} head ${h}: ${d}`);
          // Sum of squares and mean row entropy over the window (CAKE's inputs).
          const sq = new Float64Array(n);
          let ent = 0;
          for (let i = n - a; i < n; i++) {
            (ref.attention?.[l]?.[h]?.[i] ?? []).forEach((p, j) => {
              sq[j] = (sq[j] ?? 0) + p * p;
              if (p > 0) ent -= p * Math.log(p);
            });
          }
          assert.ok(maxAbsDiff(w.sqSum?.data.subarray(h * n, (h + 1) * n) ?? [], sq) < 1e-5, `sqSum layer ${l} α=${a} head ${h}`);
          assert.ok(Math.abs((w.entropy?.[h] ?? NaN) - ent / a) < 1e-4, `entropy layer ${l} α=${a} head ${h}: ${w.entropy?.[h]} vs ${ent / a}`);
        }
      }
      for (let h = 0; h < 4; h++) {
        const want = new Float64Array(n);
        for (let i = 0; i < n; i++) (ref.attention?.[l]?.[h]?.[i] ?? []).forEach((p, j) => (want[j] = (want[j] ?? 0) + p));
        assert.ok(maxAbsDiff(obs.accumulated?.data.subarray(h * n, (h + 1) * n) ?? [], want) < 1e-5, `accumulated layer ${l} head ${h}`);
      }
    }
    await engine.dispose();
  });
});
