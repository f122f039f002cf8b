/** A run's status transitions, queue order and counts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunSummary } from '@kvlab/core';
import { afterCell, canTransition, nextQueued, withStatus } from '@kvlab/core';

const run = (id: string, status: RunSummary['status'], createdAt = '2026-01-01T00:00:00.000Z'): RunSummary => ({
  id,
  name: id,
  status,
  modelIds: [],
  cellsDone: 0,
  cellsTotal: 4,
  etaSeconds: 0,
  tokensPerSecond: 0,
  createdAt,
});

describe('run status', () => {
  it('allows queued → running → done/failed/cancelled, cancelling a queued run, and resuming cancelled or failed runs', () => {
    for (const [from, to] of [
      ['queued', 'running'],
      ['running', 'done'],
      ['running', 'failed'],
      ['running', 'cancelled'],
      ['queued', 'cancelled'],
      ['cancelled', 'queued'],
      ['failed', 'queued'],
    ] as const)
      assert.ok(canTransition(from, to), `${from} → ${to}`);
    for (const [from, to] of [
      ['done', 'queued'],
      ['queued', 'done'],
      ['running', 'queued'],
      ['cancelled', 'running'],
    ] as const)
      assert.ok(!canTransition(from, to), `${from} → ${to}`);
  });

  it('withStatus moves the summary, or throws for a move the table forbids', () => {
    assert.equal(withStatus(run('a', 'queued'), 'running').status, 'running');
    assert.equal(withStatus(run('a', 'running'), 'failed', 'boom').error, 'boom');
    assert.throws(() => withStatus(run('a', 'done'), 'running'), /cannot go from done to running/);
  });

  it('takes the oldest queued run first', () => {
    const runs = [
      { summary: run('c', 'queued', '2026-01-03T00:00:00.000Z') },
      { summary: run('a', 'running', '2026-01-01T00:00:00.000Z') },
      { summary: run('b', 'queued', '2026-01-02T00:00:00.000Z') },
    ];
    assert.equal(nextQueued(runs)?.summary.id, 'b');
    assert.equal(nextQueued(runs.filter((r) => r.summary.status !== 'queued')), undefined);
  });

  it('counts a finished cell and the time left at the measured pace, never past the total', () => {
    const s = afterCell(run('a', 'running'), { tokensPerSecond: 100, secondsPerCell: 0.5 });
    assert.deepEqual([s.cellsDone, s.etaSeconds, s.tokensPerSecond], [1, 1.5, 100]);
    assert.equal(afterCell({ ...s, cellsDone: 4 }, { tokensPerSecond: 1, secondsPerCell: 1 }).cellsDone, 4);
  });
});
