import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TovaParams, ScorerDef } from '@kvlab/core';
import { MissingInputError, ParamError, observationFromQkv, parseParams, selectTokens, tova } from '@kvlab/core';
import { expectArraysClose, randomQkv } from '../fixtures.ts';
import { naiveAttentionRow, naiveGroupMean, naiveKeep, protectTail } from './naive.ts';

/** The scorer through its contract type (its literal functions declare only the parameters they use). */
const asDef = (s: ScorerDef<'tova', TovaParams>) => s;

/** The last query's row recomputed from raw Q/K, per query head → [Hq][n]. */
function lastRows(qkv: ReturnType<typeof randomQkv>): number[][] {
  const [Hq = 0, n = 0] = qkv.queries.dims;
  return Array.from({ length: Hq }, (_, h) => naiveAttentionRow(qkv.queries, qkv.keys, h, n - 1));
}

const cases = [
  { n: 20, Hq: 4, Hkv: 2, d: 8 },
  { n: 9, Hq: 3, Hkv: 3, d: 4 },
  { n: 13, Hq: 8, Hkv: 2, d: 4 },
  { n: 1, Hq: 2, Hkv: 1, d: 4 },
];

describe('tova scorer', () => {
  it("defaults: layer-wide head mean, protects the last token, needs the last query's row", () => {
    const p = parseParams(tova, {});
    assert.deepEqual(p, { headReduction: 'layer' });
    assert.deepEqual(asDef(tova).protect(p), { sinks: 0, window: 1 });
    assert.deepEqual(asDef(tova).needs(p), [{ input: 'lastQuery' }]);
  });

  for (const c of cases) {
    it(`matches the last row recomputed from Q/K (n ${c.n}, Hq ${c.Hq}, Hkv ${c.Hkv})`, () => {
      const qkv = randomQkv(31 + c.n, c.n, c.Hq, c.Hkv, c.d, 2);
      const obs = observationFromQkv({ layer: 1, ...qkv, windowSizes: [] });
      const rows = lastRows(qkv);

      // 'layer': mean over all Hq heads (official TOVA), the same row for every KV head.
      const layerMean = naiveGroupMean(rows, 1)[0] ?? [];
      const expectLayer = protectTail(
        Array.from({ length: c.Hkv }, () => layerMean),
        1,
      );
      const sLayer = tova.score(obs, parseParams(tova, {}));
      assert.deepEqual(sLayer.dims, [c.Hkv, c.n]);
      expectArraysClose(sLayer.data, expectLayer.flat(), 1e-5, 'tova layer');

      // 'group': mean over each KV head's query heads.
      const sGroup = tova.score(obs, parseParams(tova, { headReduction: 'group' }));
      expectArraysClose(sGroup.data, protectTail(naiveGroupMean(rows, c.Hkv), 1).flat(), 1e-5, 'tova group');

      for (const s of [sLayer, sGroup]) {
        s.data.forEach((v, i) => assert.ok(i % c.n === c.n - 1 ? v === Infinity : Number.isFinite(v) && v >= 0, `score ${i} = ${v}`));
      }
    });
  }

  it('selection keeps the last token and the most-attended tokens; layer mode keeps the same tokens in every KV head', () => {
    const qkv = randomQkv(8, 40, 4, 2, 8, 3);
    const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [4] });
    const rows = lastRows(qkv);
    for (const headReduction of ['layer', 'group'] as const) {
      const p = parseParams(tova, { headReduction });
      const expected = headReduction === 'layer' ? [0, 1].map(() => naiveGroupMean(rows, 1)[0] ?? []) : naiveGroupMean(rows, 2);
      for (const b of [1, 2, 7, 39]) {
        const kept = selectTokens(tova.score(obs, p), [b, b], asDef(tova).protect(p), 'tova');
        for (let h = 0; h < 2; h++) {
          const k = [...(kept[h] ?? [])];
          assert.ok(k.includes(39), 'last token kept');
          assert.deepEqual(k, naiveKeep(expected[h] ?? [], b, 0, 1), `${headReduction} budget ${b} head ${h}`);
        }
        if (headReduction === 'layer') assert.deepEqual([...(kept[0] ?? [])], [...(kept[1] ?? [])]);
      }
    }
  });

  it('throws MissingInputError without the last query row', () => {
    const obs = { layer: 0, seqLen: 5, numQueryHeads: 2, numKvHeads: 1, headDim: 4, windows: [] };
    assert.throws(
      () => tova.score(obs, parseParams(tova, {})),
      (e: unknown) => e instanceof MissingInputError && e.method === 'tova',
    );
  });

  it('rejects invalid parameters with a ParamError naming method and parameter', () => {
    for (const raw of [{ headReduction: 'mean' }, { headReduction: 1 }, { headReduction: '' }]) {
      assert.throws(
        () => parseParams(tova, raw),
        (e: unknown) => e instanceof ParamError && e.method === 'tova' && e.param === 'headReduction' && /'layer', 'group'/.test(e.message),
        JSON.stringify(raw),
      );
    }
    assert.throws(
      () => parseParams(tova, { windowSize: 1 }),
      (e: unknown) => e instanceof ParamError && e.method === 'tova',
    );
  });
});
