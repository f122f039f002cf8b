/**
 * Compare: the results of a run as the lab's charts — accuracy vs measured KV
 * memory (Pareto, nominal vs measured marked), NIAH heatmaps per method and a
 * Δ-heatmap between two, per-layer budgets with the LMBA overlay, fidelity
 * curves — with the sanity-guard warnings where they apply. Clicking a point
 * or a cell opens the samples behind it.
 *
 * Every number comes from core's aggregate (core/src/results), the code the
 * CLI report uses, so the screen and `kvlab report` agree. Rows stream in
 * while a run goes: aggregation runs on a deferred copy of the rows so typing
 * and hovering stay responsive when thousands arrive.
 *
 * The run is the store's selected run (shared with Runs and Reports); the
 * chart picks live in the store's compare slice so they survive a visit to
 * another screen; the open sample panel is local, transient UI.
 */
import type { AnyRow, ExperimentRecord, GroupSummary, NiahGrid, ReportData, ResultRow } from '@kvlab/core';
import { aggregate, allocatorColors, cellIdsByGroup, FULL_COLOR, groupKey, methodColors, niahCellIds, niahDelta, splitRows } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useCallback, useDeferredValue, useEffect, useMemo, useState } from 'react';
import { DeltaHeatmap } from '../charts/DeltaHeatmap.tsx';
import { FidelityCurves } from '../charts/FidelityCurves.tsx';
import { LayerBudgetBars } from '../charts/LayerBudgetBars.tsx';
import { NiahHeatmap } from '../charts/NiahHeatmap.tsx';
import { ParetoChart } from '../charts/ParetoChart.tsx';
import type { ParetoSample } from '../charts/ParetoChart.tsx';
import { SamplePanel } from '../charts/SamplePanel.tsx';
import { CHART_THEME } from '../charts/theme.ts';
import { RunOptions } from '../components/RunOptions.tsx';
import { useLab, useLabApi } from '../store/index.ts';

export interface Aggregated {
  readonly data: ReportData;
  readonly cells: readonly ResultRow[];
  readonly rowsById: ReadonlyMap<string, AnyRow>;
  readonly ids: ReadonlyMap<string, readonly string[]>;
  readonly colors: ReadonlyMap<string, string>;
}

/** Aggregates rows as the CLI report does; null with no rows, a message for rows the report cannot read. */
export function aggregateRows(rows: readonly AnyRow[], runId: string | null, experimentName?: string): Aggregated | string | null {
  if (rows.length === 0) return null;
  const experiment: ExperimentRecord = {
    hash: rows[0]?.experimentHash ?? runId ?? '',
    definition: { name: experimentName ?? (rows.find((r) => r.kind === 'cell') as ResultRow | undefined)?.experiment ?? runId ?? '' },
    createdAt: '',
  };
  try {
    const data = aggregate(experiment, rows);
    const cells = splitRows(rows).cells;
    return {
      data,
      cells,
      rowsById: new Map(rows.map((r) => [r.cellId, r])),
      ids: cellIdsByGroup(cells),
      // The report's colours, except the baseline's dark grey, which follows the theme so it shows on a dark background.
      colors: new Map([...methodColors(data.summary.methods)].map(([label, c]) => [label, c === FULL_COLOR ? CHART_THEME.full : c])),
    };
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const uniq = <T,>(xs: readonly T[]): T[] => [...new Set(xs)];
/** The chosen value if still offered, else the first offered. */
const pick = <T,>(chosen: T | null, offered: readonly T[]): T | undefined => (chosen !== null && offered.includes(chosen) ? chosen : offered[0]);

const EMPTY_ROWS: readonly AnyRow[] = [];

/** Opens the sample panel on these cells. */
type Select = (ids: readonly string[], label: string) => void;

function Picker(props: { label: string; testId: string; value: string | undefined; options: readonly string[]; onChange: (v: string) => void }): ReactNode {
  if (props.options.length < 2) return null;
  return (
    <label className="small">
      {props.label}{' '}
      <select data-testid={props.testId} value={props.value ?? ''} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

// -- The screen: the store's selected run --------------------------------------

export function CompareScreen(): ReactNode {
  const runId = useLab((s) => s.selectedRunId);
  const liveRows = useLab((s) => (s.selectedRunId ? (s.rows[s.selectedRunId] ?? EMPTY_ROWS) : EMPTY_ROWS));
  const name = useLab((s) =>
    s.selectedRunId ? (s.details[s.selectedRunId]?.experiment.name ?? s.runs.find((r) => r.id === s.selectedRunId)?.name) : undefined,
  );
  useDefaultRun();
  const rows = useDeferredValue(liveRows);
  const agg = useMemo(() => aggregateRows(rows, runId, name), [rows, runId, name]);
  return (
    <section className="screen" data-testid="screen-compare">
      <RunPicker rowCount={liveRows.length} />
      <CompareBody agg={agg} runId={runId} experimentName={name} />
    </section>
  );
}

/** With no run selected, Compare opens the first finished run (or the first run). */
function useDefaultRun(): void {
  const runs = useLab((s) => s.runs);
  const runId = useLab((s) => s.selectedRunId);
  const selectRun = useLab((s) => s.selectRun);
  useEffect(() => {
    if (!runId && runs.length) selectRun((runs.find((r) => r.status === 'done') ?? runs[0])?.id ?? null);
  }, [runId, runs, selectRun]);
}

function RunPicker({ rowCount }: { rowCount: number }): ReactNode {
  const runs = useLab((s) => s.runs);
  const runId = useLab((s) => s.selectedRunId);
  const selectRun = useLab((s) => s.selectRun);
  return (
    <div className="mount-bar row gap">
      <label>
        Run{' '}
        <select value={runId ?? ''} onChange={(e) => selectRun(e.target.value || null)} data-testid="compare-run-select">
          <RunOptions runs={runs} />
        </select>
      </label>
      <span className="muted small">{rowCount} rows</span>
    </div>
  );
}

function CompareBody(props: { agg: Aggregated | string | null; runId: string | null; experimentName: string | undefined }): ReactNode {
  const { agg } = props;
  if (agg === null)
    return (
      <header className="screen-header">
        <h1>Compare</h1>
        <p className="muted">{props.runId ? 'No results in this run yet: charts appear as cells finish.' : 'Pick a run to compare its methods.'}</p>
      </header>
    );
  if (typeof agg === 'string')
    return (
      <>
        <header className="screen-header">
          <h1>Compare</h1>
        </header>
        <p role="alert" className="notice notice-error" data-testid="compare-error">
          These results cannot be drawn: {agg}
        </p>
      </>
    );
  return <CompareCharts ok={agg} runId={props.runId} experimentName={props.experimentName} />;
}

// -- The charts of one aggregated run ----------------------------------------------

function CompareCharts(props: { ok: Aggregated; runId: string | null; experimentName: string | undefined }): ReactNode {
  const { ok } = props;
  const { data } = ok;
  const api = useLabApi();
  const picks = useLab((s) => s.comparePicks);
  const pickCompare = useLab((s) => s.pickCompare);
  const [selection, setSelection] = useState<{ ids: readonly string[]; label: string } | null>(null);
  const select = useCallback<Select>((ids, label) => setSelection({ ids, label }), []);
  const s = data.summary;
  const model = pick(picks.model, s.models);
  const drawsAny = [data.groups, data.layerBudgets, data.fidelity].some((xs) => xs.some((x) => x.model === model));
  return (
    <>
      <header className="screen-header row spread">
        <div>
          <h1>Compare</h1>
          <p className="muted" data-testid="compare-summary">
            {props.experimentName ?? s.name}: {s.cells} cells · {s.models.length} model(s) · {s.methods.length} method(s) · {s.budgets.length} budget(s) ·{' '}
            {s.workloads.length} workload(s)
          </p>
        </div>
        <Picker label="model" testId="compare-model" value={model} options={s.models} onChange={(v) => pickCompare({ model: v })} />
      </header>
      <SanityNotes data={data} select={select} />
      <div className="cols">
        <div className="col">
          <ParetoCard ok={ok} model={model} select={select} />
          <NiahCard ok={ok} model={model} select={select} />
          <LayerBudgetCard ok={ok} model={model} />
          <FidelityCard ok={ok} model={model} select={select} />
          {drawsAny ? null : <p className="muted">No cells to draw for {model}.</p>}
        </div>
        {selection ? (
          // Sticky: the panel opens where the user is looking, not at the top of a page scrolled down to a lower chart.
          <div className="col-narrow sample-panel-col" data-testid="sample-panel-col">
            <SamplePanel
              label={selection.label}
              cellIds={selection.ids}
              rowsById={ok.rowsById}
              api={api}
              runId={props.runId}
              onClose={() => setSelection(null)}
            />
          </div>
        ) : null}
      </div>
    </>
  );
}

/** The sanity guards' warnings (an alert) and notes, each with a link to its example cells. */
function SanityNotes({ data, select }: { data: ReportData; select: Select }): ReactNode {
  const warnings = data.sanity.filter((e) => e.severity === 'warning');
  const notes = data.sanity.filter((e) => e.severity === 'info');
  if (!warnings.length && !notes.length) return null;
  return (
    <div className={`card notice${warnings.length ? ' notice-error' : ''}`} data-testid="compare-sanity" {...(warnings.length ? { role: 'alert' } : {})}>
      <strong>{warnings.length ? 'Sanity-guard warnings' : 'Notes'}</strong>
      <ul style={{ margin: '4px 0 0', paddingLeft: 18 }}>
        {[...warnings, ...notes].map((e) => (
          <li key={e.flag} data-flag={e.flag} data-severity={e.severity}>
            <strong>{e.flag}</strong> — {e.text} ({e.cells} cell{e.cells === 1 ? '' : 's'}): <span className="muted">{e.groups.join('; ')}</span>{' '}
            {e.examples.length ? (
              <button
                type="button"
                className="link"
                data-testid={`compare-sanity-open-${e.flag}`}
                onClick={() => select(e.examples, `${e.flag}: example cells`)}
              >
                open {e.examples.length === 1 ? 'the cell' : `${e.examples.length} cells`}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

interface CardProps {
  readonly ok: Aggregated;
  readonly model: string | undefined;
  readonly select: Select;
}

/** Accuracy vs memory: one (model, workload) at a time, single samples on demand. */
function ParetoCard({ ok, model, select }: CardProps): ReactNode {
  const { data } = ok;
  const picks = useLab((s) => s.comparePicks);
  const pickCompare = useLab((s) => s.pickCompare);
  const workloads = useMemo(() => uniq(data.groups.filter((g) => g.model === model).map((g) => g.workload)), [data, model]);
  const workload = pick(picks.paretoWorkload, workloads);
  const groups = useMemo(() => data.groups.filter((g) => g.model === model && g.workload === workload), [data, model, workload]);
  const frontier = data.pareto.find((p) => p.model === model && p.workload === workload)?.keys;
  const samples = useMemo<ParetoSample[] | undefined>(
    () =>
      picks.showSamples
        ? ok.cells
            .filter((r) => r.model.name === model && r.workload === workload)
            .map((r) => ({ cellId: r.cellId, methodLabel: r.methodLabel, heldBytes: r.kv.heldBytes, score: r.score }))
        : undefined,
    [picks.showSamples, ok, model, workload],
  );
  if (!groups.length) return null;
  return (
    <div className="card">
      <div className="row gap wrap">
        <Picker label="workload" testId="compare-pareto-workload" value={workload} options={workloads} onChange={(v) => pickCompare({ paretoWorkload: v })} />
        <label className="small">
          <input
            type="checkbox"
            data-testid="compare-show-samples"
            checked={picks.showSamples}
            onChange={(e) => pickCompare({ showSamples: e.currentTarget.checked })}
          />{' '}
          show samples
        </label>
      </div>
      <ParetoChart
        testId="compare-pareto"
        title={`Accuracy vs measured KV memory · ${model ?? ''} · ${workload ?? ''}`}
        groups={groups}
        {...(frontier ? { frontier } : {})}
        colors={ok.colors}
        cellIds={ok.ids}
        {...(samples ? { samples } : {})}
        onSelect={select}
      />
    </div>
  );
}

/** The NIAH grids of a model at the picked workload and budget (the full cache's beside them), and the Δ between the two picked methods. */
function useNiahView(ok: Aggregated, model: string | undefined) {
  const { data } = ok;
  const picks = useLab((s) => s.comparePicks);
  const all = useMemo(() => data.niah.filter((g) => g.model === model), [data, model]);
  const workloads = uniq(all.map((g) => g.workload));
  const workload = pick(picks.niahWorkload, workloads);
  const budgets = useMemo(
    () => data.summary.budgets.filter((b) => b !== 'full' && all.some((g) => g.workload === workload && g.budget === b)),
    [data, all, workload],
  );
  const budget = pick(picks.niahBudget, budgets);
  const grids = useMemo(() => all.filter((g) => g.workload === workload && (g.budget === budget || g.budget === 'full')), [all, workload, budget]);
  const labels = grids.map((g) => g.methodLabel);
  // A is a compressed method by default, B the full cache: the Δ reads as "what compression lost".
  const aLabel = pick(picks.deltaA, labels.filter((l) => l !== 'full').concat(labels.filter((l) => l === 'full')));
  const bLabel = pick(
    picks.deltaB,
    labels.filter((l) => l !== aLabel).sort((x, y) => (x === 'full' ? -1 : y === 'full' ? 1 : 0)),
  );
  const gridA = grids.find((g) => g.methodLabel === aLabel);
  const gridB = grids.find((g) => g.methodLabel === bLabel);
  const delta = useMemo(() => (gridA && gridB && gridA !== gridB ? niahDelta(gridA, gridB) : null), [gridA, gridB]);
  return { workloads, workload, budgets, budget, grids, labels, aLabel, bLabel, gridA, gridB, delta };
}

/** The "depth,length" cells of a grid that carry a flag their group carries too (a lone low-baseline miss is not an alarm: core's lowBaselineAlarm). */
function flaggedCells(ok: Aggregated, g: NiahGrid): ReadonlySet<string> {
  const key = groupKey(g.model, g.workload, g.methodLabel, g.budget);
  const groupFlags = new Set<string>(ok.data.groups.find((x: GroupSummary) => x.key === key)?.flags ?? []);
  const inGrid = (r: ResultRow): boolean => r.model.name === g.model && r.workload === g.workload && r.methodLabel === g.methodLabel && r.budget === g.budget;
  return new Set(
    ok.cells.filter((r) => r.flags.some((f) => groupFlags.has(f)) && inGrid(r)).map((r) => `${String(r.meta['depth'])},${String(r.meta['contextLength'])}`),
  );
}

function NiahCard({ ok, model, select }: CardProps): ReactNode {
  const v = useNiahView(ok, model);
  const pickCompare = useLab((s) => s.pickCompare);
  const trainedLength = ok.cells.find((r) => r.model.name === model)?.model.contextLength;
  const cellsOf = useCallback((g: NiahGrid) => (d: number, l: number) => niahCellIds(ok.cells, g, d, l), [ok]);
  if (!v.grids.length) return null;
  return (
    <div className="card" data-testid="compare-niah">
      <div className="row gap wrap">
        <h2 style={{ margin: 0 }}>Needle in a haystack</h2>
        <Picker label="workload" testId="compare-niah-workload" value={v.workload} options={v.workloads} onChange={(x) => pickCompare({ niahWorkload: x })} />
        <Picker label="budget" testId="compare-niah-budget" value={v.budget} options={v.budgets} onChange={(x) => pickCompare({ niahBudget: x })} />
        {v.budgets.length === 1 ? <span className="small muted">budget {v.budget}</span> : null}
      </div>
      <div className="heatmaps" style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(300px, 1fr))', gap: 10 }}>
        {v.grids.map((g) => (
          <NiahHeatmap
            key={g.methodLabel}
            testId={`compare-heatmap-${g.methodLabel}`}
            grid={g}
            {...(trainedLength !== undefined ? { trainedLength } : {})}
            cellIds={cellsOf(g)}
            onSelect={select}
            flagged={flaggedCells(ok, g)}
          />
        ))}
      </div>
      {v.labels.length >= 2 ? <DeltaPanel ok={ok} view={v} trainedLength={trainedLength} select={select} /> : null}
    </div>
  );
}

function DeltaPanel(props: { ok: Aggregated; view: ReturnType<typeof useNiahView>; trainedLength: number | undefined; select: Select }): ReactNode {
  const { ok, view: v, trainedLength } = props;
  const pickCompare = useLab((s) => s.pickCompare);
  const { gridA, gridB } = v;
  const deltaCells = useCallback(
    (d: number, l: number): readonly string[] => (gridA && gridB ? [...niahCellIds(ok.cells, gridA, d, l), ...niahCellIds(ok.cells, gridB, d, l)] : []),
    [ok, gridA, gridB],
  );
  return (
    <div style={{ marginTop: 10 }}>
      <div className="row gap wrap">
        <Picker label="A" testId="compare-delta-a" value={v.aLabel} options={v.labels} onChange={(x) => pickCompare({ deltaA: x })} />
        <span className="small">minus</span>
        <Picker
          label="B"
          testId="compare-delta-b"
          value={v.bLabel}
          options={v.labels.filter((l) => l !== v.aLabel)}
          onChange={(x) => pickCompare({ deltaB: x })}
        />
      </div>
      {v.delta ? (
        <div style={{ maxWidth: 420 }}>
          <DeltaHeatmap
            testId="compare-delta"
            delta={v.delta}
            {...(trainedLength !== undefined ? { trainedLength } : {})}
            cellIds={deltaCells}
            onSelect={props.select}
          />
        </div>
      ) : null}
    </div>
  );
}

/** Per-layer budgets at one budget, colours fixed per allocator across budgets. */
function LayerBudgetCard({ ok, model }: Omit<CardProps, 'select'>): ReactNode {
  const picks = useLab((s) => s.comparePicks);
  const pickCompare = useLab((s) => s.pickCompare);
  const charts = useMemo(() => ok.data.layerBudgets.filter((c) => c.model === model), [ok, model]);
  const budget = pick(
    picks.layerBudget,
    charts.map((c) => c.budget),
  );
  const chart = charts.find((c) => c.budget === budget);
  const colors = useMemo(() => allocatorColors(charts.flatMap((c) => c.series.map((s) => s.allocator))), [charts]);
  const series = useMemo(
    () => (chart?.series ?? []).map((s) => ({ name: s.allocator, color: colors.get(s.allocator) ?? '#000000', budgets: s.budgets })),
    [chart, colors],
  );
  if (!chart) return null;
  return (
    <div className="card">
      <Picker
        label="budget"
        testId="compare-layer-budget"
        value={budget}
        options={charts.map((c) => c.budget)}
        onChange={(v) => pickCompare({ layerBudget: v })}
      />
      <LayerBudgetBars
        testId="compare-layer-bars"
        title={`Per-layer budgets · ${chart.model} @ ${chart.budget}`}
        series={series}
        {...(chart.lmba ? { lmba: chart.lmba, lmbaLabel: chart.lmbaSource === 'profile' ? 'LMBA (profile)' : 'LMBA' } : {})}
      />
      <p className="muted small">{chart.series.map((x) => `${x.allocator}: ${x.methods.join(', ')} (${x.n} cells)`).join(' · ')}</p>
    </div>
  );
}

function FidelityCard({ ok, model, select }: CardProps): ReactNode {
  const picks = useLab((s) => s.comparePicks);
  const pickCompare = useLab((s) => s.pickCompare);
  const charts = useMemo(() => ok.data.fidelity.filter((c) => c.model === model), [ok, model]);
  const workloads = charts.map((c) => c.workload);
  const workload = pick(picks.fidelityWorkload, workloads);
  const chart = charts.find((c) => c.workload === workload);
  if (!chart) return null;
  return (
    <div className="card">
      <Picker label="workload" testId="compare-fidelity-workload" value={workload} options={workloads} onChange={(v) => pickCompare({ fidelityWorkload: v })} />
      <FidelityCurves testId="compare-fidelity" chart={chart} colors={ok.colors} cellIds={ok.ids} onSelect={select} />
    </div>
  );
}
