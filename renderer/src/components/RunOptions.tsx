/** The <option>s of a run picker: each run as "name (status, done/total)", or a placeholder when there is none. */
import type { RunSummary } from '@kvlab/core';

export function RunOptions({ runs }: { runs: readonly RunSummary[] }) {
  if (runs.length === 0) return <option value="">No runs yet</option>;
  return (
    <>
      {runs.map((r) => (
        <option key={r.id} value={r.id}>
          {r.name} ({r.status}, {r.cellsDone}/{r.cellsTotal})
        </option>
      ))}
    </>
  );
}
