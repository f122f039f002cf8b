/**
 * The engine's ONNX graph against the independent float64 reference
 * (test/engine/reference/forward.ts, which shares no code with the graph
 * builder): logits within 1e-4 on random-weight models of several shapes,
 * for prefill in several chunk sizes and for decoding, at positions in the
 * thousands for each RoPE scaling (none, linear, llama3), and decoding from
 * compressed, ragged caches (different lengths per layer and per KV head).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCompression } from '@kvlab/core';
import { KvCache } from '../../electron/engine/kv-cache.ts';
import type { RopeScaling } from '../../electron/engine/model.ts';
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

  // Positions in the thousands, for every RoPE scaling the engine supports (none, 'linear', 'llama3')
  // and more θ / vocabulary sizes. Two ways to get there without a prompt of thousands of tokens:
  //  - offset: an empty cache whose prompt length is P (as if a P-token prompt had been fully
  //    evicted), then the prompt fed as one multi-token step at P … P+12 — the reference's
  //    prefill(tokens, P). Keys and queries both sit in the thousands.
  //  - gap: the prompt prefilled at 0 … 12 and kept, then decoding at P, P+1, … (a P-token prompt
  //    of which only the first 13 tokens were kept): query–key distances in the thousands, where
  //    the long-wavelength frequencies that llama3 and linear scaling change actually rotate.
  // Tolerance: the same 1e-4 as above. The engine computes the angles p·inv_freq in float64 and
  // rounds only cos/sin to float32 (relative error ~6e-8 at any p), and the rest is the same float32
  // arithmetic as at small positions; logits are O(1) (std 0.3–5), and the largest difference seen
  // here is 3e-6, so 1e-4 leaves a 30× margin.
  // Each case also checks the reference with the wrong scaling or a position off by one is farther
  // than 1e-2 away, so agreement within 1e-4 really pins the angles down.
  const llama31: RopeScaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
  const far: (Partial<RandomModelOptions> & { label: string; P: number })[] = [
    { label: 'no scaling, θ 1e6, vocab 1000, P 4096', heads: 4, kvHeads: 2, headDim: 16, ropeTheta: 1e6, vocab: 1000, P: 4096 },
    {
      label: "'linear' ×4, θ 10000, interleaved, P 3000",
      heads: 4,
      kvHeads: 1,
      headDim: 32,
      ropeLayout: 'interleaved',
      ropeScaling: { type: 'linear', factor: 4 },
      P: 3000,
    },
    {
      // d 16 at θ 5e5 has wavelengths 6 … 6.3e5, so all three llama3 bands (kept < 2048 < interpolated < 8192 < divided) occur.
      label: "'llama3' (Llama 3.1: factor 8, original 8192), θ 5e5, vocab 2053, bias, P 20000",
      heads: 8,
      kvHeads: 2,
      headDim: 16,
      ropeTheta: 500000,
      ropeScaling: llama31,
      vocab: 2053,
      qkvBias: true,
      contextLength: 131072,
      P: 20000,
    },
  ];
  far.forEach(({ P, label, ...s }, i) => {
    const m = randomModel({ ...base, heads: 4, kvHeads: 4, headDim: 8, ...s, seed: 200 + i });
    const V = m.config.vocabSize;
    const toks = prompt.map((t, j) => (t * 31 + j * 7) % V);
    const gen = [7, 50, 1, 96].map((t) => (t * 13) % V);
    const refs = (config: typeof m.config) => createReference(config, m.weights);
    // A control model: the scaling dropped, or (unscaled) θ doubled.
    const { ropeScaling, ...unscaled } = m.config;
    const wrongScaling: typeof m.config = ropeScaling ? unscaled : { ...unscaled, ropeTheta: unscaled.ropeTheta * 2 };

    it(`${label}: offset — the prompt at P … P+12 and 4 decode steps, within ${TOL}`, async () => {
      const engine = await createEngine(inMemoryModel(m), 5);
      const empty = m.config.numLayers;
      const cache = KvCache.fromKept(
        engine.shape,
        Array.from({ length: empty }, () => new Float32Array(0)),
        Array.from({ length: empty }, () => new Float32Array(0)),
        P,
        Array.from({ length: empty }, () => Array.from({ length: m.config.numKvHeads }, () => new Int32Array(0))),
      );
      const got = (await engine.step(cache, toks, { allLogits: true })).logits;
      const ref = refs(m.config);
      const want = ref.prefill(toks, P).logits;
      toks.forEach((_, t) => {
        const d = maxAbsDiff(got.subarray(t * V, (t + 1) * V), want[t] ?? []);
        assert.ok(d < TOL, `position ${P + t}: max |Δlogit| ${d}`);
      });
      for (const [k, tok] of gen.entries()) {
        const g = (await engine.step(cache, [tok])).logits;
        const w = ref.step(tok, P + toks.length + k);
        assert.ok(maxAbsDiff(g, w) < TOL, `decode at ${P + toks.length + k}: ${maxAbsDiff(g, w)}`);
      }
      assert.deepEqual([...cache.positionsOf(0, 0)], [...Array.from({ length: toks.length + gen.length }, (_, j) => P + j)]);
      await engine.dispose();
    });

    it(`${label}: gap — the prompt kept at 0 … 12, decoding at P, P+1, … within ${TOL}; wrong scaling or position is > 1e-2 off`, async () => {
      const engine = await createEngine(inMemoryModel(m), 5);
      const pre = await engine.prefill(toks);
      const cacheAtP = KvCache.fromKept(
        engine.shape,
        pre.keys,
        pre.values,
        P,
        Array.from({ length: m.config.numLayers }, () => Array.from({ length: m.config.numKvHeads }, () => Int32Array.from(toks, (_, j) => j))),
      );
      const ref = refs(m.config);
      const wrong = refs(wrongScaling);
      const shifted = refs(m.config);
      ref.prefill(toks);
      wrong.prefill(toks);
      shifted.prefill(toks);
      for (const [k, tok] of gen.entries()) {
        const g = (await engine.step(cacheAtP, [tok])).logits;
        const w = ref.step(tok, P + k);
        assert.ok(maxAbsDiff(g, w) < TOL, `decode at ${P + k}: ${maxAbsDiff(g, w)}`);
        assert.ok(maxAbsDiff(g, wrong.step(tok, P + k)) > 1e-2, `decode at ${P + k}: scaling/θ has no visible effect`);
        assert.ok(maxAbsDiff(g, shifted.step(tok, P + k + 1)) > 1e-2, `decode at ${P + k}: position off by one has no visible effect`);
      }
      assert.deepEqual(
        [...cacheAtP.positionsOf(0, 1 % m.config.numKvHeads)].slice(-gen.length),
        gen.map((_, k) => P + k),
      );
      await engine.dispose();
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

  it('reports a prefill chunk by chunk: the tokens done after each chunk, of the prompt', async () => {
    const m = randomModel({ ...base, heads: 4, kvHeads: 2, headDim: 8, layers: 2, seed: 5 });
    const engine = await createEngine(inMemoryModel(m), 5);
    const seen: [number, number][] = [];
    await engine.prefill(prompt, { onProgress: (done, total) => seen.push([done, total]) });
    assert.deepEqual(seen, [
      [5, 13],
      [10, 13],
      [13, 13],
    ]);
    await engine.dispose();
  });

  it("a step that does not commit, over a view of the prefill's own arrays, gives the reference's logits at every fed position and changes nothing", async () => {
    const m = randomModel({ ...base, heads: 8, kvHeads: 4, headDim: 8, layers: 3, seed: 9 });
    const engine = await createEngine(inMemoryModel(m), 16);
    const pre = await engine.prefill(prompt);
    const before = pre.keys.map((k) => k.slice());
    const view = KvCache.view(engine.shape, pre.keys, pre.values, prompt.length);
    const fed = [7, 50, 1];
    const V = m.config.vocabSize;
    for (let round = 0; round < 2; round++) {
      const ref = createReference(m.config, m.weights);
      ref.prefill(prompt);
      const got = (await engine.step(view, fed, { allLogits: true, commit: false })).logits;
      fed.forEach((tok, i) => {
        const want = ref.step(tok, prompt.length + i);
        assert.ok(maxAbsDiff(got.subarray(i * V, (i + 1) * V), want) < TOL, `round ${round}, position ${i}`);
      });
      assert.equal(view.nextPosition, prompt.length, 'the next step starts where the prompt ends, again');
      assert.equal(view.slots(0), prompt.length);
    }
    assert.equal(view.feeds(0).keys, pre.keys[0], 'read where they lie');
    pre.keys.forEach((k, l) => assert.deepEqual(k, before[l]));
    await assert.rejects(engine.step(view, [3]), /a view of a prefill .* must not commit/);
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
