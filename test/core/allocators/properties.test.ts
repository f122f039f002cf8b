/**
 * Invariants every layer allocator in the registry must satisfy (with its
 * default parameters), swept over L, n, totals and statistics by fast-check:
 *   Σ budgets == total; every layer in [minPerLayer, n]; everything kept when
 *   total ≥ L·n; monotone in the total (up to the ±1 of largest-remainder
 *   rounding — see conserve.ts — and, for floored allocators, the step of an
 *   integer floor: when ⌈ratio·B_avg⌉ rises by one as the total grows, every
 *   layer at the floor gains a token and a dominant layer gives them up, e.g.
 *   ZigZagKV on 4 layers with all LMBA on one: [4,4,4,68] at 80 → [5,5,5,66]
 *   at 81); deterministic. Seeded, so a CI run is reproducible.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

fc.configureGlobal({ seed: 20261206 });
import type { LayerStats } from '@kvlab/core';
import { ALLOCATORS, getAllocator, largestRemainder, parseParams, waterFill } from '@kvlab/core';

const arbStats = fc
  .record({
    L: fc.integer({ min: 1, max: 48 }),
    n: fc.integer({ min: 2, max: 40_000 }),
    minPerLayer: fc.integer({ min: 1, max: 80 }),
    seed: fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 48 * 3, maxLength: 48 * 3 }),
  })
  .map(({ L, n, minPerLayer, seed }): LayerStats => ({
    numLayers: L,
    seqLen: n,
    minPerLayer: Math.min(minPerLayer, n),
    lmba: Float64Array.from(seed.slice(0, L)),
    entropy: Float64Array.from(seed.slice(48, 48 + L), (x) => x / 100),
    variance: Float64Array.from(seed.slice(96, 96 + L), (x) => x / 1e5),
  }));

for (const id of Object.keys(ALLOCATORS)) {
  const a = getAllocator(id);
  const p = parseParams(a, {});
  const feasible = (s: LayerStats, t: number) => t >= s.numLayers * Math.max(s.minPerLayer, 16) && t < s.numLayers * s.seqLen;

  describe(`allocator '${id}' invariants`, () => {
    it('conserves the total exactly and keeps every layer within [minPerLayer, n]', () => {
      fc.assert(
        fc.property(arbStats, fc.double({ min: 0, max: 1, noNaN: true }), (s, f) => {
          const total = Math.round(s.numLayers * (Math.max(s.minPerLayer, 16) + f * (s.seqLen - Math.max(s.minPerLayer, 16))));
          fc.pre(feasible(s, total));
          const b = a.allocate(s, total, p);
          assert.equal(b.length, s.numLayers);
          assert.equal(
            b.reduce((x, y) => x + y, 0),
            total,
          );
          for (const v of b) assert.ok(Number.isInteger(v) && v >= s.minPerLayer && v <= s.seqLen, `${v} outside [${s.minPerLayer}, ${s.seqLen}]`);
          assert.deepEqual(a.allocate(s, total, p), b, 'deterministic');
        }),
        { numRuns: 300 },
      );
    });

    it('keeps everything when the total covers the prompt', () => {
      fc.assert(
        fc.property(arbStats, fc.integer({ min: 0, max: 1000 }), (s, extra) => {
          const b = a.allocate(s, s.numLayers * s.seqLen + extra, p);
          assert.ok(b.every((v) => v === s.seqLen));
        }),
      );
    });

    it('is monotone in the total budget (each layer loses at most the 1 token of a rounding flip)', () => {
      fc.assert(
        fc.property(arbStats, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 500 }), (s, f, step) => {
          const lo = s.numLayers * Math.max(s.minPerLayer, 16);
          const t1 = Math.round(lo + f * (s.numLayers * s.seqLen - lo));
          const t2 = t1 + step;
          fc.pre(feasible(s, t1) && feasible(s, t2));
          const b1 = a.allocate(s, t1, p);
          const b2 = a.allocate(s, t2, p);
          const floor1 = Math.min(...b1);
          b1.forEach((v, l) => {
            const b = b2[l] ?? 0;
            if (b >= v - 1) return;
            // More than a rounding flip: only allowed when the floor rose and the tokens went to layers that were at it.
            const gainers = b2.map((x, k) => k).filter((k) => (b2[k] ?? 0) > (b1[k] ?? 0));
            assert.ok(
              Math.min(...b2) > floor1 && gainers.every((k) => (b1[k] ?? 0) <= floor1 + 1),
              `layer ${l}: ${v} → ${b} when the total grew ${t1} → ${t2}, and not to layers rising off the floor (${[...b1]} → ${[...b2]})`,
            );
          });
        }),
        { numRuns: 300 },
      );
    });
  });
}

describe('conserve.ts', () => {
  it('the real-valued water-fill is exactly monotone in the total', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 2, max: 5000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (w, n, f1, f2) => {
          const L = w.length;
          const sw = w.reduce((x, y) => x + y, 0) || 1;
          const [lo, hi] = [Math.min(f1, f2), Math.max(f1, f2)];
          const t1 = L + lo * (L * n - L);
          const t2 = L + hi * (L * n - L);
          const x1 = waterFill(
            w.map((x) => (t1 * x) / sw),
            t1,
            1,
            n,
            w,
          );
          const x2 = waterFill(
            w.map((x) => (t2 * x) / sw),
            t2,
            1,
            n,
            w,
          );
          x1.forEach((v, l) => assert.ok((x2[l] ?? 0) >= v - 1e-6 * n, `layer ${l}: ${v} → ${x2[l]}`));
        },
      ),
    );
  });

  it('largest remainder can move a layer DOWN when the total grows (Alabama paradox) — why monotonicity is ±1', () => {
    // Hamilton's classic example: populations 6, 6, 2 (quota shares), house 10 → 11.
    const shares = [6 / 14, 6 / 14, 2 / 14];
    const at = (t: number) => [
      ...largestRemainder(
        shares.map((s) => s * t),
        t,
      ),
    ];
    assert.deepEqual(at(10), [4, 4, 2]); // quotas 4.29, 4.29, 1.43
    assert.deepEqual(at(11), [5, 5, 1]); // quotas 4.71, 4.71, 1.57: the third layer lost a token
  });
});
