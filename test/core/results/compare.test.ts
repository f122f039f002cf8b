/**
 * The Compare screen's helpers (core/src/results/compare.ts): the cell ids
 * behind a point or heatmap cell and the Δ of two NIAH grids, checked on the
 * report fixture against its closed-form scores (test/reports/fixtures.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NiahGrid, ResultRow } from '@kvlab/core';
import { aggregate, cellIdsByGroup, groupKey, niahCellIds, niahDelta, ReportError, splitRows } from '@kvlab/core';
import { DEPTHS, EXPERIMENT, fixtureRows, LENGTHS, niahScore } from '../../reports/fixtures.ts';

const rows = fixtureRows();
const cells: readonly ResultRow[] = splitRows(rows).cells;
const data = aggregate(EXPERIMENT, rows);
const grid = (label: string, budget: string): NiahGrid => {
  const g = data.niah.find((x) => x.methodLabel === label && x.budget === budget);
  assert.ok(g, `${label} @ ${budget}`);
  return g;
};

describe('cell ids behind the charts', () => {
  it('a group lists exactly its cells', () => {
    const ids = cellIdsByGroup(cells);
    assert.equal(ids.size, data.groups.length);
    for (const g of data.groups) assert.equal(ids.get(g.key)?.length, g.score.n, g.key);
    assert.deepEqual(ids.get(groupKey('tiny-llama', 'fidelity', 'snapkv/uniform', '25%')), [
      'tiny-llama|fidelity|fidelity/p256/s0|snapkv/uniform|25%',
      'tiny-llama|fidelity|fidelity/p256/s1|snapkv/uniform|25%',
    ]);
  });

  it('a NIAH cell lists the samples at its depth and length', () => {
    assert.deepEqual(niahCellIds(cells, grid('snapkv/pyramidkv', '50%'), 50, 512), ['tiny-llama|niah-single|niah-single/c512/d50/s0|snapkv/pyramidkv|50%']);
    assert.deepEqual(niahCellIds(cells, grid('snapkv/pyramidkv', '50%'), 42, 512), []);
  });
});

describe('Δ-heatmap', () => {
  it('A − B cell by cell, from the fixture formula', () => {
    // uniform is method 0, pyramid method 1; budget 25% is index 1.
    const d = niahDelta(grid('snapkv/uniform', '25%'), grid('snapkv/pyramidkv', '25%'));
    assert.deepEqual(d.depths, [...DEPTHS]);
    assert.deepEqual(d.lengths, [...LENGTHS]);
    let sum = 0;
    let maxAbs = 0;
    DEPTHS.forEach((_, di) =>
      LENGTHS.forEach((_, li) => {
        const want = niahScore(0, 1, di, li) - niahScore(1, 1, di, li);
        const got = d.delta[di]?.[li];
        assert.ok(got !== null && got !== undefined && Math.abs(got - want) < 1e-12, `d${di} l${li}: ${got} ≠ ${want}`);
        sum += want;
        maxAbs = Math.max(maxAbs, Math.abs(want));
      }),
    );
    assert.ok(Math.abs(d.meanDelta - sum / 6) < 1e-12);
    assert.equal(d.maxAbs, maxAbs);
    assert.deepEqual(
      [d.a, d.b],
      [
        { methodLabel: 'snapkv/uniform', budget: '25%' },
        { methodLabel: 'snapkv/pyramidkv', budget: '25%' },
      ],
    );
  });

  it('A − A is zero everywhere; a missing cell on either side is null', () => {
    const u = grid('snapkv/uniform', '10%');
    assert.ok(niahDelta(u, u).delta.every((r) => r.every((v) => v === 0)));
    const holed: NiahGrid = { ...u, mean: u.mean.map((r, di) => r.map((v, li) => (di === 2 && li === 0 ? null : v))) };
    const d = niahDelta(grid('full', 'full'), holed);
    assert.equal(d.delta[2]?.[0], null);
    assert.equal(d.delta[0]?.[0], 1 - niahScore(0, 0, 0, 0));
  });

  it('refuses grids of different workloads or models', () => {
    const u = grid('snapkv/uniform', '10%');
    assert.throws(() => niahDelta(u, { ...u, workload: 'other' }), ReportError);
  });
});
