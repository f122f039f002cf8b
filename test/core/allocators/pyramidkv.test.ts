import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BudgetError, ParamError } from '../../../core/src/errors.ts';
import { parseParams } from '../../../core/src/method.ts';
import { pyramidRaw, pyramidkv } from '../../../core/src/allocators/pyramidkv.ts';
import type { PyramidKvParams } from '../../../core/src/allocators/pyramidkv.ts';

const conserving = parseParams(pyramidkv, {});
const factory = parseParams(pyramidkv, { schedule: 'kvcacheFactory' });
const stats = (L: number, n: number, minPerLayer = 9) => ({ numLayers: L, seqLen: n, minPerLayer });
const alloc = (L: number, n: number, total: number, p: PyramidKvParams, minPerLayer = 9) => [...pyramidkv.allocate(stats(L, n, minPerLayer), total, p)];
const sum = (a: readonly number[]) => a.reduce((s, x) => s + x, 0);

/**
 * Independent reference: KVCache-Factory `PyramidKVCluster.update_kv` (pyramidkv/pyramidkv_utils.py),
 * transliterated line by line; returns the number of tokens each layer keeps.
 */
function upstreamPyramid(L: number, maxCapacityPrompt: number, windowSize: number, beta: number, qLen: number): number[] {
  const div = (a: number, b: number) => Math.floor(a / b); // Python `//`
  return Array.from({ length: L }, (_, layerIdx) => {
    let minNum = div(maxCapacityPrompt - windowSize, beta);
    let maxNum = (maxCapacityPrompt - windowSize) * 2 - minNum;
    if (maxNum >= qLen - windowSize) {
      maxNum = qLen - windowSize;
      minNum = (maxCapacityPrompt - windowSize) * 2 - maxNum;
    }
    const steps = div(maxNum - minNum, L - 1);
    const layerCapacity = maxNum - layerIdx * steps;
    if (qLen < maxCapacityPrompt) return qLen; // returns key_states uncompressed
    if (qLen < (maxCapacityPrompt - windowSize) * 2) return maxCapacityPrompt - windowSize + windowSize; // topk(C) + window
    return layerCapacity + windowSize; // topk(max_capacity_prompt) + window
  });
}

describe('pyramidkv worked examples (by hand from pyramidkv_utils.py)', () => {
  // L = 4, B_avg = 136, α = 8, β = 20, n = 1000 → C = 128.
  it('kvcacheFactory: L=4, B=136, α=8, n=1000 → [258, 177, 96, 15] (Σ 546, over by 2)', () => {
    // min = 128 // 20 = 6; max = 256 − 6 = 250; 250 ≥ 992? no.
    // step = (250 − 6) // 3 = 244 // 3 = 81 → prefix 250, 169, 88, 7 → + α = 258, 177, 96, 15.
    // Σ = 546 = 544 + 2: the floored step (81 < 81.33) leaves the lower layers 2 tokens too many.
    assert.deepEqual(alloc(4, 1000, 544, factory), [258, 177, 96, 15]);
    assert.deepEqual(upstreamPyramid(4, 136, 8, 20, 1000), [258, 177, 96, 15]);
  });

  it('conserving: the same inputs → reals [257.6, 176.53, 95.47, 14.4] → [258, 177, 95, 14] (Σ 544)', () => {
    // min = 128/20 = 6.4; max = 256 − 6.4 = 249.6; step = 243.2/3 = 81.0667
    // prefix 249.6, 168.533, 87.467, 6.4 (Σ 512 = L·C) → + α = 257.6, 176.533, 95.467, 14.4 (Σ 544)
    // largest remainder: floors 257, 176, 95, 14 (Σ 542); the 2 seats go to .6 and .533 → layers 0, 1.
    assert.deepEqual(
      [...pyramidRaw(4, 1000, 544, conserving)].map((x) => +x.toFixed(3)),
      [257.6, 176.533, 95.467, 14.4],
    );
    assert.deepEqual(alloc(4, 1000, 544, conserving), [258, 177, 95, 14]);
  });

  it('the prompt-length clamp: n=257 → factory [257, 177, 97, 17] (Σ 548), conserving [257, 176, 96, 15]', () => {
    // max = 250 ≥ n − α = 249 → max = 249, min = 256 − 249 = 7.
    // factory: step = 242 // 3 = 80 → prefix 249, 169, 89, 9 → 257, 177, 97, 17 (Σ 548).
    // conserving: max0 = 249.6 ≥ 249 → max = 249, min = 7; step = 242/3 = 80.667
    //   → 257, 176.333, 95.667, 15 (Σ 544) → floors Σ 543, one seat to .667 (layer 2) → 257, 176, 96, 15.
    assert.deepEqual(alloc(4, 257, 544, factory), [257, 177, 97, 17]);
    assert.deepEqual(upstreamPyramid(4, 136, 8, 20, 257), [257, 177, 97, 17]);
    assert.deepEqual(alloc(4, 257, 544, conserving), [257, 176, 96, 15]);
  });

  it('n = 2C exactly: both schedules give [256, 176, 96, 16] (Σ 544)', () => {
    // max = 250 ≥ 248 → max = 248, min = 8; step = 240/3 = 80 in both → 256, 176, 96, 16.
    assert.deepEqual(alloc(4, 256, 544, factory), [256, 176, 96, 16]);
    assert.deepEqual(alloc(4, 256, 544, conserving), [256, 176, 96, 16]);
  });

  it('B_avg ≤ n < 2C is uniform (upstream falls back to SnapKV)', () => {
    assert.deepEqual(alloc(4, 200, 544, factory), [136, 136, 136, 136]);
    assert.deepEqual(alloc(4, 200, 544, conserving), [136, 136, 136, 136]);
    assert.deepEqual(upstreamPyramid(4, 136, 8, 20, 200), [136, 136, 136, 136]);
  });

  it('n ≤ B_avg keeps the whole prompt in every layer', () => {
    assert.deepEqual(alloc(4, 100, 544, factory), [100, 100, 100, 100]);
    assert.deepEqual(alloc(4, 100, 544, conserving), [100, 100, 100, 100]);
    assert.deepEqual(alloc(4, 136, 544, conserving), [136, 136, 136, 136]);
  });

  it('kvcacheFactory over-allocates when the step floors to 0 (L=32, B=16, α=8: every layer 24)', () => {
    // C = 8, min = 8 // 20 = 0, max = 16, step = 16 // 31 = 0 → 16 + 8 = 24 everywhere: Σ 768 for a total of 512.
    const f = alloc(32, 1000, 512, factory);
    assert.deepEqual(f, new Array(32).fill(24));
    const c = alloc(32, 1000, 512, conserving);
    assert.equal(sum(c), 512);
    assert.ok(c.every((b) => b >= 9 && b <= 1000));
  });

  it('kvcacheFactory raises a layer left with no prefix tokens to minPerLayer', () => {
    // L=4, B=11, α=8: C=3, min = 0, max = 6, step = 6 // 3 = 2 → prefix 6, 4, 2, 0 → 14, 12, 10, 8; 8 < 9 → 9.
    assert.deepEqual(upstreamPyramid(4, 11, 8, 20, 1000), [14, 12, 10, 8]);
    assert.deepEqual(alloc(4, 1000, 44, factory), [14, 12, 10, 9]);
  });

  it('a fractional B_avg is floored by kvcacheFactory and kept exact by conserving', () => {
    // total 545 → B = ⌊136.25⌋ = 136 → the same as total 544.
    assert.deepEqual(alloc(4, 1000, 545, factory), [258, 177, 96, 15]);
    assert.equal(sum(alloc(4, 1000, 545, conserving)), 545);
  });

  it('L = 1 keeps the whole budget in its one layer', () => {
    assert.deepEqual(alloc(1, 1000, 136, conserving), [136]);
    assert.deepEqual(alloc(1, 1000, 136, factory), [136]);
  });

  it('β = 1 is flat: min = max = C', () => {
    assert.deepEqual(alloc(4, 1000, 544, { ...conserving, beta: 1 }), [136, 136, 136, 136]);
    assert.deepEqual(alloc(4, 1000, 544, { ...factory, beta: 1 }), [136, 136, 136, 136]);
  });
});

describe('pyramidkv errors and params', () => {
  it('rejects an average budget not above the window', () => {
    assert.throws(
      () => alloc(4, 1000, 32, conserving, 1),
      (e: unknown) => e instanceof BudgetError && /pyramidkv/.test(e.message) && /windowSize/.test(e.message),
    );
    assert.throws(() => alloc(4, 1000, 35, factory, 1), BudgetError); // ⌊35/4⌋ = 8 = α
  });

  it('rejects a total below L·minPerLayer (conserving)', () => {
    assert.throws(() => alloc(4, 1000, 40, conserving, 11), BudgetError);
  });

  it('validates parameters with named errors', () => {
    assert.throws(
      () => parseParams(pyramidkv, { beta: 0 }),
      (e: unknown) => e instanceof ParamError && /beta for 'pyramidkv'/.test(e.message),
    );
    assert.throws(() => parseParams(pyramidkv, { schedule: 'kvpress' }), ParamError);
    assert.throws(() => parseParams(pyramidkv, { windowsize: 8 }), ParamError);
    assert.deepEqual(parseParams(pyramidkv, {}), { beta: 20, windowSize: 8, schedule: 'conserving' });
  });
});

describe('pyramidkv invariants', () => {
  const arb = fc
    .record({
      L: fc.integer({ min: 1, max: 40 }),
      alpha: fc.integer({ min: 0, max: 32 }),
      n: fc.integer({ min: 2, max: 3000 }),
      beta: fc.integer({ min: 1, max: 40 }),
      u: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .filter(({ alpha, n }) => alpha + 1 < n)
    .map(({ L, alpha, n, beta, u }) => {
      const lo = L * (alpha + 1); // the smallest total with B_avg > α and minPerLayer = α + 1
      const total = lo + Math.floor(u * (L * n - 1 - lo));
      return { L, alpha, n, beta, total };
    });

  it('conserving: Σ = total, every layer in [minPerLayer, n], non-increasing, within 1 of the raw schedule when no bound binds', () => {
    fc.assert(
      fc.property(arb, ({ L, alpha, n, beta, total }) => {
        const p = { ...conserving, windowSize: alpha, beta };
        const b = alloc(L, n, total, p, alpha + 1);
        assert.equal(sum(b), total);
        for (const x of b) assert.ok(x >= alpha + 1 && x <= n, `${x} outside [${alpha + 1}, ${n}]`);
        for (let l = 1; l < L; l++) assert.ok((b[l] ?? 0) <= (b[l - 1] ?? 0), `not non-increasing: ${b.join(',')}`);
        const raw = pyramidRaw(L, n, total, p);
        if (raw.every((r) => r >= alpha + 1 && r <= n)) raw.forEach((r, l) => assert.ok(Math.abs(r - (b[l] ?? 0)) < 1, `layer ${l}: ${b[l]} vs raw ${r}`));
      }),
      { numRuns: 400 },
    );
  });

  it('kvcacheFactory equals the transliterated upstream (minPerLayer 0), never exceeds n and never under-allocates the pyramid', () => {
    fc.assert(
      fc.property(
        fc.record({
          L: fc.integer({ min: 2, max: 40 }),
          alpha: fc.integer({ min: 0, max: 64 }),
          C: fc.integer({ min: 1, max: 500 }),
          beta: fc.integer({ min: 1, max: 40 }),
          extra: fc.integer({ min: 1, max: 2000 }),
        }),
        ({ L, alpha, C, beta, extra }) => {
          const B = C + alpha;
          const n = B + extra;
          const p = { ...factory, windowSize: alpha, beta };
          const b = alloc(L, n, L * B, p, 0);
          assert.deepEqual(b, upstreamPyramid(L, B, alpha, beta, n));
          for (let l = 0; l < L; l++) {
            assert.ok((b[l] ?? 0) <= n);
            if (l > 0) assert.ok((b[l] ?? 0) <= (b[l - 1] ?? 0));
          }
          if (n >= 2 * C) {
            // Σ (max − l·step) ≥ L·(max + min)/2 = L·C because step ≤ (max − min)/(L − 1).
            assert.ok(sum(b) >= L * B);
            assert.ok(sum(b) - L * B <= (L * (L - 1)) / 2);
          } else assert.equal(sum(b), L * B);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the real-valued schedule sums to the total (its mean is B_avg)', () => {
    for (const total of [400, 544, 800, 2000]) {
      const raw = pyramidRaw(4, 1000, total, conserving);
      assert.ok(Math.abs(sum([...raw]) - total) < 1e-9);
    }
  });
});
