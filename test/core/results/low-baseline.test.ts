/**
 * The low-baseline alarm: a full-KV group warns only when at least a quarter
 * of its cells scored below the expected baseline (LOW_BASELINE_ALARM_SHARE);
 * a lone miss is a note, its group carries no flag and draws no red ring.
 * Rows: the report fixture's six full-KV NIAH cells, some turned into misses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyRow, ResultRow } from '@kvlab/core';
import { aggregate, LOW_BASELINE_ALARM_SHARE, lowBaselineAlarm } from '@kvlab/core';
import { EXPERIMENT, fixtureRows } from '../../reports/fixtures.ts';

/** The fixture with the first `misses` full-KV NIAH cells scoring 0 and flagged, as the runner flags them. */
function withMisses(misses: number): AnyRow[] {
  let left = misses;
  return fixtureRows().map((r) => {
    if (r.kind === 'cell' && r.method === 'full' && r.workload === 'niah-single' && left > 0) {
      left--;
      return { ...r, score: 0, flags: [...r.flags, 'low-baseline'] } as ResultRow;
    }
    return r;
  }) as unknown as AnyRow[];
}

const fullGroup = (rows: AnyRow[]) => aggregate(EXPERIMENT, rows).groups.find((g) => g.isFull && g.workload === 'niah-single');
const entry = (rows: AnyRow[]) => aggregate(EXPERIMENT, rows).sanity.find((e) => e.flag === 'low-baseline');

describe('low-baseline alarm', () => {
  it('one miss in six full-KV cells (mean 0.83) is a note, not a warning, and the group carries no flag', () => {
    const rows = withMisses(1);
    const g = fullGroup(rows);
    assert.ok(g);
    assert.ok(Math.abs(g.score.mean - 5 / 6) < 1e-12);
    assert.ok(!g.flags.includes('low-baseline'), g.flags.join(','));
    const e = entry(rows);
    assert.equal(e?.severity, 'info');
    assert.equal(e?.cells, 1);
    assert.match(e?.text ?? '', /single misses/);
  });

  it('two misses in six (a third, above the quarter) is a warning on the group', () => {
    const rows = withMisses(2);
    assert.ok(fullGroup(rows)?.flags.includes('low-baseline'));
    const e = entry(rows);
    assert.equal(e?.severity, 'warning');
    assert.match(e?.text ?? '', /suspect the harness/);
  });

  it('the line is a quarter of the group, inclusive', () => {
    assert.equal(LOW_BASELINE_ALARM_SHARE, 0.25);
    const g = (flagged: number, n: number): Pick<ResultRow, 'flags'>[] => Array.from({ length: n }, (_, i) => ({ flags: i < flagged ? ['low-baseline'] : [] }));
    assert.equal(lowBaselineAlarm(g(1, 15)), false); // mean 0.93 on a pass/fail metric
    assert.equal(lowBaselineAlarm(g(3, 15)), false);
    assert.equal(lowBaselineAlarm(g(4, 16)), true);
    assert.equal(lowBaselineAlarm(g(1, 4)), true);
    assert.equal(lowBaselineAlarm([]), false);
  });
});
