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

  it('budgets are proportional to LMBA above the floor when no bound binds', () => {
    fc.assert(
      fc.property(arb, ({ lmba, frac, boundRatio }) => {
        const L = lmba.length;
        const n = 1_000_000; // no upper clamp
        const total = Math.max(L * 9, Math.round(frac * 1000 * L));
        const p = { ...defaults, boundRatio };
        const r = zigzagAllocation(stats(lmba, n, 1), total, p);
        const sum = lmba.reduce((a, b) => a + b, 0);
        const avg = total / L;
        const expected = lmba.map((v) => r.bound + (avg - r.bound) * L * (sum > 0 ? v / sum : 1 / L));
        // Only when no floor binds (otherwise water-filling moves every layer).
        if (expected.some((e) => e < Math.max(1, Math.ceil(r.bound)))) return;
        expected.forEach((e, l) => assert.ok(Math.abs((r.budgets[l] ?? 0) - e) < 1 + 1e-9 * total, `layer ${l}: ${r.budgets[l]} vs ${e}`));
      }),
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
