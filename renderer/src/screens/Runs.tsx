/**
 * Runs: the queue (newest first), and for the selected run a live progress
 * bar with ETA and rate, cancel / resume, a per-method summary that fills in
 * as rows stream, the latest rows and the log — both virtualised, since a
 * sweep easily reaches tens of thousands of rows.
 */
import { useEffect, useMemo } from 'react';
import type { AnyRow, ResultRow, RunSummary } from '@kvlab/core';
import { formatBytes, formatDuration, formatPercent, formatRate, formatTime } from '@kvlab/core';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { VirtualList } from '../components/VirtualList.tsx';
import { useLab } from '../store/index.ts';
import { splitSampleId, summarizeByMethodBudget } from '../util/run-summary.ts';

const EMPTY_ROWS: readonly AnyRow[] = [];
const EMPTY_LOGS: readonly never[] = [];

export function RunsScreen() {
  const runs = useLab((s) => s.runs);
  const runsLoaded = useLab((s) => s.runsLoaded);
  const selectedRunId = useLab((s) => s.selectedRunId);
  const selectRun = useLab((s) => s.selectRun);
  const navigate = useLab((s) => s.navigate);

  // Land on the newest run when none is selected.
  useEffect(() => {
    if (!selectedRunId && runs[0]) selectRun(runs[0].id);
  }, [selectedRunId, runs, selectRun]);

  const selected = runs.find((r) => r.id === selectedRunId);
  return (
    <section className="screen screen-runs" data-testid="screen-runs">
      <header className="screen-header row spread">
        <h1>Runs</h1>
        <button type="button" onClick={() => navigate('builder')} data-testid="runs-new">
          + New experiment
        </button>
      </header>
      <div className="cols">
        <div className="col col-narrow">
          <VirtualList
            items={runs}
            rowHeight={64}
            height={560}
            testId="run-list"
            ariaLabel="Runs"
            rowKey={(r) => r.id}
            empty={<p className="muted">{runsLoaded ? 'No runs yet. Build an experiment to start one.' : 'Loading…'}</p>}
            renderRow={(r) => <RunListItem run={r} selected={r.id === selectedRunId} onSelect={() => selectRun(r.id)} />}
          />
        </div>
        <div className="col">{selected ? <RunDetailView run={selected} /> : <p className="muted">Select a run.</p>}</div>
      </div>
    </section>
  );
}

function RunListItem({ run, selected, onSelect }: { run: RunSummary; selected: boolean; onSelect: () => void }) {
  return (
    <button
      type="button"
      className={`run-item ${selected ? 'selected' : ''}`}
      onClick={onSelect}
      aria-pressed={selected}
      data-testid={`run-item-${run.id}`}
      data-status={run.status}
    >
      <span className="row spread">
        <span className="run-name">{run.name}</span>
        <StatusBadge status={run.status} />
      </span>
      <span className="row spread muted small">
        <span>
          {run.cellsDone}/{run.cellsTotal} cells
        </span>
        <span>{formatTime(run.createdAt)}</span>
      </span>
      <span className="mini-progress">
        <span style={{ width: `${run.cellsTotal ? (100 * run.cellsDone) / run.cellsTotal : 0}%` }} />
      </span>
    </button>
  );
}

function RunDetailView({ run }: { run: RunSummary }) {
  const rows = useLab((s) => s.rows[run.id] ?? EMPTY_ROWS);
  const active = run.status === 'running' || run.status === 'queued';
  return (
    <article className="run-detail" data-testid="run-detail" data-run-id={run.id}>
      <div className="card">
        <div className="row spread">
          <h2 data-testid="run-name">{run.name}</h2>
          <StatusBadge status={run.status} />
        </div>
        <ProgressBar value={run.cellsDone} max={run.cellsTotal} label={`${run.name} progress`} testId="run-progress" />
        <RunStats run={run} />
        {run.error ? (
          <p className="error" role="alert" data-testid="run-error">
            {run.error}
          </p>
        ) : null}
        <RunActions run={run} active={active} hasRows={rows.length > 0} />
        <RunFolder runId={run.id} />
      </div>
      <MethodSummary rows={rows} active={active} />
      <div className="stack">
        <RowsCard rows={rows} />
        <LogCard runId={run.id} />
      </div>
    </article>
  );
}

/** Cells done, and while the run runs: its ETA, rate and the cell it is on. */
function RunStats({ run }: { run: RunSummary }) {
  const current = useLab((s) => s.current[run.id]);
  return (
    <div className="row gap wrap small run-stats">
      <span data-testid="run-cells">
        {run.cellsDone} / {run.cellsTotal} cells ({formatPercent(run.cellsTotal ? run.cellsDone / run.cellsTotal : 0, 0)})
      </span>
      {run.status === 'running' ? <span data-testid="run-eta">ETA {formatDuration(run.etaSeconds)}</span> : null}
      {run.status === 'running' ? <span data-testid="run-rate">{formatRate(run.tokensPerSecond)}</span> : null}
      {current && run.status === 'running' ? (
        <span className="mono muted" data-testid="run-current">
          {current}
        </span>
      ) : null}
    </div>
  );
}

/** Cancel while it runs, resume once it stopped, and the screens that read its rows once it has some. */
function RunActions({ run, active, hasRows }: { run: RunSummary; active: boolean; hasRows: boolean }) {
  const cancel = useLab((s) => s.cancelRun);
  const resume = useLab((s) => s.resumeRun);
  const navigate = useLab((s) => s.navigate);
  const canResume = run.status === 'cancelled' || run.status === 'failed';
  return (
    <div className="row gap">
      <button type="button" disabled={!active} onClick={() => void cancel(run.id)} data-testid="run-cancel">
        Cancel
      </button>
      <button type="button" disabled={!canResume} onClick={() => void resume(run.id)} data-testid="run-resume">
        Resume
      </button>
      <button type="button" className="primary" disabled={!hasRows} onClick={() => navigate('compare')} data-testid="run-compare">
        Compare results
      </button>
      <button type="button" disabled={!hasRows} onClick={() => navigate('reports')} data-testid="run-report">
        Report
      </button>
    </div>
  );
}

/** Where the run writes its results, once its detail has loaded. */
function RunFolder({ runId }: { runId: string }) {
  const detail = useLab((s) => s.details[runId]);
  return detail ? (
    <p className="muted small mono" title="Results folder on the engine's machine">
      {detail.outDir}
    </p>
  ) : null;
}

/** Mean score and KV held per method and budget, filling in as rows stream. */
function MethodSummary({ rows, active }: { rows: readonly AnyRow[]; active: boolean }) {
  const summary = useMemo(() => summarizeByMethodBudget(rows), [rows]);
  return (
    <div className="card">
      <h3 data-testid="run-summary-title">{active ? 'By method and budget (so far)' : 'By method and budget'}</h3>
      <table className="table small" data-testid="run-summary">
        <thead>
          <tr>
            <th>Method</th>
            <th>Budget</th>
            <th>Cells</th>
            <th>Mean score</th>
            <th>KV held (measured)</th>
          </tr>
        </thead>
        <tbody>
          {summary.map((m) => (
            <tr key={`${m.label}\u0000${m.budget}`} data-method={m.label} data-budget={m.budget}>
              <td className="mono">{m.label}</td>
              <td>{m.budget}</td>
              <td>{m.cells}</td>
              <td data-testid="run-summary-score">{m.meanScore.toFixed(3)}</td>
              <td>{formatPercent(m.meanShare)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The run's result rows (cells only), virtualised and following the newest. */
function RowsCard({ rows }: { rows: readonly AnyRow[] }) {
  const cells = useMemo(() => rows.filter((r): r is ResultRow => r.kind === 'cell'), [rows]);
  return (
    <div className="card">
      <h3>
        Rows <span className="muted small">({rows.length})</span>
      </h3>
      <div className="row-head small muted">
        <span>sample</span>
        <span>method</span>
        <span>budget</span>
        <span>score</span>
        <span>KV held</span>
      </div>
      <VirtualList
        items={cells}
        rowHeight={24}
        height={260}
        follow
        testId="run-rows"
        ariaLabel="Result rows"
        rowKey={(r) => r.cellId}
        renderRow={(r) => (
          <div className="row-line small">
            <SampleId id={r.sampleId} />
            <span className="mono ellipsis">{r.methodLabel}</span>
            <span>{r.budget}</span>
            <span>{r.score.toFixed(2)}</span>
            <span>{formatBytes(r.kv.heldBytes)}</span>
          </div>
        )}
      />
    </div>
  );
}

/** The run's log, virtualised and following the newest line. */
function LogCard({ runId }: { runId: string }) {
  const logs = useLab((s) => s.logs[runId] ?? EMPTY_LOGS);
  return (
    <div className="card">
      <h3>
        Log <span className="muted small">({logs.length})</span>
      </h3>
      <VirtualList
        items={logs}
        rowHeight={22}
        height={220}
        follow
        testId="run-logs"
        ariaLabel="Run log"
        renderRow={(l) => (
          <div className={`log-line small mono log-${l.level}`}>
            <span className="muted">{formatTime(l.time)}</span> {l.message}
          </div>
        )}
      />
    </div>
  );
}

/**
 * A sample id in a narrow column: when it does not fit, the workload part
 * gives way (ellipsis) and the cell part — context length, depth, sample
 * index — stays whole, since that is what tells the rows apart.
 */
function SampleId({ id }: { id: string }) {
  const { head, tail } = splitSampleId(id);
  return (
    <span className="mono sample-id" title={id} data-testid="run-row-sample">
      <span className="sample-id-head">{head}</span>
      {tail ? (
        <span className="sample-id-tail" data-testid="run-row-sample-tail">
          {tail}
        </span>
      ) : null}
    </span>
  );
}
