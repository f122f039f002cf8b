/**
 * A run's life, as pure functions over its summary: queued → running →
 * done / failed / cancelled; a queued run can be cancelled before it starts,
 * and a cancelled or failed one resumes by going back to the queue (its
 * finished cells are kept). The queue is first in, first out.
 *
 * The host's run store and the renderer's fake API move their runs by this
 * table, so the statuses and counts the UI sees follow one table.
 */
import type { RunStatus, RunSummary } from './api/contract.ts';

/** The statuses each status may move to. */
export const RUN_TRANSITIONS: { readonly [S in RunStatus]: readonly RunStatus[] } = {
  queued: ['running', 'cancelled'],
  running: ['done', 'failed', 'cancelled'],
  done: [],
  cancelled: ['queued'],
  failed: ['queued'],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

/** The summary with its new status (and error, for 'failed'); throws a RangeError for a move the table does not allow. */
export function withStatus(summary: RunSummary, status: RunStatus, error?: string): RunSummary {
  if (!canTransition(summary.status, status)) throw new RangeError(`run ${summary.id} cannot go from ${summary.status} to ${status}`);
  return { ...summary, status, ...(error !== undefined ? { error } : {}) };
}

/** The run to start next: the oldest queued one (ties: the smaller id). */
export function nextQueued<T extends { readonly summary: Pick<RunSummary, 'status' | 'createdAt' | 'id'> }>(runs: Iterable<T>): T | undefined {
  return [...runs]
    .filter((r) => r.summary.status === 'queued')
    .sort((a, b) => a.summary.createdAt.localeCompare(b.summary.createdAt) || a.summary.id.localeCompare(b.summary.id))[0];
}

/** The summary after one more cell: the count goes up, the speed and the time left are the latest measurements. */
export function afterCell(summary: RunSummary, measured: { readonly tokensPerSecond: number; readonly secondsPerCell: number }): RunSummary {
  const cellsDone = Math.min(summary.cellsTotal, summary.cellsDone + 1);
  return { ...summary, cellsDone, tokensPerSecond: measured.tokensPerSecond, etaSeconds: (summary.cellsTotal - cellsDone) * measured.secondsPerCell };
}
