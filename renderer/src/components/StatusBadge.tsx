/** A run's status as a coloured badge (colours in styles.css, per theme). */
import type { RunStatus } from '@kvlab/core';

export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`badge badge-${status}`} data-testid="run-status" data-status={status}>
      {status}
    </span>
  );
}
