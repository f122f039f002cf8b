import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BudgetError, MissingInputError, ParamError, parseParams, waterFill } from '@kvlab/core';
import { zigzagAllocation, zigzagkv } from '../../../core/src/allocators/zigzagkv.ts';

const defaults = parseParams(zigzagkv, {});
const stats = (lmba: number[], n: number, minPerLayer = 9) => ({ numLayers: lmba.length, seqLen: n, minPerLayer, lmba: Float64Array.from(lmba) });

describe('zigzagkv worked examples (shared/docs/zigzagkv.md)', () => {
  it('§2.3: L=4, B_avg=128, floor 0.2·B_avg, LMBA=[400,100,300,200] → [189, 67, 148, 108]', () => {
    const r = zigzagAllocation(stats([400, 100, 300, 200], 100_000), 512, defaults);
    assert.deepEqual([...r.uncertainty], [0.4, 0.1, 0.3, 0.2]);
    assert.equal(r.bound, 25.6);
    assert.deepEqual(
      [...r.raw].map((x) => +x.toFixed(2)),
      [189.44, 66.56, 148.48, 107.52],
    );
    assert.deepEqual([...r.budgets], [189, 67, 148, 108]);
  });

  it('§5: the same inputs with a short prompt (n=150, α=8) water-fill to [150, 79.2, 150, 132.8] → [150, 79, 150, 133]', () => {
    const s = stats([400, 100, 300, 200], 150);
    const r = zigzagAllocation(s, 512, defaults);
    const real = waterFill(r.raw, 512, 26, 150, r.uncertainty);
    assert.deepEqual(
      [...real].map((x) => +x.toFixed(6)),
      [150, 79.2, 150, 132.8],
    );
    assert.deepEqual([...r.budgets], [150, 79, 150, 133]);
  });

  it('boundRatio 0 is the purely proportional rule (Eq. 5)', () => {
    const r = zigzagAllocation(stats([400, 100, 300, 200], 100_000, 1), 512, { ...defaults, boundRatio: 0 });
    assert.deepEqual([...r.budgets], [205, 51, 154, 102]); // 512·[0.4,0.1,0.3,0.2] = 204.8, 51.2, 153.6, 102.4
  });

  it('boundTokens overrides boundRatio', () => {
    const r = zigzagAllocation(stats([1, 0, 0, 0], 100_000), 400, { ...defaults, boundTokens: 50 });
    assert.deepEqual([...r.budgets], [250, 50, 50, 50]); // 50 + 50·4·1 = 250
  });

  it("staticProfile uses the given LMBA and ignores the prompt's", () => {
    const p = parseParams(zigzagkv, { allocation: 'staticProfile', staticLmba: [400, 100, 300, 200] });
    const r = zigzagAllocation({ numLayers: 4, seqLen: 100_000, minPerLayer: 9, lmba: Float64Array.from([1, 1, 1, 1]) }, 512, p);
    assert.deepEqual([...r.budgets], [189, 67, 148, 108]);
    assert.deepEqual(zigzagkv.collect([], p), {});
  });

  it("rounding 'perLayer' rounds each layer on its own, like the kvpress port", () => {
    const p = { ...defaults, rounding: 'perLayer' as const };
    const r = zigzagAllocation(stats([1, 1, 1], 100_000), 100, p); // 33.33 each
    assert.deepEqual([...r.budgets], [33, 33, 33]); // total drifts to 99
  });
});

describe('zigzagkv errors', () => {
  it('names the method and parameter on bad params', () => {
    assert.throws(
      () => parseParams(zigzagkv, { tau: 1.5 }),
      (e: unknown) => e instanceof ParamError && e.message === "tau for 'zigzagkv' must be a number in (0, 1), got 1.5",
    );
    assert.throws(
      () => parseParams(zigzagkv, { tua: 0.5 }),
      (e: unknown) => e instanceof ParamError && /'tua'/.test(e.message),
    );
    assert.throws(
      () => parseParams(zigzagkv, { lmbaSource: 'entropy' }),
      (e: unknown) => e instanceof ParamError && e.param === 'lmbaSource',
    );
    assert.throws(
      () => zigzagAllocation(stats([1, 2], 100), 100, { ...defaults, allocation: 'staticProfile' }),
      (e: unknown) => e instanceof ParamError && e.param === 'staticLmba',
    );
    assert.throws(
      () => zigzagAllocation(stats([1, 2], 100), 100, { ...defaults, allocation: 'staticProfile', staticLmba: [1, 2, 3] }),
      (e: unknown) => e instanceof ParamError && /one entry per layer \(2\)/.test(e.message),
    );
  });

  it('needs LMBA in perInput mode', () => {
    assert.throws(() => zigzagkv.allocate({ numLayers: 2, seqLen: 100, minPerLayer: 9 }, 100, defaults), MissingInputError);
  });

  it('refuses a total below the per-layer floors', () => {
    assert.throws(() => zigzagkv.allocate(stats([1, 2, 3, 4], 1000), 30, defaults), BudgetError);
  });
});

describe('zigzagkv properties', () => {
  const arb = fc.record({
    lmba: fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 40 }),
    n: fc.integer({ min: 10, max: 5000 }),
    frac: fc.double({ min: 0.01, max: 1.2, noNaN: true }),
    boundRatio: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  // Eq. 6 gives raw_l = B_bound + (B_avg − B_bound)·L·U_l ≥ B_bound, so the floor
  // max(⌈B_bound⌉, minPerLayer) cannot bind when B_bound is a whole number of
  // tokens and minPerLayer ≤ B_bound, and the cap n cannot bind when n > total.
  // These cases are built that way (several layers, some with LMBA 0, so some
  // layers sit exactly on the floor), so the property is asserted on every run.
  const arbUnbound = fc
    .record({
      L: fc.integer({ min: 2, max: 40 }),
      avg: fc.integer({ min: 1, max: 500 }),
      boundShare: fc.double({ min: 0, max: 1, noNaN: true }),
      minShare: fc.double({ min: 0, max: 1, noNaN: true }),
      byRatio: fc.boolean(),
      lmba: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 1000, noNaN: true })), { minLength: 40, maxLength: 40 }),
    })
    .map(({ L, avg, boundShare, minShare, byRatio, lmba }) => {
      const bound = Math.max(1, Math.round(boundShare * avg)); // whole tokens, 1 ≤ bound ≤ avg
      const minPerLayer = Math.max(1, Math.round(minShare * bound)); // ≤ bound
      const total = L * avg;
      return { L, total, bound, minPerLayer, byRatio, lmba: lmba.slice(0, L), n: total + 1 };
    });

  /** Eq. 6 evaluated here, independently of the allocator. */
  const eq6 = (lmba: number[], total: number, bound: number) => {
    const L = lmba.length;
    const sum = lmba.reduce((a, b) => a + b, 0);
    const avg = total / L;
    return lmba.map((v) => bound + (avg - bound) * L * (sum > 0 ? v / sum : 1 / L));
  };

  /** Integer budgets are a largest-remainder rounding of `want`: each is ⌊want⌋ or ⌈want⌉, Σ = total, larger remainders round up first. */
  const assertRoundingOf = (budgets: Int32Array, want: readonly number[], total: number) => {
    assert.equal(
      budgets.reduce((a, b) => a + b, 0),
      total,
    );
    const up = want.map((w, l) => {
      const b = budgets[l] ?? NaN;
      const lo = Math.floor(w + 1e-9);
      assert.ok(b === lo || b === lo + 1, `layer ${l}: budget ${b}, Eq. 6 gives ${w}`);
      if (Math.abs(w - Math.round(w)) < 1e-9) assert.equal(b, Math.round(w), `layer ${l}: Eq. 6 gives the whole number ${w}`);
      return { up: b > w, f: w - lo };
    });
    for (const a of up) for (const b of up) if (a.f > b.f + 1e-9) assert.ok(a.up || !b.up, 'a smaller remainder was rounded up before a larger one');
  };

  it('budgets are Eq. 6 (proportional to LMBA above the bound), rounded, whenever no floor or cap can bind', () => {
    let runs = 0;
    fc.assert(
      fc.property(arbUnbound, ({ L, total, bound, minPerLayer, byRatio, lmba, n }) => {
        // boundRatio = bound/avg reproduces `bound` up to float error, which ⌈B_bound − 1e-9⌉ absorbs.
        const p = byRatio ? { ...defaults, boundRatio: bound / (total / L) } : { ...defaults, boundTokens: bound };
        const r = zigzagAllocation(stats(lmba, n, minPerLayer), total, p);
        const want = eq6(lmba, total, bound);
        want.forEach((w, l) => assert.ok(Math.abs((r.raw[l] ?? NaN) - w) <= 1e-9 * total, `raw layer ${l}: ${r.raw[l]} vs ${w}`));
        assertRoundingOf(r.budgets, want, total);
        runs++;
      }),
      { seed: 20261207, numRuns: 200 },
    );
    assert.equal(runs, 200); // every generated case reached the assertions
  });

  it('when the floor binds, floored layers sit on it and the rest are Eq. 6 lowered by one common multiple of U_l', () => {
    // Water-filling raises layers below the floor F to F and takes the deficit
    // from the others in proportion to U_l, so the reals are x_l = max(F, raw_l − c·U_l)
    // for the one c ≥ 0 with Σ x_l = total. Found here by bisection, independently of conserve.ts.
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 2, max: 500 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 40, maxLength: 40 }),
        fc.integer({ min: 1, max: 39 }),
        (L, avg, boundRatio, pool, zeros) => {
          // At least one layer with LMBA 0 and a fractional bound, so raw_l = B_bound < ⌈B_bound⌉ there: the floor binds.
          const lmba = pool.slice(0, L).map((v, l) => (l < Math.min(zeros, L - 1) ? 0 : v + 1));
          const total = L * avg;
          const bound = boundRatio * avg;
          fc.pre(Math.abs(bound - Math.round(bound)) > 1e-6); // clearly fractional, not float noise around a whole number
          const r = zigzagAllocation(stats(lmba, total + 1, 1), total, { ...defaults, boundRatio });
          const F = Math.min(Math.ceil(bound - 1e-9), Math.floor(avg));
          const raw = eq6(lmba, total, bound);
          const sum = lmba.reduce((a, b) => a + b, 0);
          const u = lmba.map((v) => v / sum);
          const x = (c: number) => raw.map((w, l) => Math.max(F, w - c * (u[l] ?? 0)));
          let lo = 0;
          let hi = total; // x(total) is all F, Σ = L·F ≤ total
          for (let i = 0; i < 200; i++) {
            const mid = (lo + hi) / 2;
            if (x(mid).reduce((a, b) => a + b, 0) > total) lo = mid;
            else hi = mid;
          }
          const want = x((lo + hi) / 2);
          assert.ok(lo > 0, 'the floor was expected to bind');
          for (let l = 0; l < L; l++) {
            assert.ok((r.budgets[l] ?? 0) >= F, `layer ${l} below the floor ${F}`);
            if ((lmba[l] ?? 0) === 0) assert.equal(r.budgets[l], F, `layer ${l} has LMBA 0 and must sit on the floor`);
            assert.ok(Math.abs((r.budgets[l] ?? 0) - (want[l] ?? 0)) < 1 + 1e-6, `layer ${l}: ${r.budgets[l]} vs water-filled ${want[l]}`);
          }
          assert.equal(
            r.budgets.reduce((a, b) => a + b, 0),
            total,
          );
        },
      ),
      { seed: 20261208, numRuns: 200 },
    );
  });

  it('equal LMBA gives exactly uniform budgets, and permuting LMBA permutes the budgets', () => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 1000 }), ({ lmba, n }, v) => {
        const L = lmba.length;
        const total = Math.max(L * 9, Math.min(L * n - 1, L * 20));
        if (total >= L * n || total < L * 9) return;
        const eq = zigzagAllocation(stats(new Array<number>(L).fill(v), n), total, defaults).budgets;
        assert.ok(Math.max(...eq) - Math.min(...eq) <= 1);
        const a = zigzagAllocation(stats(lmba, n), total, defaults).budgets;
        const rev = zigzagAllocation(stats([...lmba].reverse(), n), total, defaults).budgets;
        // Equal up to largest-remainder tie breaks (ties go to the lower layer).
        for (let l = 0; l < L; l++) assert.ok(Math.abs((a[l] ?? 0) - (rev[L - 1 - l] ?? 0)) <= 1);
      }),
    );
  });
});
