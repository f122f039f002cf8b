import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BudgetError, ParamError, ShapeError } from '../../../core/src/errors.ts';
import { parseParams } from '../../../core/src/method.ts';
import { selectTokens } from '../../../core/src/select.ts';
import { f32 } from '../../../core/src/tensor.ts';
import { adakv, adakvSplit } from '../../../core/src/headwise/adakv.ts';
import type { AdaKvParams } from '../../../core/src/headwise/adakv.ts';

const safeguard = parseParams(adakv, {});
const blend = parseParams(adakv, { allocation: 'blend' });
const W = Infinity; // window tokens: scored +∞ like SnapKV does; Ada-KV ignores them either way
const split = (rows: number[][], B: number, protect: { sinks: number; window: number }, p: AdaKvParams) => [
  ...adakvSplit(f32([rows.length, rows[0]?.length ?? 0], rows.flat()), B, protect, p),
];
const sum = (a: readonly number[]) => a.reduce((s, x) => s + x, 0);
/** Descending order that is safe for ±∞ (∞ − ∞ is NaN). */
const desc = (x: number, y: number) => (x === y ? 0 : y > x ? 1 : -1);

interface Naive {
  budgets: number[];
  /** Kept positions per head (protected included), ascending. */
  kept: number[][];
}

/**
 * Independent reference for 'safeguard', by full sorts: each head's own top-f by (score desc,
 * token asc), then the other candidates of all heads sorted by (score desc, head asc, token asc).
 */
function naiveSafeguard(s: number[][], B: number, sinks0: number, window0: number, a: number): Naive {
  const H = s.length;
  const n = s[0]?.length ?? 0;
  if (B >= n) return { budgets: new Array<number>(H).fill(n), kept: s.map(() => Array.from({ length: n }, (_, j) => j)) };
  const sinks = Math.min(sinks0, n);
  const window = Math.min(window0, n - sinks);
  const P = sinks + window;
  const C = B - P;
  const f = Math.floor(C * a);
  const kept = s.map(() => new Set<number>());
  const cands = (h: number) => Array.from({ length: n - P }, (_, i) => ({ h, j: sinks + i, v: s[h]?.[sinks + i] ?? 0 }));
  for (let h = 0; h < H; h++) {
    for (const c of cands(h)
      .sort((x, y) => desc(x.v, y.v) || x.j - y.j)
      .slice(0, f))
      kept[h]?.add(c.j);
  }
  const rest = Array.from({ length: H }, (_, h) => cands(h).filter((c) => !kept[h]?.has(c.j)))
    .flat()
    .sort((x, y) => desc(x.v, y.v) || x.h - y.h || x.j - y.j);
  for (const c of rest.slice(0, H * (C - f))) kept[c.h]?.add(c.j);
  return {
    budgets: kept.map((k) => P + k.size),
    kept: kept.map((k) => {
      for (let j = 0; j < sinks; j++) k.add(j);
      for (let j = n - window; j < n; j++) k.add(j);
      return [...k].sort((x, y) => x - y);
    }),
  };
}

/** Independent reference for 'blend': one global sort, counts, then largest remainder by a sort. */
function naiveBlend(s: number[][], B: number, sinks0: number, window0: number, a: number): { budgets: number[]; upstream: number[]; floor: number; P: number } {
  const H = s.length;
  const n = s[0]?.length ?? 0;
  const sinks = Math.min(sinks0, n);
  const window = Math.min(window0, n - sinks);
  const P = sinks + window;
  const C = B - P;
  const all = s.flatMap((row, h) => row.slice(sinks, n - window).map((v, i) => ({ h, j: sinks + i, v })));
  all.sort((x, y) => desc(x.v, y.v) || x.h - y.h || x.j - y.j);
  const c = new Array<number>(H).fill(0);
  for (const t of all.slice(0, H * C)) c[t.h] = (c[t.h] ?? 0) + 1;
  const x = c.map((ch) => ch * (1 - a) + a * C);
  const out = x.map((v) => (Math.abs(v - Math.round(v)) < 1e-9 ? Math.round(v) : Math.floor(v)));
  const order = x.map((v, h) => ({ h, r: v - (out[h] ?? 0) })).sort((p, q) => q.r - p.r || p.h - q.h);
  for (let k = 0, rest = H * C - sum(out); k < rest; k++) {
    const h = order[k]?.h ?? 0;
    out[h] = (out[h] ?? 0) + 1;
  }
  // FFY0/AdaKV: torch.round(c·(1 − floor_alpha) + int(base_capacity·floor_alpha)), half to even.
  const roundHalfEven = (v: number) => (Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
  const upstream = c.map((ch) => P + roundHalfEven(ch * (1 - a) + Math.floor(C * a)));
  return { budgets: out.map((e) => P + e), upstream, floor: Math.floor(C * a), P };
}

describe('adakv worked examples (by hand)', () => {
  // Two KV heads, n = 8, window α = 2 (tokens 6, 7), B_l = 6 → P = 2, C = 4 non-protected per head.
  const peaked = [9, 8, 7, 6, 5, 4, W, W];
  const flat = [0, 0, 0, 0, 0, 0, W, W];

  it("'safeguard', α_s = 0.5: floor ⌊0.5·4⌋ = 2 per head, then one top-4 over the rest → [8, 4]", () => {
    // Floors: head 0 keeps 9, 8 (tokens 0, 1); head 1 keeps tokens 0, 1 (all 0: ties to the lower token).
    // Remaining 2·(4 − 2) = 4 slots over {7, 6, 5, 4} (head 0) ∪ {0, 0, 0, 0} (head 1) → all of head 0.
    // head 0: 2 + 2 + 4 = 8 (the whole head), head 1: 2 + 2 + 0 = 4; Σ 12 = 2·6.
    assert.deepEqual(split([peaked, flat], 6, { sinks: 0, window: 2 }, { ...safeguard, alphaSafeguard: 0.5 }), [8, 4]);
  });

  it("'blend', α_s = 0.5: one top-8 → counts [6, 2] → 6·0.5 + 2 = 5, 2·0.5 + 2 = 3 → [7, 5] (= FFY0's torch.round)", () => {
    assert.deepEqual(split([peaked, flat], 6, { sinks: 0, window: 2 }, { ...blend, alphaSafeguard: 0.5 }), [7, 5]);
    assert.deepEqual(naiveBlend([peaked, flat], 6, 0, 2, 0.5).upstream, [7, 5]);
  });

  it("'safeguard', α_s = 0.34, B = 5: f = ⌊3·0.34⌋ = 1; ties in the shared top-k go to the lower token → [6, 4]", () => {
    // head 0: 9 8 7 1 1 1 | head 1: 5 4 0 0 0 0. Floors: 9 (h0 t0), 5 (h1 t0).
    // Remaining 2·(3 − 1) = 4 slots: 8, 7, 4, then one of the 1s of head 0 → token 3.
    // head 0: 2 + 1 + 3 = 6; head 1: 2 + 1 + 1 = 4.
    const s = [
      [9, 8, 7, 1, 1, 1, W, W],
      [5, 4, 0, 0, 0, 0, W, W],
    ];
    const b = split(s, 5, { sinks: 0, window: 2 }, { ...safeguard, alphaSafeguard: 0.34 });
    assert.deepEqual(b, [6, 4]);
    const kept = selectTokens(f32([2, 8], s.flat()), b, { sinks: 0, window: 2 });
    assert.deepEqual([...(kept[0] ?? [])], [0, 1, 2, 3, 6, 7]);
    assert.deepEqual([...(kept[1] ?? [])], [0, 1, 6, 7]);
  });

  it('ties across heads go to the lower head', () => {
    // All scores equal, no protection, α_s = 0: the 4 slots all go to head 0.
    assert.deepEqual(
      split(
        [
          [1, 1, 1, 1],
          [1, 1, 1, 1],
        ],
        2,
        { sinks: 0, window: 0 },
        { ...safeguard, alphaSafeguard: 0 },
      ),
      [4, 0],
    );
    assert.deepEqual(
      split(
        [
          [1, 1, 1, 1],
          [1, 1, 1, 1],
        ],
        2,
        { sinks: 0, window: 0 },
        { ...blend, alphaSafeguard: 0 },
      ),
      [4, 0],
    );
  });

  it('α_s = 1 is uniform; α_s = 0 is a pure top-k across heads (both allocations agree)', () => {
    for (const p of [safeguard, blend]) {
      assert.deepEqual(split([peaked, flat], 6, { sinks: 0, window: 2 }, { ...p, alphaSafeguard: 1 }), [6, 6]);
      // top-8 of 12 candidates: head 0's six, then head 1 tokens 0, 1 → [2 + 6, 2 + 2]
      assert.deepEqual(split([peaked, flat], 6, { sinks: 0, window: 2 }, { ...p, alphaSafeguard: 0 }), [8, 4]);
    }
  });

  it('sinks are protected like the window', () => {
    // sinks 1 + window 1 → P = 2, candidates 1..6. C = 2, α_s = 0 → top-4 of {8,7,6,5,4,3} ∪ {0…} → head 0 gets 4.
    assert.deepEqual(
      split(
        [
          [W, 8, 7, 6, 5, 4, 3, W],
          [W, 0, 0, 0, 0, 0, 0, W],
        ],
        4,
        { sinks: 1, window: 1 },
        { ...safeguard, alphaSafeguard: 0 },
      ),
      [6, 2],
    );
  });

  it('B_l ≥ n keeps every token of every head', () => {
    assert.deepEqual(split([peaked, flat], 8, { sinks: 0, window: 2 }, safeguard), [8, 8]);
    assert.deepEqual(split([peaked, flat], 100, { sinks: 0, window: 2 }, blend), [8, 8]);
  });
});

describe('adakv errors and params', () => {
  it('rejects a layer budget below the protected tokens, or not an integer', () => {
    assert.throws(
      () => split([[1, 2, 3, 4, 5]], 2, { sinks: 1, window: 2 }, safeguard),
      (e: unknown) => e instanceof BudgetError && /adakv/.test(e.message) && /3 protected/.test(e.message),
    );
    assert.throws(() => split([[1, 2, 3, 4, 5]], 2.5, { sinks: 0, window: 0 }, safeguard), BudgetError);
    assert.throws(() => split([[1, 2, 3, 4, 5]], -1, { sinks: 0, window: 0 }, safeguard), BudgetError);
  });

  it('rejects NaN scores and non-2-D scores', () => {
    assert.throws(
      () => split([[1, NaN, 3]], 2, { sinks: 0, window: 0 }, safeguard),
      (e: unknown) => e instanceof ShapeError && /NaN/.test(e.message),
    );
    assert.throws(() => adakvSplit(f32([6], [1, 2, 3, 4, 5, 6]), 2, { sinks: 0, window: 0 }, safeguard), ShapeError);
  });

  it('validates parameters with named errors', () => {
    assert.throws(
      () => parseParams(adakv, { alphaSafeguard: 1.5 }),
      (e: unknown) => e instanceof ParamError && /alphaSafeguard for 'adakv'/.test(e.message),
    );
    assert.throws(() => parseParams(adakv, { floor_alpha: 0.2 }), ParamError);
    assert.deepEqual(parseParams(adakv, {}), { alphaSafeguard: 0.2, allocation: 'safeguard' });
  });
});

describe('adakv against the naive references', () => {
  const arb = fc
    .record({
      H: fc.integer({ min: 1, max: 5 }),
      n: fc.integer({ min: 1, max: 30 }),
      sinks: fc.integer({ min: 0, max: 3 }),
      window: fc.integer({ min: 0, max: 4 }),
      a: fc.oneof(fc.constantFrom(0, 0.2, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })),
      u: fc.double({ min: 0, max: 1, noNaN: true }),
      // Coarse values so ties are common, with the odd ±∞.
      vals: fc.array(fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(Infinity, -Infinity) }), {
        minLength: 150,
        maxLength: 150,
      }),
    })
    .map(({ H, n, sinks, window, a, u, vals }) => {
      const s = Array.from({ length: H }, (_, h) => vals.slice(h * n, (h + 1) * n));
      const P = Math.min(sinks, n) + Math.min(window, n - Math.min(sinks, n));
      const B = P + Math.floor(u * (n + 2 - P)); // P … n + 1
      return { H, n, sinks, window, a, s, B };
    });

  it("'safeguard' equals the sort-based reference, and selectTokens keeps exactly the tokens its top-k picked", () => {
    fc.assert(
      fc.property(arb, ({ H, n, sinks, window, a, s, B }) => {
        const got = split(s, B, { sinks, window }, { alphaSafeguard: a, allocation: 'safeguard' });
        const ref = naiveSafeguard(s, B, sinks, window, a);
        assert.deepEqual(got, ref.budgets);
        assert.equal(sum(got), B >= n ? H * n : H * B);
        const P = Math.min(sinks, n) + Math.min(window, n - Math.min(sinks, n));
        for (const b of got) assert.ok(b >= Math.min(P, n) && b <= n);
        const kept = selectTokens(f32([H, n], s.flat()), got, { sinks, window });
        kept.forEach((k, h) => assert.deepEqual([...k], ref.kept[h], `head ${h}`));
      }),
      { numRuns: 500 },
    );
  });

  it("'blend' equals the sort-based reference: exact sum, floor ⌊α_s·C⌋, within 2 tokens of FFY0's per-head rounding", () => {
    fc.assert(
      fc.property(
        arb.filter(({ n, B }) => B < n),
        ({ H, sinks, window, a, s, B }) => {
          const got = split(s, B, { sinks, window }, { alphaSafeguard: a, allocation: 'blend' });
          const ref = naiveBlend(s, B, sinks, window, a);
          assert.deepEqual(got, ref.budgets);
          assert.equal(sum(got), H * B);
          got.forEach((b, h) => {
            assert.ok(b >= ref.P + ref.floor && b <= (s[0]?.length ?? 0));
            assert.ok(Math.abs(b - (ref.upstream[h] ?? 0)) <= 2, `head ${h}: ${b} vs upstream ${ref.upstream[h]}`);
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is pure: the scores are not modified', () => {
    const data = Float32Array.from([3, 1, 2, 5, 4, 0, 2, 2]);
    const copy = data.slice();
    adakvSplit(f32([2, 4], data), 2, { sinks: 0, window: 1 }, safeguard);
    adakvSplit(f32([2, 4], data), 2, { sinks: 0, window: 1 }, blend);
    assert.deepEqual(data, copy);
  });
});
