import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BudgetError, MissingInputError, ParamError, ShapeError } from '../../../core/src/errors.ts';
import { parseParams } from '../../../core/src/method.ts';
import { cake, cakeAllocation, cakePreference } from '../../../core/src/allocators/cake.ts';
import { cakeLayerStats } from '../../../core/src/analysis/layer-stats.ts';
import { randomModelObservations } from '../fixtures.ts';

const defaults = parseParams(cake, {});
const stats = (entropy: number[], variance: number[], n: number, minPerLayer = 9) => ({
  numLayers: entropy.length,
  seqLen: n,
  minPerLayer,
  entropy: Float64Array.from(entropy),
  variance: Float64Array.from(variance),
});
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, x) => s + x, 0);

describe('cake worked examples (by hand from cake_cache.py / modify_llama.py)', () => {
  it('L=4, α=8, B_avg=136, P=[1,2,3,4] (τ1=τ2=1) → [59, 110, 162, 213]', () => {
    // prefix total = 544 − 4·8 = 512 → 512·[.1, .2, .3, .4] = 51.2, 102.4, 153.6, 204.8; + α = 59.2, 110.4, 161.6, 212.8 (Σ 544).
    // Largest remainder: floors Σ 542, seats to .8 (layer 3) and .6 (layer 2).
    const r = cakeAllocation(stats([1, 2, 3, 4], [1, 1, 1, 1], 1000), 544, defaults);
    assert.deepEqual([...r.preference], [1, 2, 3, 4]);
    assert.deepEqual(
      [...r.raw].map((x) => +x.toFixed(6)),
      [59.2, 110.4, 161.6, 212.8],
    );
    assert.deepEqual([...r.budgets], [59, 110, 162, 213]);
  });

  it('τ1 = 0.5 squares the entropy; a short prompt (n=200) caps two layers and water-fills by P → [34, 110, 200, 200]', () => {
    // P = H² · V = [1, 4, 9, 16] (Σ 30) → 8 + 512·P/30 = 25.067, 76.267, 161.6, 281.067.
    // Clamp layer 3 to 200: excess 81.067 to layers 0–2 by P (1:4:9) → 30.857, 99.429, 213.714.
    // Clamp layer 2 to 200: excess 13.714 to layers 0–1 by P (1:4) → 33.6, 110.4. Σ = 33.6 + 110.4 + 200 + 200 = 544.
    // Largest remainder: floors Σ 543, the seat to .6 (layer 0).
    const p = { ...defaults, tau1: 0.5 };
    const r = cakeAllocation(stats([1, 2, 3, 4], [1, 1, 1, 1], 200), 544, p);
    assert.deepEqual([...r.preference], [1, 4, 9, 16]);
    assert.deepEqual([...r.budgets], [34, 110, 200, 200]);
  });

  it('P multiplies both terms: H=[4,1], V=[1,4], τ2=0.5 → P = [4, 16]', () => {
    assert.deepEqual([...cakePreference([4, 1], [1, 4], 1, 0.5)], [4, 16]);
    // 8 + 2·(100 − 8)·[0.2, 0.8] = 44.8, 155.2 → [45, 155]
    assert.deepEqual([...cake.allocate(stats([4, 1], [1, 4], 1000), 200, { ...defaults, tau2: 0.5 })], [45, 155]);
  });

  it('all-zero preference (e.g. α = 1: no variance) falls back to uniform', () => {
    assert.deepEqual([...cake.allocate(stats([1, 2, 3], [0, 0, 0], 1000), 300, defaults)], [100, 100, 100]);
  });

  it('a budget of at least the prompt keeps everything', () => {
    assert.deepEqual([...cake.allocate(stats([1, 2], [1, 1], 50), 100, defaults)], [50, 50]);
    assert.deepEqual([...cake.allocate(stats([1, 2], [1, 1], 50), 1000, defaults)], [50, 50]);
  });
});

describe('cake errors and params', () => {
  it('throws MissingInputError without entropy or variance', () => {
    assert.throws(
      () => cake.allocate({ numLayers: 2, seqLen: 100, minPerLayer: 9 }, 100, defaults),
      (e: unknown) => e instanceof MissingInputError && /'cake'/.test(e.message) && /entropy/.test(e.message),
    );
    assert.throws(
      () => cake.allocate({ numLayers: 2, seqLen: 100, minPerLayer: 9, entropy: new Float64Array(2) }, 100, defaults),
      (e: unknown) => e instanceof MissingInputError && /variance/.test(e.message),
    );
  });

  it('throws ShapeError when the stats have the wrong number of layers', () => {
    assert.throws(() => cake.allocate({ ...stats([1, 2], [1, 1], 100), numLayers: 3 }, 100, defaults), ShapeError);
  });

  it('rejects an average budget not above the window', () => {
    assert.throws(
      () => cake.allocate(stats([1, 2], [1, 1], 100, 1), 16, defaults),
      (e: unknown) => e instanceof BudgetError && /windowSize/.test(e.message),
    );
  });

  it('validates parameters with named errors', () => {
    assert.throws(
      () => parseParams(cake, { tau1: 0 }),
      (e: unknown) => e instanceof ParamError && /tau1 for 'cake'/.test(e.message),
    );
    assert.throws(() => parseParams(cake, { gamma: 200 }), ParamError);
    assert.deepEqual(parseParams(cake, {}), { tau1: 1, tau2: 1, windowSize: 8 });
  });
});

describe('cake collect', () => {
  it('computes entropy and variance per layer from the observations', () => {
    const obs = randomModelObservations(5, 3, { n: 48, Hq: 4, Hkv: 2, d: 8, windowSizes: [8, 16] });
    const s = cake.collect(obs, defaults);
    assert.equal(s.entropy?.length, 3);
    assert.equal(s.variance?.length, 3);
    obs.forEach((o, l) => {
      const e = cakeLayerStats(o, 8);
      assert.equal(s.entropy?.[l], e.entropy);
      assert.equal(s.variance?.[l], e.variance);
      assert.ok(e.entropy > 0 && e.variance > 0);
    });
    const s16 = cake.collect(obs, { ...defaults, windowSize: 16 });
    assert.notDeepEqual([...(s16.variance ?? [])], [...(s.variance ?? [])]);
    assert.throws(() => cake.collect(obs, { ...defaults, windowSize: 32 }), MissingInputError);
    const b = cake.allocate({ numLayers: 3, seqLen: 48, minPerLayer: 9, ...s }, 60, defaults);
    assert.equal(sum(b), 60);
  });
});

describe('cake invariants', () => {
  const arb = fc
    .record({
      L: fc.integer({ min: 1, max: 32 }),
      alpha: fc.integer({ min: 1, max: 16 }),
      n: fc.integer({ min: 3, max: 2000 }),
      u: fc.double({ min: 0, max: 1, noNaN: true }),
      tau1: fc.double({ min: 0.2, max: 3, noNaN: true }),
      tau2: fc.double({ min: 0.2, max: 3, noNaN: true }),
      seed: fc.array(fc.tuple(fc.double({ min: 0, max: 1e3, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 32, maxLength: 32 }),
    })
    .filter(({ alpha, n }) => alpha + 1 < n)
    .map(({ L, alpha, n, u, tau1, tau2, seed }) => {
      const lo = L * (alpha + 1);
      const total = lo + Math.floor(u * (L * n - 1 - lo));
      const s = seed.slice(0, L);
      return { L, alpha, n, total, tau1, tau2, entropy: s.map((x) => x[0]), variance: s.map((x) => x[1]) };
    });

  /** Σ = total, the bounds, and order: a layer with a larger share of the preference never gets a smaller budget. */
  const check = ({
    L,
    alpha,
    n,
    total,
    tau1,
    tau2,
    entropy,
    variance,
  }: { L: number; alpha: number; n: number; total: number } & Record<'tau1' | 'tau2', number> & Record<'entropy' | 'variance', number[]>) => {
    const r = cakeAllocation(stats(entropy, variance, n, alpha + 1), total, { tau1, tau2, windowSize: alpha });
    assert.equal(sum(r.budgets), total);
    for (const b of r.budgets) assert.ok(b >= alpha + 1 && b <= n);
    // raw = α + share·(total − Lα): the order of the shares P_l / Σ P the allocator computes. Two preferences whose
    // ratio is below float64's range have the same share (0), and the allocator cannot tell them apart.
    for (let a = 0; a < L; a++)
      for (let b = 0; b < L; b++)
        if ((r.raw[a] ?? 0) > (r.raw[b] ?? 0))
          assert.ok((r.budgets[a] ?? 0) >= (r.budgets[b] ?? 0), `share ${r.raw[a]} > ${r.raw[b]} but ${r.budgets[a]} < ${r.budgets[b]}`);
  };

  it('Σ = total, bounds, and a larger share never gets a smaller budget', () => {
    fc.assert(fc.property(arb, check), { numRuns: 300 });
  });

  it('preferences too far apart for their shares to differ tie, as the allocator sees them (a counterexample of a random seed)', () => {
    // Layer 14's preference is 5e-324 and layers 0–13's are 0: P_14 / Σ P underflows to 0 like theirs, so all fifteen
    // tie and the spare token goes to the lowest layer. The order the test asserted before (by raw preference) failed here.
    const zeros = (k: number) => new Array<number>(k).fill(0);
    const c = {
      L: 16,
      alpha: 1,
      n: 3,
      total: 34,
      tau1: 0.709840138808306,
      tau2: 2.7247496918435843,
      entropy: [...zeros(14), 9.647486028062517e-228, 1.6356228680639502],
      variance: [...zeros(14), 4.5651105228563836e-11, 0.9999999999999974],
    };
    check(c);
    const r = cakeAllocation(stats(c.entropy, c.variance, c.n, 2), c.total, { tau1: c.tau1, tau2: c.tau2, windowSize: c.alpha });
    assert.ok((r.preference[14] ?? 0) > 0 && r.raw[14] === r.raw[0]);
    assert.deepEqual([...r.budgets], [3, ...new Array<number>(14).fill(2), 3]);
  });

  it('equal preferences give uniform budgets; permuting the stats permutes the budgets', () => {
    assert.deepEqual([...cake.allocate(stats([3, 3, 3, 3], [2, 2, 2, 2], 1000), 400, defaults)], [100, 100, 100, 100]);
    const a = [...cake.allocate(stats([1, 5, 2, 9], [0.1, 0.3, 0.2, 0.05], 1000), 500, defaults)];
    const b = [...cake.allocate(stats([9, 2, 5, 1], [0.05, 0.2, 0.3, 0.1], 1000), 500, defaults)];
    assert.deepEqual(b, [a[3], a[2], a[1], a[0]]);
  });
});
