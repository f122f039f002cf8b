/**
 * Reports: the report `kvlab report` writes, for any run, as HTML, PDF, CSV or
 * JSON (exportReport on the host builds it; the renderer only saves the file).
 * PNG export of single charts lives with the charts (Compare), through the
 * same downloadFile util.
 */
import { useEffect, useState } from 'react';
import type { ExportedFile, RunSummary } from '@kvlab/core';
import { errorMessage, formatBytes } from '@kvlab/core';
import { RunOptions } from '../components/RunOptions.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { useLab, useLabApi } from '../store/index.ts';
import { downloadFile, exportedFileBlob } from '../util/download.ts';

const FORMATS = [
  { id: 'html', label: 'HTML', note: 'self-contained page with every chart and table' },
  { id: 'pdf', label: 'PDF', note: 'the same report, printable' },
  { id: 'csv', label: 'CSV', note: 'one line per cell' },
  { id: 'json', label: 'JSON', note: 'aggregates and rows, for scripts' },
] as const;
type Format = (typeof FORMATS)[number]['id'];

export function ReportsScreen({ save = downloadFile }: { save?: (f: ExportedFile) => unknown }) {
  const runs = useLab((s) => s.runs);
  const selectedRunId = useLab((s) => s.selectedRunId);
  const selectRun = useLab((s) => s.selectRun);
  useEffect(() => {
    if (!selectedRunId && runs[0]) selectRun(runs[0].id);
  }, [selectedRunId, runs, selectRun]);
  const run = runs.find((r) => r.id === selectedRunId);
  const { busy, last, error, exportAs } = useReportExport(run, save);

  return (
    <section className="screen screen-reports" data-testid="screen-reports">
      <header className="screen-header">
        <h1>Reports</h1>
        <p className="muted">The report the CLI writes (kvlab report), for any run — finished or not (a partial run reports the cells it has).</p>
      </header>
      <div className="card">
        <label htmlFor="report-run">Run</label>
        <select id="report-run" value={selectedRunId ?? ''} onChange={(e) => selectRun(e.target.value || null)} data-testid="report-run">
          <RunOptions runs={runs} />
        </select>
        {run ? (
          <p className="row gap small">
            <StatusBadge status={run.status} /> {run.cellsDone} of {run.cellsTotal} cells
          </p>
        ) : null}
        <div className="export-grid">
          {FORMATS.map((f) => (
            <button key={f.id} type="button" disabled={!run || busy !== null} onClick={() => void exportAs(f.id)} data-testid={`report-export-${f.id}`}>
              <strong>{busy === f.id ? 'Exporting…' : f.label}</strong>
              <span className="muted small">{f.note}</span>
            </button>
          ))}
        </div>
        <ExportOutcome last={last} error={error} />
      </div>
    </section>
  );
}

interface SavedFile {
  readonly name: string;
  readonly size: number;
}

/** Exports the run's report in one format at a time and saves it: which format is under way, the last file saved, or why it failed. */
function useReportExport(run: RunSummary | undefined, save: (f: ExportedFile) => unknown) {
  const api = useLabApi();
  const [busy, setBusy] = useState<Format | null>(null);
  const [last, setLast] = useState<SavedFile | null>(null);
  const [error, setError] = useState<string | null>(null);
  const exportAs = async (format: Format) => {
    if (!run) return;
    setBusy(format);
    setError(null);
    try {
      const file = await api.exportReport({ runId: run.id, format });
      save(file);
      setLast({ name: file.fileName, size: exportedFileBlob(file).size });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(null);
    }
  };
  return { busy, last, error, exportAs };
}

function ExportOutcome({ last, error }: { last: SavedFile | null; error: string | null }) {
  return (
    <>
      {last ? (
        <p className="ok" data-testid="report-saved">
          Saved {last.name} ({formatBytes(last.size)}).
        </p>
      ) : null}
      {error ? (
        <p className="error" role="alert" data-testid="report-error">
          {error}
        </p>
      ) : null}
    </>
  );
}
