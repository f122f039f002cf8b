/**
 * Rows as read back from a results folder, split into result cells, layer profiles and model checks, and the error a report raises on rows it cannot use.
 */
import type { CheckRow, ProfileRow, ResultRow } from '../api/rows.ts';
import { LabError } from '../errors.ts';

/** An experiment as stored next to its rows (experiment.json); the results store's own type fits it. */
export interface ExperimentRecord {
  readonly hash: string;
  /** The experiment definition as written (its `name` and `description` are read). */
  readonly definition: unknown;
  readonly createdAt: string;
}

/** A row as read back: only the cell id is required; `splitRows` checks the rest. AnyRow and the store's raw rows fit it. */
export interface RowRecord {
  readonly cellId: string;
}

/** Results that cannot be reported as asked (no rows, a metric the rows lack, …): the request is invalid, not the program. */
export class ReportError extends LabError {
  readonly code = 'E_REPORT' as const;
  readonly apiCode = 'E_INVALID' as const;
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'ReportError';
  }
}

/** The rows of a results folder, split by kind and checked enough to draw them. */
export interface ReportRows {
  readonly cells: readonly ResultRow[];
  readonly profiles: readonly ProfileRow[];
  /** Sanity checks run after a model's cells (e.g. the state-leak re-run). */
  readonly checks: readonly CheckRow[];
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Splits stored rows into cells and profiles, rejecting (with the cell id)
 * rows that lack what the reports read. Unknown kinds are ignored so a newer
 * runner's rows do not break an older report.
 */
export function splitRows(rows: readonly RowRecord[]): ReportRows {
  const cells: ResultRow[] = [];
  const profiles: ProfileRow[] = [];
  const checks: CheckRow[] = [];
  for (const row of rows) {
    const r = row as unknown as Readonly<Record<string, unknown>> & { readonly cellId: string };
    const bad = (what: string): never => {
      throw new ReportError(`row ${r.cellId}: ${what}`);
    };
    if (r['kind'] === 'cell') {
      if (!isObj(r['model']) || typeof r['model']['name'] !== 'string') bad('has no model name');
      if (typeof r['workload'] !== 'string' || typeof r['sampleId'] !== 'string') bad('has no workload or sample id');
      if (typeof r['method'] !== 'string' || typeof r['methodLabel'] !== 'string' || typeof r['budget'] !== 'string') bad('has no method or budget');
      if (typeof r['score'] !== 'number') bad('has no numeric score');
      const kv = r['kv'];
      if (!isObj(kv) || typeof kv['heldBytes'] !== 'number' || typeof kv['fullBytes'] !== 'number' || typeof kv['nominalRatio'] !== 'number')
        bad('has no KV measurement (kv.heldBytes, kv.fullBytes, kv.nominalRatio)');
      if (!Array.isArray(r['flags'])) bad('has no flags array');
      if (!isObj(r['provenance'])) bad('has no provenance');
      cells.push(r as unknown as ResultRow);
    } else if (r['kind'] === 'profile') {
      if (!isObj(r['model']) || typeof r['model']['name'] !== 'string') bad('has no model name');
      if (!Array.isArray(r['lmba'])) bad('has no lmba array');
      if (!isObj(r['provenance'])) bad('has no provenance');
      profiles.push(r as unknown as ProfileRow);
    } else if (r['kind'] === 'check') {
      if (!isObj(r['model']) || typeof r['model']['name'] !== 'string') bad('has no model name');
      if (!Array.isArray(r['flags'])) bad('has no flags array');
      checks.push(r as unknown as CheckRow);
    }
  }
  return { cells, profiles, checks };
}
