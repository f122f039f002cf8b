import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MissingInputError, ParamError, f32, observationFromQkv, parseParams, selectTokens, sliceWindow, snapkv, windowAttentionProbs } from '@kvlab/core';
import { expectArraysClose, randomQkv } from '../fixtures.ts';
import { naiveGroupMean, naiveKeep } from './naive.ts';

type Pool = 'max' | 'avg' | 'none';

/**
 * SnapKV from the paper / KVCache-Factory, with explicit loops over the raw
 * window probabilities [Hq, α, n]: Σ over the α window queries for each prefix
 * key, 1-D pooling (stride 1, padding ⌊k/2⌋: max pads with −∞, avg pads with 0
 * and divides by k), group mean, window = +∞.
 */
function naiveSnap(probs: Float32Array, Hq: number, Hkv: number, alpha: number, n: number, k: number, pooling: Pool): number[][] {
  const prefix = Math.max(0, n - alpha);
  const rows: number[][] = [];
  for (let h = 0; h < Hq; h++) {
    const sum: number[] = [];
    for (let j = 0; j < prefix; j++) {
      let s = 0;
      for (let i = 0; i < alpha; i++) s += probs[(h * alpha + i) * n + j] ?? 0;
      sum.push(s);
    }
    const pad = Math.floor(k / 2);
    const pooled: number[] = [];
    for (let j = 0; j < prefix; j++) {
      if (pooling === 'none') {
        pooled.push(sum[j] ?? 0);
        continue;
      }
      let m = -Infinity;
      let a = 0;
      for (let t = j - pad; t <= j + pad; t++) {
        const v = t >= 0 && t < prefix ? (sum[t] ?? 0) : pooling === 'max' ? -Infinity : 0;
        m = Math.max(m, v);
        a += v;
      }
      pooled.push(pooling === 'max' ? m : a / k);
    }
    rows.push([...pooled, ...new Array<number>(n - prefix).fill(0)]);
  }
  return naiveGroupMean(rows, Hkv).map((r) => r.map((x, j) => (j >= prefix ? Infinity : x)));
}

const shapes = [
  { n: 30, Hq: 4, Hkv: 2, d: 8, alpha: 8 },
  { n: 12, Hq: 2, Hkv: 2, d: 4, alpha: 3 },
  { n: 9, Hq: 6, Hkv: 2, d: 4, alpha: 1 },
  { n: 6, Hq: 2, Hkv: 1, d: 4, alpha: 6 }, // no prefix: everything is window
];

describe('snapkv scorer', () => {
  it('defaults: α 8, max pooling, kernel 7 (KVCache-Factory LongBench runner)', () => {
    const p = parseParams(snapkv, {});
    assert.deepEqual(p, { windowSize: 8, kernelSize: 7, pooling: 'max' });
    assert.deepEqual(snapkv.protect(p), { sinks: 0, window: 8 });
    assert.deepEqual(snapkv.needs(p), [{ input: 'window', windowSize: 8 }]);
  });

  for (const sh of shapes) {
    for (const [pooling, k] of [
      ['max', 7],
      ['max', 3],
      ['avg', 5],
      ['avg', 1],
      ['none', 7],
    ] as const) {
      it(`matches the naive reference from the raw probabilities (n ${sh.n}, Hq ${sh.Hq}, Hkv ${sh.Hkv}, α ${sh.alpha}, ${pooling} ${k})`, () => {
        const qkv = randomQkv(101 + sh.n, sh.n, sh.Hq, sh.Hkv, sh.d, 2);
        const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [sh.alpha] });
        const probs = windowAttentionProbs(f32([sh.Hq, sh.alpha, sh.d], sliceWindow(qkv.queries.data, sh.Hq, sh.n, sh.d, sh.alpha)), qkv.keys);
        const p = parseParams(snapkv, { windowSize: sh.alpha, kernelSize: k, pooling });
        const s = snapkv.score(obs, p);
        assert.deepEqual(s.dims, [sh.Hkv, sh.n]);
        const expected = naiveSnap(probs.data, sh.Hq, sh.Hkv, sh.alpha, sh.n, k, pooling);
        expectArraysClose(s.data, expected.flat(), 1e-5, 'snapkv');
        s.data.forEach((v, i) => assert.ok(i % sh.n >= sh.n - sh.alpha ? v === Infinity : Number.isFinite(v), `score ${i} = ${v}`));
        const b = Math.min(sh.n, sh.alpha + 3);
        const kept = selectTokens(s, new Array<number>(sh.Hkv).fill(b), snapkv.protect(p), 'snapkv');
        for (let h = 0; h < sh.Hkv; h++) assert.deepEqual([...(kept[h] ?? [])], naiveKeep(expected[h] ?? [], b, 0, sh.alpha));
      });
    }
  }

  it('throws MissingInputError naming the window it needs', () => {
    const qkv = randomQkv(2, 20, 2, 1, 4);
    const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [8] });
    assert.throws(
      () => snapkv.score(obs, parseParams(snapkv, { windowSize: 16 })),
      (e: unknown) => e instanceof MissingInputError && e.method === 'snapkv' && /α = 16/.test(e.message),
    );
  });

  it('rejects invalid parameters with a ParamError naming method and parameter', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ windowSize: 0 }, 'windowSize'],
      [{ kernelSize: 4 }, 'kernelSize'],
      [{ kernelSize: 0 }, 'kernelSize'],
      [{ pooling: 'mean' }, 'pooling'],
    ];
    for (const [raw, param] of bad) {
      assert.throws(
        () => parseParams(snapkv, raw),
        (e: unknown) => e instanceof ParamError && e.method === 'snapkv' && e.param === param && new RegExp(`${param} for 'snapkv'`).test(e.message),
        JSON.stringify(raw),
      );
    }
  });
});
