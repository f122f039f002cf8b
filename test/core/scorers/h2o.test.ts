import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { H2oParams, ScorerDef } from '@kvlab/core';
import { MissingInputError, ParamError, ShapeError, accumulate, f32, gatherAccumulated, h2o, observationFromQkv, parseParams, selectTokens } from '@kvlab/core';
import { expectArraysClose, randomQkv } from '../fixtures.ts';
import { naiveAttentionRow, naiveGroupMean, naiveKeep, protectTail, rowsOf } from './naive.ts';

/** The scorer through its contract type (its literal functions declare only the parameters they use). */
const asDef = (s: ScorerDef<'h2o', H2oParams>) => s;

/** H2O's accumulated attention from the definition: Σ over every query i of its causal row, per query head → [Hq][n]. */
function naiveAccumulated(queries: ReturnType<typeof randomQkv>['queries'], keys: ReturnType<typeof randomQkv>['keys'], upTo?: number): number[][] {
  const [Hq = 0, nq = 0] = queries.dims;
  const n = upTo ?? nq;
  const out: number[][] = [];
  for (let h = 0; h < Hq; h++) {
    const acc = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      const r = naiveAttentionRow(queries, keys, h, i);
      for (let j = 0; j <= i; j++) acc[j] = (acc[j] ?? 0) + (r[j] ?? 0);
    }
    out.push(acc);
  }
  return out;
}

const cases = [
  { n: 24, Hq: 4, Hkv: 2, d: 8, recentSize: 8 },
  { n: 17, Hq: 2, Hkv: 2, d: 4, recentSize: 0 },
  { n: 9, Hq: 6, Hkv: 1, d: 4, recentSize: 3 },
  { n: 5, Hq: 2, Hkv: 1, d: 4, recentSize: 8 }, // window longer than the prompt: everything protected
];

describe('h2o scorer', () => {
  it('defaults: recentSize 8, protects the recent window, decode-time, needs accumulated attention', () => {
    const p = parseParams(h2o, {});
    assert.deepEqual(p, { recentSize: 8 });
    assert.deepEqual(h2o.protect(p), { sinks: 0, window: 8 });
    assert.equal(h2o.decodeTime, true);
    assert.deepEqual(asDef(h2o).needs(p), [{ input: 'accumulated' }]);
  });

  for (const c of cases) {
    it(`matches the naive group-averaged accumulated attention (n ${c.n}, Hq ${c.Hq}, Hkv ${c.Hkv}, recent ${c.recentSize})`, () => {
      const qkv = randomQkv(11 + c.n, c.n, c.Hq, c.Hkv, c.d, 2);
      const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [1], accumulated: true });
      const p = parseParams(h2o, { recentSize: c.recentSize });
      const s = h2o.score(obs, p);
      assert.deepEqual(s.dims, [c.Hkv, c.n]);
      const expected = protectTail(naiveGroupMean(naiveAccumulated(qkv.queries, qkv.keys), c.Hkv), c.recentSize);
      expectArraysClose(s.data, expected.flat(), 1e-5, 'h2o scores');
      for (let i = 0; i < s.data.length; i++) {
        const v = s.data[i] ?? NaN;
        const protectedPos = i % c.n >= c.n - c.recentSize;
        assert.ok(protectedPos ? v === Infinity : Number.isFinite(v), `score ${i} = ${v}`);
      }
    });
  }

  it('selection keeps the recent window plus the heaviest hitters of each KV head', () => {
    const qkv = randomQkv(5, 30, 4, 2, 8, 3);
    const obs = observationFromQkv({ layer: 2, ...qkv, windowSizes: [1], accumulated: true });
    const p = parseParams(h2o, { recentSize: 4 });
    const naive = naiveGroupMean(naiveAccumulated(qkv.queries, qkv.keys), 2);
    for (const b of [4, 5, 10, 29, 30]) {
      const kept = selectTokens(h2o.score(obs, p), [b, b], h2o.protect(p), 'h2o');
      for (let h = 0; h < 2; h++) assert.deepEqual([...(kept[h] ?? [])], naiveKeep(naive[h] ?? [], b, 0, 4), `budget ${b} head ${h}`);
    }
  });

  it('throws MissingInputError without accumulated attention', () => {
    const qkv = randomQkv(1, 8, 2, 1, 4);
    const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [2] });
    assert.throws(
      () => h2o.score(obs, parseParams(h2o, {})),
      (e: unknown) => e instanceof MissingInputError && e.method === 'h2o' && /accumulated/.test(e.message),
    );
  });

  it('rejects invalid parameters with a ParamError naming method and parameter', () => {
    for (const raw of [{ recentSize: -1 }, { recentSize: 2.5 }, { recentSize: '8' }, { recentSize: 5000 }]) {
      assert.throws(
        () => parseParams(h2o, raw),
        (e: unknown) => e instanceof ParamError && e.method === 'h2o' && e.param === 'recentSize' && /recentSize for 'h2o'/.test(e.message),
        JSON.stringify(raw),
      );
    }
    assert.throws(
      () => parseParams(h2o, { windowSize: 8 }),
      (e: unknown) => e instanceof ParamError && /windowSize/.test(e.message),
    );
  });
});

describe('h2o decode-time helpers', () => {
  it('accumulate: prompt sums + each new row equal the sums over the longer sequence', () => {
    const n = 10;
    const t = 4;
    const Hq = 4;
    const Hkv = 2;
    const qkv = randomQkv(23, n + t, Hq, Hkv, 8, 2);
    let acc = f32([Hq, n], naiveAccumulated(qkv.queries, qkv.keys, n).flat());
    for (let s = 0; s < t; s++) {
      const pos = n + s;
      // The new query's row over the m = pos + 1 cached tokens (itself included).
      const rows: number[] = [];
      for (let h = 0; h < Hq; h++) rows.push(...naiveAttentionRow(qkv.queries, qkv.keys, h, pos).slice(0, pos + 1));
      acc = accumulate(acc, f32([Hq, pos + 1], rows));
      assert.deepEqual(acc.dims, [Hq, pos + 1]);
    }
    expectArraysClose(acc.data, naiveAccumulated(qkv.queries, qkv.keys, n + t).flat(), 1e-5, 'accumulated after decoding');
  });

  it('accumulate is pure and accepts rows over an unchanged cache', () => {
    const acc = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const rows = f32([2, 3], [0.5, 0.25, 0.25, 0, 0, 1]);
    const out = accumulate(acc, rows);
    assert.deepEqual([...out.data], [1.5, 2.25, 3.25, 4, 5, 7]);
    assert.deepEqual([...acc.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...rows.data], [0.5, 0.25, 0.25, 0, 0, 1]);
    assert.throws(() => accumulate(acc, f32([2, 2])), ShapeError);
    assert.throws(() => accumulate(acc, f32([3, 3])), ShapeError);
  });

  it('gatherAccumulated keeps each query head the columns its KV head kept', () => {
    // Hq 4, Hkv 2 (g = 2): heads 0, 1 read kept[0]; heads 2, 3 read kept[1].
    const acc = f32([4, 4], [10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 42, 43]);
    const out = gatherAccumulated(acc, [Int32Array.from([0, 2]), Int32Array.from([1, 3])], 2);
    assert.deepEqual(out.dims, [4, 2]);
    assert.deepEqual([...out.data], [10, 12, 20, 22, 31, 33, 41, 43]);
    assert.throws(() => gatherAccumulated(acc, [Int32Array.from([0, 2]), Int32Array.from([1])], 2), ShapeError);
    assert.throws(() => gatherAccumulated(acc, [Int32Array.from([0, 4]), Int32Array.from([1, 2])], 2), ShapeError);
    assert.throws(() => gatherAccumulated(acc, [Int32Array.from([0, 1])], 2), ShapeError);
  });

  it('decode loop: score → select → gather → accumulate keeps the recent window and tracks sums', () => {
    const Hq = 2;
    const Hkv = 1;
    const n = 12;
    const qkv = randomQkv(3, n, Hq, Hkv, 4, 2);
    const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [1], accumulated: true });
    const p = parseParams(h2o, { recentSize: 2 });
    const kept = selectTokens(h2o.score(obs, p), [6], h2o.protect(p), 'h2o');
    const acc = obs.accumulated ?? f32([Hq, n]);
    const gathered = gatherAccumulated(acc, kept, Hkv);
    const k0 = kept[0] ?? new Int32Array(0);
    for (let h = 0; h < Hq; h++) for (let c = 0; c < 6; c++) assert.equal(gathered.data[h * 6 + c], acc.data[h * n + (k0[c] ?? -1)]);
    // Next step: one new token appended; its row over the 7 cached tokens.
    const next = accumulate(gathered, f32([Hq, 7], new Float32Array(Hq * 7).fill(1 / 7)));
    rowsOf(next).forEach((r, h) => r.forEach((x, c) => assert.ok(Math.abs(x - ((c < 6 ? (gathered.data[h * 6 + c] ?? 0) : 0) + 1 / 7)) < 1e-6)));
  });
});
