import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LayerObservation, KnormParams, ScorerDef } from '@kvlab/core';
import { MissingInputError, ParamError, f32, knorm, parseParams, selectTokens } from '@kvlab/core';
import { expectArraysClose, randomObservation } from '../fixtures.ts';
import { naiveKeep } from './naive.ts';

/** The scorer through its contract type (its literal functions declare only the parameters they use). */
const asDef = (s: ScorerDef<'knorm', KnormParams>) => s;

function withKeys(keys: number[][][]): LayerObservation {
  const Hkv = keys.length;
  const n = keys[0]?.length ?? 0;
  const d = keys[0]?.[0]?.length ?? 0;
  return { layer: 0, seqLen: n, numQueryHeads: Hkv, numKvHeads: Hkv, headDim: d, windows: [], keys: f32([Hkv, n, d], keys.flat(2)) };
}

describe('knorm scorer', () => {
  it('defaults: no window, needs keys', () => {
    const p = parseParams(knorm, {});
    assert.deepEqual(p, { windowSize: 0 });
    assert.deepEqual(knorm.protect(p), { sinks: 0, window: 0 });
    assert.deepEqual(asDef(knorm).needs(p), [{ input: 'keys' }]);
  });

  it('hand example: scores are minus the key norms, and the smallest norms are kept', () => {
    // Head 0 keys: ‖(3,4)‖ = 5, ‖(1,0)‖ = 1, ‖(0,2)‖ = 2, ‖(−1,−1)‖ = √2.
    // Head 1 keys: ‖(0,0)‖ = 0, ‖(6,8)‖ = 10, ‖(0,−3)‖ = 3, ‖(2,0)‖ = 2.
    const obs = withKeys([
      [
        [3, 4],
        [1, 0],
        [0, 2],
        [-1, -1],
      ],
      [
        [0, 0],
        [6, 8],
        [0, -3],
        [2, 0],
      ],
    ]);
    const p = parseParams(knorm, {});
    const s = knorm.score(obs, p);
    expectArraysClose(s.data, [-5, -1, -2, -Math.SQRT2, -0, -10, -3, -2], 1e-6, 'knorm');
    const kept = selectTokens(s, [2, 2], knorm.protect(p), 'knorm');
    assert.deepEqual([...(kept[0] ?? [])], [1, 3]);
    assert.deepEqual([...(kept[1] ?? [])], [0, 3]);
    // windowSize 1 protects token 3 whatever its norm.
    const p1 = parseParams(knorm, { windowSize: 1 });
    const s1 = knorm.score(obs, p1);
    assert.equal(s1.data[3], Infinity);
    assert.equal(s1.data[7], Infinity);
    assert.deepEqual([...(selectTokens(s1, [2, 2], knorm.protect(p1), 'knorm')[1] ?? [])], [0, 3]);
  });

  for (const windowSize of [0, 3, 40]) {
    it(`matches norms computed directly from the keys (windowSize ${windowSize})`, () => {
      const obs = randomObservation(4, 1, { n: 25, Hq: 4, Hkv: 2, d: 8, windowSizes: [1] });
      const keys = obs.keys?.data ?? new Float32Array(0);
      const expected: number[] = [];
      for (let h = 0; h < 2; h++) {
        for (let j = 0; j < 25; j++) {
          let sq = 0;
          for (let t = 0; t < 8; t++) sq += (keys[(h * 25 + j) * 8 + t] ?? 0) ** 2;
          expected.push(j >= 25 - windowSize ? Infinity : -Math.sqrt(sq));
        }
      }
      const p = parseParams(knorm, { windowSize });
      const s = knorm.score(obs, p);
      assert.deepEqual(s.dims, [2, 25]);
      expectArraysClose(s.data, expected, 1e-6, 'knorm');
      for (const b of [Math.min(windowSize, 25), 10, 24].filter((b) => b >= Math.min(windowSize, 25))) {
        const kept = selectTokens(s, [b, b], knorm.protect(p), 'knorm');
        for (let h = 0; h < 2; h++) assert.deepEqual([...(kept[h] ?? [])], naiveKeep(expected.slice(h * 25, (h + 1) * 25), b, 0, windowSize));
      }
    });
  }

  it('throws MissingInputError without keys', () => {
    const obs = { layer: 0, seqLen: 5, numQueryHeads: 2, numKvHeads: 1, headDim: 4, windows: [] };
    assert.throws(
      () => knorm.score(obs, parseParams(knorm, {})),
      (e: unknown) => e instanceof MissingInputError && e.method === 'knorm' && /keys/.test(e.message),
    );
  });

  it('rejects invalid parameters with a ParamError naming method and parameter', () => {
    for (const raw of [{ windowSize: -1 }, { windowSize: 0.5 }, { windowSize: '4' }]) {
      assert.throws(
        () => parseParams(knorm, raw),
        (e: unknown) => e instanceof ParamError && e.method === 'knorm' && e.param === 'windowSize' && /windowSize for 'knorm'/.test(e.message),
        JSON.stringify(raw),
      );
    }
  });
});
