/**
 * Decode-time eviction (H2O, StreamingLLM, TOVA, Knorm, Random): every head
 * stays at its budget while generating, positions continue from n, and the
 * logits at every step equal the float64 reference holding exactly the
 * positions the engine's cache holds, and H2O, TOVA and Knorm evict exactly
 * the token whose score, rebuilt from the reference, is lowest.
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

/**
 * Which token each method evicts, recomputed from the float64 reference: the
 * reference holds exactly the engine's cache, decodes the same token, and from
 * its attention rows and keys each method's documented score is rebuilt here
 * (not with core's scorers): H2O — attention accumulated over every prompt
 * query and every decode step, averaged over the KV head's query group; TOVA
 * ('layer', its default) — this step's attention averaged over all the layer's
 * query heads; Knorm — minus the L2 norm of the cached (post-RoPE) key. The
 * protected newest tokens are the documented defaults (H2O recentSize 8, TOVA
 * the last token, Knorm none), and each over-budget head must drop the argmin
 * of the rest.
 *
 * Ties: the engine scores in float32 (its logits agree with the reference to
 * ~3e-6, so its attention probabilities, sums and norms to a few parts in 1e6),
 * so a runner-up within a relative NEAR_TIE (30× that) of the minimum is a
 * near-tie the two precisions may order differently; there the
 * engine must have evicted one of the near-tied tokens, and such decisions must
 * stay rare (at most a tenth) so the test keeps its teeth. Exact ties go to the
 * oldest token, as the evictor documents.
 */
const NEAR_TIE = 1e-4;
// 24 steps: a layer compacts its cache once 16 slots are dead, so H2O's sums must also survive the move.
const STEPS = 24;
/**
 * The same model with W_q and W_k scaled by SHARP (q·k by SHARP²): its random attention is otherwise
 * nearly uniform, so H2O's sums fall with the position and the token leaving the recent window is
 * always the minimum, whatever the decode-time sums are. Peaked attention makes the choice depend on them.
 */
const SHARP = 2.5;
const peaked = {
  config: m.config,
  weights: new Map([...m.weights].map(([k, w]) => [k, /\.w[qk]$/.test(k) ? { ...w, data: Float32Array.from(w.data, (x) => x * SHARP) } : w] as const)),
};
describe('decode-time eviction picks the reference argmin', () => {
  const cases = [
    // With a budget of 12 of 30 tokens H2O keeps only heavy hitters, which out-sum any token that
    // leaves the recent window, so that token is always evicted. Keeping 26 with a window of 2 leaves
    // late prompt tokens (few prefill queries) competing with generated ones: the decode-time sums decide.
    { spec: 'h2o/zigzagkv', params: { recentSize: 2 }, window: 2, budget: 26 },
    { spec: 'h2o/zigzagkv', params: {}, window: 8, budget: 12 },
    { spec: 'tova/pyramidkv', params: {}, window: 1, budget: 12 },
    { spec: 'knorm/uniform+adakv', params: {}, window: 0, budget: 12 },
  ] as const;
  for (const { spec, params, window, budget } of cases) {
    it(`${spec} ${JSON.stringify(params)}: every eviction is the lowest reference score outside the ${window} newest tokens`, async () => {
      const parsed = parseMethodSpec(spec) as CompressionConfig;
      const method: CompressionConfig = { ...parsed, scorer: { ...parsed.scorer, params } };
      const scorer = method.scorer.id;
      const engine = await createEngine(inMemoryModel(peaked), 8);
      const pre = await prefillFor(engine, prompt, method);
      const { cache, plan } = compressPrefill(engine, pre, method, { kind: 'tokensPerLayer', value: budget });
      assert.ok(plan?.compress);
      const evictor = new DecodeEvictor(cache, plan, pre, m.config.numHeads);
      const { numLayers: L, numHeads: Hq, numKvHeads: Hkv } = m.config;
      const g = Hq / Hkv;
      const ref = createReference(peaked.config, peaked.weights);
      const prefill = ref.prefill(prompt, 0, { attention: true });
      // H2O's sums: acc[l][qHead] position → Σ attention over every query so far (prefill: all queries i ≥ position).
      const acc = Array.from({ length: L }, (_, l) =>
        Array.from({ length: Hq }, (_, h) => {
          const sums = new Map<number, number>();
          prefill.attention?.[l]?.[h]?.forEach((row) => row.forEach((p, j) => sums.set(j, (sums.get(j) ?? 0) + p)));
          return sums;
        }),
      );
      // The reference holds exactly the prompt positions the compressed cache holds.
      ref.cache = ref.cache.map((layer, l) => layer.map((entries, h) => entries.filter((e) => cache.positionsOf(l, h).includes(e.position))));
      let tok = 7;
      let decisions = 0;
      let nearTies = 0;
      for (let t = 0; t < STEPS; t++) {
        const pos = prompt.length + t;
        const r = await engine.step(cache, [tok], { attention: evictor.wantsAttention });
        const d = ref.decode(tok, pos);
        assert.ok(maxAbsDiff(r.logits, d.logits) < 1e-4, `step ${t}: logits ${maxAbsDiff(r.logits, d.logits)}`);
        // Per layer and query head: this step's attention by position.
        const rows = d.attention.map((layer, l) =>
          layer.map((p, h) => new Map((ref.cache[l]?.[Math.floor(h / g)] ?? []).map((e, i) => [e.position, p[i] ?? NaN] as const))),
        );
        rows.forEach((layer, l) => layer.forEach((row, h) => row.forEach((p, pos2) => acc[l]?.[h]?.set(pos2, (acc[l]?.[h]?.get(pos2) ?? 0) + p))));
        const before = Array.from({ length: L }, (_, l) => Array.from({ length: Hkv }, (_, h) => [...cache.positionsOf(l, h)]));
        evictor.afterStep(r.attention);
        for (let l = 0; l < L; l++) {
          for (let h = 0; h < Hkv; h++) {
            const entries = [...(ref.cache[l]?.[h] ?? [])].sort((a, b) => a.position - b.position);
            assert.deepEqual(
              entries.map((e) => e.position),
              before[l]?.[h],
              `layer ${l} KV head ${h}: the reference and the engine hold the same positions`,
            );
            const after = new Set(cache.positionsOf(l, h));
            const evicted = (before[l]?.[h] ?? []).filter((p) => !after.has(p));
            if (entries.length <= (plan.headBudgets[l]?.[h] ?? Infinity)) {
              assert.deepEqual(evicted, [], `layer ${l} KV head ${h} step ${t}: under budget, nothing to evict`);
              continue;
            }
            const score = (e: (typeof entries)[number]): number => {
              if (scorer === 'knorm') return -Math.sqrt(e.k.reduce((s, x) => s + x * x, 0));
              let s = 0;
              if (scorer === 'h2o') {
                for (let q = h * g; q < (h + 1) * g; q++) s += acc[l]?.[q]?.get(e.position) ?? NaN;
                return s / g;
              }
              for (let q = 0; q < Hq; q++) s += rows[l]?.[q]?.get(e.position) ?? 0; // a query head whose KV head lacks the token gives it 0
              return s / Hq;
            };
            const candidates = entries.slice(0, entries.length - window).map((e) => ({ position: e.position, s: score(e) }));
            const sorted = [...candidates].sort((a, b) => a.s - b.s || a.position - b.position);
            const best = sorted[0];
            assert.ok(best, `layer ${l} KV head ${h}: no candidate`);
            assert.equal(evicted.length, 1, `layer ${l} KV head ${h} step ${t}: one eviction, got [${evicted.join(', ')}]`);
            decisions++;
            const tied = sorted.filter((c) => c.s - best.s <= NEAR_TIE * Math.max(Math.abs(c.s), Math.abs(best.s)) + 1e-9).map((c) => c.position);
            if (tied.length > 1) {
              nearTies++;
              assert.ok(
                tied.includes(evicted[0] ?? -1),
                `layer ${l} KV head ${h} step ${t}: evicted ${evicted[0]}, near-tied minimum among [${tied.join(', ')}]`,
              );
            } else {
              assert.equal(
                evicted[0],
                best.position,
                `layer ${l} KV head ${h} step ${t}: evicted position ${evicted[0]}, the reference minimum is ${best.position} (${best.s}; next ${sorted[1]?.s})`,
              );
            }
            // Follow the engine's choice so the two caches stay identical.
            const layer = ref.cache[l];
            if (layer) layer[h] = (layer[h] ?? []).filter((e) => e.position !== evicted[0]);
          }
        }
        tok = (tok * 7 + 3) % 89;
      }
      assert.equal(decisions, STEPS * L * Hkv);
      assert.ok(nearTies <= decisions / 10, `${nearTies} of ${decisions} decisions were near-ties`);
      await engine.dispose();
    });
  }
});
