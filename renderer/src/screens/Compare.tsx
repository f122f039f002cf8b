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
 */
import type { AnyRow, ExperimentRecord, LabApi, NiahGrid, ReportData, ResultRow } from '@kvlab/core';
import { aggregate, allocatorColors, cellIdsByGroup, FULL_COLOR, groupKey, methodColors, niahCellIds, niahDelta, splitRows } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useCallback, useDeferredValue, useMemo, useState } from 'react';
import { DeltaHeatmap } from '../charts/DeltaHeatmap.tsx';
import { FidelityCurves } from '../charts/FidelityCurves.tsx';
import { LayerBudgetBars } from '../charts/LayerBudgetBars.tsx';
import { NiahHeatmap } from '../charts/NiahHeatmap.tsx';
import { ParetoChart } from '../charts/ParetoChart.tsx';
import type { ParetoSample } from '../charts/ParetoChart.tsx';
import { SamplePanel } from '../charts/SamplePanel.tsx';
import { CHART_THEME } from '../charts/theme.ts';

export interface CompareScreenProps {
  /** For the sample panel's prompt (getSample); every number here comes from `rows`. */
  readonly api: LabApi;
  readonly runId: string | null;
  /** The run's rows (getResults plus run.row events), in any order. */
  readonly rows: readonly AnyRow[];
  readonly experimentName?: string;
}

interface Aggregated {
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

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function CompareScreen(props: CompareScreenProps): ReactNode {
  const rows = useDeferredValue(props.rows);
  const agg = useMemo(() => aggregateRows(rows, props.runId, props.experimentName), [rows, props.runId, props.experimentName]);
  const [selection, setSelection] = useState<{ ids: readonly string[]; label: string } | null>(null);
  const [modelChoice, setModel] = useState<string | null>(null);
  const [paretoWorkloadChoice, setParetoWorkload] = useState<string | null>(null);
  const [niahWorkloadChoice, setNiahWorkload] = useState<string | null>(null);
  const [niahBudgetChoice, setNiahBudget] = useState<string | null>(null);
  const [deltaA, setDeltaA] = useState<string | null>(null);
  const [deltaB, setDeltaB] = useState<string | null>(null);
  const [layerBudgetChoice, setLayerBudget] = useState<string | null>(null);
  const [fidelityWorkloadChoice, setFidelityWorkload] = useState<string | null>(null);
  const [showSamples, setShowSamples] = useState(false);
  const select = useCallback((ids: readonly string[], label: string) => setSelection({ ids, label }), []);

  const ok = agg !== null && typeof agg !== 'string' ? agg : null;
  const data = ok?.data;
  const model = pick(modelChoice, data?.summary.models ?? []);

  // Accuracy vs memory: one (model, workload) at a time.
  const paretoWorkloads = useMemo(() => uniq((data?.groups ?? []).filter((g) => g.model === model).map((g) => g.workload)), [data, model]);
  const paretoWorkload = pick(paretoWorkloadChoice, paretoWorkloads);
  const paretoGroups = useMemo(() => (data?.groups ?? []).filter((g) => g.model === model && g.workload === paretoWorkload), [data, model, paretoWorkload]);
  const frontier = data?.pareto.find((p) => p.model === model && p.workload === paretoWorkload)?.keys;
  const samples = useMemo<ParetoSample[] | undefined>(
    () =>
      showSamples && ok
        ? ok.cells
            .filter((r) => r.model.name === model && r.workload === paretoWorkload)
            .map((r) => ({ cellId: r.cellId, methodLabel: r.methodLabel, heldBytes: r.kv.heldBytes, score: r.score }))
        : undefined,
    [showSamples, ok, model, paretoWorkload],
  );

  // NIAH: heatmaps per method at one budget (the full cache's beside them), and a Δ between two.
  const niahAll = useMemo(() => (data?.niah ?? []).filter((g) => g.model === model), [data, model]);
  const niahWorkload = pick(niahWorkloadChoice, uniq(niahAll.map((g) => g.workload)));
  const niahBudgets = useMemo(
    () => (data?.summary.budgets ?? []).filter((b) => b !== 'full' && niahAll.some((g) => g.workload === niahWorkload && g.budget === b)),
    [data, niahAll, niahWorkload],
  );
  const niahBudget = pick(niahBudgetChoice, niahBudgets);
  const grids = useMemo(
    () => niahAll.filter((g) => g.workload === niahWorkload && (g.budget === niahBudget || g.budget === 'full')),
    [niahAll, niahWorkload, niahBudget],
  );
  const gridLabels = grids.map((g) => g.methodLabel);
  const aLabel = pick(deltaA, gridLabels.filter((l) => l !== 'full').concat(gridLabels.filter((l) => l === 'full')));
  const bLabel = pick(
    deltaB,
    gridLabels.filter((l) => l !== aLabel).sort((x, y) => (x === 'full' ? -1 : y === 'full' ? 1 : 0)),
  );
  const gridA = grids.find((g) => g.methodLabel === aLabel);
  const gridB = grids.find((g) => g.methodLabel === bLabel);
  const delta = useMemo(() => (gridA && gridB && gridA !== gridB ? niahDelta(gridA, gridB) : null), [gridA, gridB]);
  const trainedLength = ok?.cells.find((r) => r.model.name === model)?.model.contextLength;
  const cellsOf = useCallback((g: NiahGrid) => (d: number, l: number) => (ok ? niahCellIds(ok.cells, g, d, l) : []), [ok]);
  // Outlined: cells carrying a flag their group carries too (a lone low-baseline miss is not an alarm: core's lowBaselineAlarm).
  const flaggedOf = useCallback(
    (g: NiahGrid): ReadonlySet<string> => {
      const key = groupKey(g.model, g.workload, g.methodLabel, g.budget);
      const groupFlags = new Set<string>(data?.groups.find((x) => x.key === key)?.flags ?? []);
      return new Set(
        (ok?.cells ?? [])
          .filter(
            (r) =>
              r.flags.some((f) => groupFlags.has(f)) &&
              r.model.name === g.model &&
              r.workload === g.workload &&
              r.methodLabel === g.methodLabel &&
              r.budget === g.budget,
          )
          .map((r) => `${String(r.meta['depth'])},${String(r.meta['contextLength'])}`),
      );
    },
    [ok, data],
  );
  const deltaCells = useCallback(
    (d: number, l: number): readonly string[] => (ok && gridA && gridB ? [...niahCellIds(ok.cells, gridA, d, l), ...niahCellIds(ok.cells, gridB, d, l)] : []),
    [ok, gridA, gridB],
  );

  // Per-layer budgets at one budget, colours fixed per allocator across budgets.
  const layerCharts = useMemo(() => (data?.layerBudgets ?? []).filter((c) => c.model === model), [data, model]);
  const layerBudget = pick(
    layerBudgetChoice,
    layerCharts.map((c) => c.budget),
  );
  const layerChart = layerCharts.find((c) => c.budget === layerBudget);
  const allocColors = useMemo(() => allocatorColors(layerCharts.flatMap((c) => c.series.map((s) => s.allocator))), [layerCharts]);
  const layerSeries = useMemo(
    () => (layerChart?.series ?? []).map((s) => ({ name: s.allocator, color: allocColors.get(s.allocator) ?? '#000000', budgets: s.budgets })),
    [layerChart, allocColors],
  );

  // Fidelity.
  const fidelityCharts = useMemo(() => (data?.fidelity ?? []).filter((c) => c.model === model), [data, model]);
  const fidelityWorkload = pick(
    fidelityWorkloadChoice,
    fidelityCharts.map((c) => c.workload),
  );
  const fidelity = fidelityCharts.find((c) => c.workload === fidelityWorkload);

  if (agg === null)
    return (
      <section className="screen" data-testid="screen-compare">
        <header className="screen-header">
          <h1>Compare</h1>
          <p className="muted">{props.runId ? 'No results in this run yet: charts appear as cells finish.' : 'Pick a run to compare its methods.'}</p>
        </header>
      </section>
    );
  if (typeof agg === 'string' || !ok || !data)
    return (
      <section className="screen" data-testid="screen-compare">
        <header className="screen-header">
          <h1>Compare</h1>
        </header>
        <p role="alert" className="notice notice-error" data-testid="compare-error">
          These results cannot be drawn: {String(agg)}
        </p>
      </section>
    );

  const s = data.summary;
  const warnings = data.sanity.filter((e) => e.severity === 'warning');
  const notes = data.sanity.filter((e) => e.severity === 'info');
  const budgetText = (b: string | undefined): string => (b === undefined ? '' : ` @ ${b}`);

  return (
    <section className="screen" data-testid="screen-compare">
      <header className="screen-header row spread">
        <div>
          <h1>Compare</h1>
          <p className="muted" data-testid="compare-summary">
            {props.experimentName ?? s.name}: {s.cells} cells · {s.models.length} model(s) · {s.methods.length} method(s) · {s.budgets.length} budget(s) ·{' '}
            {s.workloads.length} workload(s)
          </p>
        </div>
        <Picker label="model" testId="compare-model" value={model} options={s.models} onChange={setModel} />
      </header>

      {warnings.length || notes.length ? (
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
      ) : null}

      <div className="cols">
        <div className="col">
          {paretoGroups.length ? (
            <div className="card">
              <div className="row gap wrap">
                <Picker label="workload" testId="compare-pareto-workload" value={paretoWorkload} options={paretoWorkloads} onChange={setParetoWorkload} />
                <label className="small">
                  <input type="checkbox" data-testid="compare-show-samples" checked={showSamples} onChange={(e) => setShowSamples(e.currentTarget.checked)} />{' '}
                  show samples
                </label>
              </div>
              <ParetoChart
                testId="compare-pareto"
                title={`Accuracy vs measured KV memory · ${model ?? ''} · ${paretoWorkload ?? ''}`}
                groups={paretoGroups}
                {...(frontier ? { frontier } : {})}
                colors={ok.colors}
                cellIds={ok.ids}
                {...(samples ? { samples } : {})}
                onSelect={select}
              />
            </div>
          ) : null}

          {grids.length ? (
            <div className="card" data-testid="compare-niah">
              <div className="row gap wrap">
                <h2 style={{ margin: 0 }}>Needle in a haystack</h2>
                <Picker
                  label="workload"
                  testId="compare-niah-workload"
                  value={niahWorkload}
                  options={uniq(niahAll.map((g) => g.workload))}
                  onChange={setNiahWorkload}
                />
                <Picker label="budget" testId="compare-niah-budget" value={niahBudget} options={niahBudgets} onChange={setNiahBudget} />
                {niahBudgets.length === 1 ? <span className="small muted">budget {niahBudget}</span> : null}
              </div>
              <div className="heatmaps" style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(300px, 1fr))', gap: 10 }}>
                {grids.map((g) => (
                  <NiahHeatmap
                    key={g.methodLabel}
                    testId={`compare-heatmap-${g.methodLabel}`}
                    grid={g}
                    {...(trainedLength !== undefined ? { trainedLength } : {})}
                    cellIds={cellsOf(g)}
                    onSelect={select}
                    flagged={flaggedOf(g)}
                  />
                ))}
              </div>
              {gridLabels.length >= 2 ? (
                <div style={{ marginTop: 10 }}>
                  <div className="row gap wrap">
                    <Picker label="A" testId="compare-delta-a" value={aLabel} options={gridLabels} onChange={setDeltaA} />
                    <span className="small">minus</span>
                    <Picker label="B" testId="compare-delta-b" value={bLabel} options={gridLabels.filter((l) => l !== aLabel)} onChange={setDeltaB} />
                  </div>
                  {delta ? (
                    <div style={{ maxWidth: 420 }}>
                      <DeltaHeatmap
                        testId="compare-delta"
                        delta={delta}
                        {...(trainedLength !== undefined ? { trainedLength } : {})}
                        cellIds={deltaCells}
                        onSelect={select}
                      />
                    </div>
                  ) : null}
                </div>
              ) : null}
            </div>
          ) : null}

          {layerChart ? (
            <div className="card">
              <Picker label="budget" testId="compare-layer-budget" value={layerBudget} options={layerCharts.map((c) => c.budget)} onChange={setLayerBudget} />
              <LayerBudgetBars
                testId="compare-layer-bars"
                title={`Per-layer budgets · ${layerChart.model}${budgetText(layerChart.budget)}`}
                series={layerSeries}
                {...(layerChart.lmba ? { lmba: layerChart.lmba, lmbaLabel: layerChart.lmbaSource === 'profile' ? 'LMBA (profile)' : 'LMBA' } : {})}
              />
              <p className="muted small">{layerChart.series.map((x) => `${x.allocator}: ${x.methods.join(', ')} (${x.n} cells)`).join(' · ')}</p>
            </div>
          ) : null}

          {fidelity ? (
            <div className="card">
              <Picker
                label="workload"
                testId="compare-fidelity-workload"
                value={fidelityWorkload}
                options={fidelityCharts.map((c) => c.workload)}
                onChange={setFidelityWorkload}
              />
              <FidelityCurves testId="compare-fidelity" chart={fidelity} colors={ok.colors} cellIds={ok.ids} onSelect={select} />
            </div>
          ) : null}

          {!paretoGroups.length && !grids.length && !layerChart && !fidelity ? <p className="muted">No cells to draw for {model}.</p> : null}
        </div>
        {selection ? (
          // Sticky: the panel opens where the user is looking, not at the top of a page scrolled down to a lower chart.
          <div className="col-narrow sample-panel-col" data-testid="sample-panel-col">
            <SamplePanel
              label={selection.label}
              cellIds={selection.ids}
              rowsById={ok.rowsById}
              api={props.api}
              runId={props.runId}
              onClose={() => setSelection(null)}
            />
          </div>
        ) : null}
      </div>
    </section>
  );
}
