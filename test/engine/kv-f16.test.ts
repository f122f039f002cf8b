/**
 * The f16 KV cache against the independent float64 reference. The engine
 * computes in float32 and rounds K/V to float16 when they join the cache, so
 * it is checked against a reference whose cache entries are rounded to
 * float16 the same way (tight tolerance: only float32-vs-float64 arithmetic
 * differs), and its distance from the unrounded reference is reported and
 * bounded (the cost of f16 storage). Sizes: bytes counted at 2 per element,
 * and a byte budget buys twice the tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { f16ToF32, f32ToF16, planCompression, resolveBudget } from '@kvlab/core';
import { Engine } from '../../electron/engine/engine.ts';
import { KvCache } from '../../electron/engine/kv-cache.ts';
import { createReference, type KvCache as RefCache } from './reference/forward.ts';
import { randomModel } from './reference/random-model.ts';
import { inMemoryModel, maxAbsDiff, testCacheDir } from './engine-helpers.ts';

/** float32 arithmetic against float64 on the same (rounded) values: as engine.test.ts's bound. */
const TOL = 1e-4;
/**
 * f16 storage against exact K/V: a key or value rounded to f16 moves by at most 2^-11 of itself, so a
 * score q·k moves by ≲ 2^-11·|q||k| and an attention output by ≲ 2^-11·|v|; through these small random
 * models that stays far below 1e-2 in the logits (measured ~1e-3, printed below).
 */
const F16_TOL = 1e-2;

const roundF16 = (a: Float64Array): Float64Array => a.map((x) => f16ToF32(f32ToF16(x)));
const roundCache = (c: RefCache): RefCache => c.map((layer) => layer.map((entries) => entries.map((e) => ({ ...e, k: roundF16(e.k), v: roundF16(e.v) }))));

const base = { vocab: 97, hidden: 48, inter: 80, layers: 3, qkvBias: false, tied: true, ropeLayout: 'halves', ropeTheta: 10000 } as const;
const prompt = [5, 17, 3, 88, 42, 42, 9, 60, 13, 71, 2, 33, 64];

const open = (m: ReturnType<typeof randomModel>, kvType: 'f32' | 'f16', chunk = 128) =>
  Engine.create(inMemoryModel(m), { cacheDir: testCacheDir(), threads: 1, prefillChunk: chunk, kvType });

describe('f16 KV cache', () => {
  it('prefill is exact in one chunk; decode matches the reference holding f16-rounded K/V; the distance to exact K/V is bounded', async (t) => {
    const m = randomModel({ ...base, heads: 8, kvHeads: 2, headDim: 16, seed: 41 });
    const engine = await open(m, 'f16');
    assert.equal(engine.shape.dtype, 'float16');
    const pre = await engine.prefill(prompt);
    assert.ok(pre.keys[0] instanceof Uint16Array, 'the prefill hands over f16 K/V');
    const ref = createReference(m.config, m.weights);
    const exact = createReference(m.config, m.weights);
    const want = ref.prefill(prompt).logits;
    exact.prefill(prompt);
    assert.ok(maxAbsDiff(pre.logits, want[prompt.length - 1] ?? []) < TOL, 'one chunk attends to its own K/V before rounding');
    ref.cache = roundCache(ref.cache);
    const cache = KvCache.full(engine.shape, pre.keys, pre.values, prompt.length);
    let worst = 0;
    for (const [k, tok] of [7, 50, 1, 96, 12].entries()) {
      const got = (await engine.step(cache, [tok])).logits;
      const rounded = ref.step(tok, prompt.length + k);
      ref.cache = roundCache(ref.cache); // the new token joins the past rounded, as in the engine
      assert.ok(maxAbsDiff(got, rounded) < TOL, `step ${k} against the f16-rounded reference: ${maxAbsDiff(got, rounded)}`);
      const unrounded = exact.step(tok, prompt.length + k);
      worst = Math.max(worst, maxAbsDiff(got, unrounded));
    }
    t.diagnostic(`f16 cache vs exact K/V: max |Δlogit| ${worst.toExponential(2)} over 5 steps`);
    assert.ok(worst < F16_TOL && worst > 0, `f16 storage moves the logits by ${worst}`);
    await engine.dispose();
  });

  it('a compressed, ragged f16 cache decodes like the f16-rounded reference holding the same positions, in half the bytes', async () => {
    const m = randomModel({ ...base, heads: 8, kvHeads: 4, headDim: 8, layers: 4, seed: 7 });
    const long = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 97);
    const engine = await open(m, 'f16', 16);
    const pre = await engine.prefill(long, { windows: [8] });
    // The observations the methods read are float32, converted from the f16 K/V on first read, not before:
    // a prefill converting every layer's K/V held them three times over (f16 and f32 copies).
    const o = pre.observations[1];
    for (const obs of pre.observations) {
      for (const key of ['keys', 'values'] as const)
        assert.equal(typeof Object.getOwnPropertyDescriptor(obs, key)?.get, 'function', `layer ${obs.layer}'s ${key} are not converted yet`);
    }
    assert.ok(o?.keys && o.values);
    assert.equal(o.keys, o.keys, 'converted once');
    assert.deepEqual([...o.keys.data.subarray(0, 64)], [...(pre.keys[1] ?? new Uint16Array()).subarray(0, 64)].map(f16ToF32));
    const plan = planCompression(pre.observations, { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' }, headwise: { id: 'adakv' } }, 4 * 16);
    const cache = KvCache.fromKept(engine.shape, pre.keys, pre.values, long.length, plan.kept);
    const held = cache.size();
    assert.equal(held.bytes, held.entries * 8 * 2 * 2, 'K+V at 2 bytes per element');
    const asF32 = KvCache.fromKept(
      { ...engine.shape, dtype: 'float32' },
      pre.keys.map((k) => Float32Array.from(k, f16ToF32)),
      pre.values.map((v) => Float32Array.from(v, f16ToF32)),
      long.length,
      plan.kept,
    );
    assert.equal(asF32.size().bytes, 2 * held.bytes, 'the same entries in f32 take twice the bytes');
    const ref = createReference(m.config, m.weights);
    ref.prefill(long);
    // Prefill in chunks of 16: a chunk attends to its own K/V exact and to earlier chunks' rounded, so the reference's
    // prefill K/V can differ from the engine's below f16 resolution; its cache is rounded to f16 like the engine's.
    ref.cache = roundCache(ref.cache.map((layer, l) => layer.map((entries, h) => entries.filter((e) => plan.kept[l]?.[h]?.includes(e.position)))));
    for (const [k, tok] of [3, 14, 15, 92, 65].entries()) {
      const got = (await engine.step(cache, [tok])).logits;
      const want = ref.step(tok, long.length + k);
      ref.cache = roundCache(ref.cache);
      assert.ok(maxAbsDiff(got, want) < F16_TOL, `step ${k}: ${maxAbsDiff(got, want)}`);
    }
    await engine.dispose();
  });

  it('a byte budget buys twice the tokens in f16', () => {
    const shape = { numLayers: 4, numKvHeads: 4, headDim: 8, dtype: 'float16' as const };
    const budget = { kind: 'bytes', value: 4 * 4 * 8 * 2 * 2 * 10 } as const; // 10 tokens per layer in f16
    assert.equal(resolveBudget(budget, shape, 40).tokensPerLayer, 10);
    assert.equal(resolveBudget(budget, { ...shape, dtype: 'float32' }, 40).tokensPerLayer, 5);
  });
});
