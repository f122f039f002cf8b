/**
 * Accuracy vs MEASURED KV memory, one series per method (the lab's central
 * chart, as the CLI report's "Accuracy vs measured KV memory" figure): filled
 * markers at the bytes the cache really held, hollow diamonds at the nominal
 * budget (keep ratio × full cache) at the same score — the gap between the
 * two is memory a method promised and did not free — error bars for the
 * 95 % CI, and the Pareto frontier dashed. Optionally every sample as a faint
 * dot behind the means.
 *
 * Pure: props in (core's GroupSummary of one model and workload), SVG out,
 * clicks out (`onSelect` with the cell ids behind the mark).
 */
import type { GroupSummary } from '@kvlab/core';
import { byteUnit, formatBytesFixed, formatFixed, formatPercent } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useMemo, useState } from 'react';
import { ErrorBar, Scatter, ScatterChart, Tooltip, XAxis, YAxis, CartesianGrid } from 'recharts';
import { axisStyle, bottomLabel, numberXAxis, roundAxis, sideLabel } from './axes.ts';
import type { AnimatedChartProps } from './ChartFrame.tsx';
import { ChartFrame } from './ChartFrame.tsx';
import { useChartWidth } from './use-width.ts';
import { thinForDrawing } from './downsample.ts';
import type { LegendEntry } from './export-png.ts';
import type { MarkSpec } from './shapes.tsx';
import { markShape, NoShape } from './shapes.tsx';
import { ANIMATION_MAX_POINTS, CHART_THEME, TOOLTIP_STYLE } from './theme.ts';

/** One row drawn as a faint dot (the per-sample view). */
export interface ParetoSample {
  readonly cellId: string;
  readonly methodLabel: string;
  readonly heldBytes: number;
  readonly score: number;
}

export interface ParetoChartProps extends AnimatedChartProps {
  /** Groups of ONE model and workload (core's aggregate().groups filtered). */
  readonly groups: readonly GroupSummary[];
  /** Keys of the groups on the Pareto frontier (core's paretoFrontiers), by increasing memory. */
  readonly frontier?: readonly string[];
  /** Method label → colour (core's methodColors). */
  readonly colors: ReadonlyMap<string, string>;
  /** Group key → the ids of its cells (core's cellIdsByGroup). */
  readonly cellIds: ReadonlyMap<string, readonly string[]>;
  readonly samples?: readonly ParetoSample[];
  /** Show the nominal-budget markers (a toggle in the toolbar changes it). Default true. */
  readonly showNominal?: boolean;
  readonly onSelect?: (cellIds: readonly string[], label: string) => void;
  /** Fixed size (tests, exports); without a width the chart fills its container. */
  readonly width?: number;
  /** Default: on up to ANIMATION_MAX_POINTS marks. */
  readonly animate?: boolean;
}

interface Pt {
  readonly x: number;
  readonly y: number;
  /** Error bar below and above the point (a 95 % CI clamped to the axis, as the report clamps it). */
  readonly err?: readonly [number, number];
  readonly label: string;
  readonly ids: readonly string[];
  readonly series: string;
  readonly group?: GroupSummary;
}

/** More samples than this are thinned for drawing (one dot per ~4 px bin); the means always use every row. */
export const MAX_SAMPLE_DOTS = 2000;

const groupText = (g: GroupSummary): string => `${g.methodLabel} @ ${g.budget}`;

function TooltipBody(props: { active?: boolean; payload?: readonly { payload?: unknown }[] }): ReactNode {
  const p = props.active ? (props.payload?.[0]?.payload as Pt | undefined) : undefined;
  if (!p) return null;
  const g = p.group;
  return (
    <div style={TOOLTIP_STYLE} data-testid="pareto-tooltip">
      <strong>{p.label}</strong>
      {g ? (
        <>
          <div>
            score {formatFixed(g.score.mean, 3)} ± {formatFixed(g.score.ci95, 3)} (n = {g.score.n}, {g.metric})
          </div>
          <div>
            measured {formatBytesFixed(g.heldBytes)} ({formatPercent(g.measuredRatio)} of full)
          </div>
          {!g.isFull ? (
            <div>
              nominal {formatBytesFixed(g.nominalBytes)} ({formatPercent(g.nominalRatio)})
            </div>
          ) : null}
          {g.flags.length ? <div style={{ color: 'var(--error, #b00020)' }}>⚠ {g.flags.join(', ')}</div> : null}
        </>
      ) : (
        <div>
          {p.ids.length} sample{p.ids.length === 1 ? '' : 's'} · score {formatFixed(p.y, 3)}
        </div>
      )}
    </div>
  );
}

export function ParetoChart(props: ParetoChartProps): ReactNode {
  const [showNominal, setShowNominal] = useState(props.showNominal ?? true);
  const testId = props.testId ?? 'pareto-chart';
  const height = props.height ?? 340;
  const [box, width] = useChartWidth(props.width);
  const { groups, cellIds, frontier, samples: rows } = props;
  const model = useMemo(() => paretoModel({ groups, cellIds, frontier, samples: rows }), [groups, cellIds, frontier, rows]);
  const samples = useMemo(() => sampleDots(rows ?? [], model, { width, height }), [rows, width, height, model]);
  const drawn = model.measured.reduce((n, s) => n + s.points.length, 0) * 2 + samples.reduce((n, s) => n + s.points.length, 0);
  const animate = props.animate ?? drawn <= ANIMATION_MAX_POINTS;
  const colorOf = (m: string): string => props.colors.get(m) ?? '#000000';
  const select = (p: Pt): (() => void) | undefined => (props.onSelect && p.ids.length ? () => props.onSelect?.(p.ids, p.label) : undefined);
  const thinnedFrom = samples.reduce((n, s) => n + s.total, 0);
  const thinnedTo = samples.reduce((n, s) => n + s.points.length, 0);
  const chart = paretoChart({ model, samples, width, height, showNominal, animate, colorOf, select });
  return (
    <ChartFrame
      testId={testId}
      title={props.title ?? 'Accuracy vs measured KV memory'}
      legend={paretoLegend(model, showNominal, colorOf)}
      {...(props.onExportPng ? { onExportPng: props.onExportPng } : {})}
      toolbar={
        <label style={{ fontSize: 12 }}>
          <input type="checkbox" data-testid={`${testId}-nominal-toggle`} checked={showNominal} onChange={(e) => setShowNominal(e.currentTarget.checked)} />{' '}
          nominal budget
        </label>
      }
      note={
        <>
          Filled: measured KV bytes held; hollow ◇: nominal budget at the same score; dashed: Pareto frontier; bars: 95 % CI.
          {thinnedTo < thinnedFrom ? ` Samples drawn: ${thinnedTo} dots for ${thinnedFrom} cells (the means use every cell).` : ''}
        </>
      }
    >
      <div ref={box} style={{ width: '100%' }}>
        {chart}
      </div>
    </ChartFrame>
  );
}

interface Series {
  readonly method: string;
  readonly points: Pt[];
}

/** What the chart draws, in one byte unit: per method the measured and nominal points, the frontier, and the axes' extent. */
interface ParetoModel {
  readonly unit: ReturnType<typeof byteUnit>;
  readonly methods: readonly string[];
  readonly measured: readonly Series[];
  readonly nominal: readonly Series[];
  readonly frontier: Pt[];
  /** Every score lies in [0, 1]: the axis is [0, 1] and error bars are clamped to it. */
  readonly unitScore: boolean;
  readonly xMax: number;
}

function paretoModel(props: {
  readonly groups: ParetoChartProps['groups'];
  readonly cellIds: ParetoChartProps['cellIds'];
  readonly frontier: ParetoChartProps['frontier'] | undefined;
  readonly samples: ParetoChartProps['samples'] | undefined;
}): ParetoModel {
  const gs = props.groups.filter((g) => Number.isFinite(g.score.mean) && Number.isFinite(g.heldBytes));
  const unit = byteUnit(Math.max(0, ...gs.map((g) => Math.max(g.heldBytes, g.nominalBytes, g.fullBytes)).filter(Number.isFinite)));
  const methods = [...new Set(gs.map((g) => g.methodLabel))];
  const ids = (g: GroupSummary): readonly string[] => props.cellIds.get(g.key) ?? [];
  const unitScore = gs.every((g) => g.score.mean >= 0 && g.score.mean <= 1) && (props.samples ?? []).every((s) => s.score >= 0 && s.score <= 1);
  // A CI of a [0, 1] score may reach past 0 or 1: drawn clamped to the axis.
  const err = (g: GroupSummary): readonly [number, number] => {
    const ci = Number.isFinite(g.score.ci95) ? g.score.ci95 : 0;
    return unitScore ? [Math.min(ci, g.score.mean), Math.min(ci, 1 - g.score.mean)] : [ci, ci];
  };
  const measured = methods.map((m) => ({
    method: m,
    points: gs
      .filter((g) => g.methodLabel === m)
      .sort((a, b) => a.heldBytes - b.heldBytes)
      .map((g): Pt => ({ x: g.heldBytes / unit.div, y: g.score.mean, err: err(g), label: groupText(g), ids: ids(g), series: m, group: g })),
  }));
  const nominal = methods.map((m) => ({
    method: m,
    points: gs
      .filter((g) => g.methodLabel === m && !g.isFull && Number.isFinite(g.nominalBytes))
      .sort((a, b) => a.nominalBytes - b.nominalBytes)
      .map((g): Pt => ({ x: g.nominalBytes / unit.div, y: g.score.mean, label: `${groupText(g)} (nominal)`, ids: ids(g), series: m, group: g })),
  }));
  const byKey = new Map(gs.map((g) => [g.key, g]));
  const frontier = (props.frontier ?? [])
    .map((k) => byKey.get(k))
    .filter((g): g is GroupSummary => g !== undefined)
    .map((g): Pt => ({ x: g.heldBytes / unit.div, y: g.score.mean, label: groupText(g), ids: ids(g), series: 'frontier' }));
  const xMax = Math.max(1e-9, ...gs.map((g) => Math.max(g.heldBytes, g.nominalBytes) / unit.div).filter(Number.isFinite));
  return { unit, methods, measured, nominal, frontier, unitScore, xMax };
}

/** Samples: thinned to one dot per ~4 px bin when there are thousands; each dot carries every cell id in its bin. */
function sampleDots(all: readonly ParetoSample[], model: ParetoModel, size: { width: number; height: number }) {
  const plotW = size.width - 80;
  const plotH = size.height - 60;
  return model.methods.map((m) => {
    const pts = all.filter((s) => s.methodLabel === m).map((s) => ({ x: s.heldBytes / model.unit.div, y: s.score, id: s.cellId }));
    const thinned = thinForDrawing(pts, MAX_SAMPLE_DOTS / Math.max(1, model.methods.length), {
      xDomain: [0, model.xMax],
      yDomain: model.unitScore ? [0, 1] : [Math.min(0, ...pts.map((p) => p.y)), Math.max(1, ...pts.map((p) => p.y))],
      binsX: plotW / 4,
      binsY: plotH / 4,
    });
    return {
      method: m,
      total: pts.length,
      points: thinned.map((b): Pt => ({
        x: b.point.x,
        y: b.point.y,
        label: `${m}: ${b.members.length} sample(s)`,
        ids: b.members.map((p) => p.id),
        series: m,
      })),
    };
  });
}

function paretoLegend(model: ParetoModel, showNominal: boolean, colorOf: (m: string) => string): LegendEntry[] {
  return [
    // A method's means are circles joined by a line (a lone point, the full cache's, has no line).
    ...model.measured.map((s): LegendEntry => ({ label: s.method, color: colorOf(s.method), mark: s.points.length > 1 ? 'line-circle' : 'circle' })),
    ...(showNominal && model.nominal.some((s) => s.points.length)
      ? [{ label: 'nominal budget', color: '#777777', hollow: true, mark: 'diamond' as const }]
      : []),
    ...(model.frontier.length > 1 ? [{ label: 'Pareto frontier', color: CHART_THEME.muted, mark: 'line' as const, dashed: true }] : []),
  ];
}

/** The score axis: [0, 1] with a little room for the markers, else the round span of the means and their error bars. */
function scoreAxis(model: ParetoModel) {
  return model.unitScore
    ? // A little room past 0 and 1 so markers at a perfect or zero score are not cut in half by the plot's edge; ticks stay round.
      { ...roundAxis(0, 1), domain: [-0.02, 1.02] as [number, number], allowDataOverflow: true }
    : roundAxis(
        Math.min(...model.measured.flatMap((s) => s.points.map((p) => p.y - (p.err?.[0] ?? 0)))),
        Math.max(...model.measured.flatMap((s) => s.points.map((p) => p.y + (p.err?.[1] ?? 0)))),
      );
}

interface ParetoChartOptions {
  readonly model: ParetoModel;
  readonly samples: ReturnType<typeof sampleDots>;
  readonly width: number;
  readonly height: number;
  readonly showNominal: boolean;
  readonly animate: boolean;
  readonly colorOf: (method: string) => string;
  /** What clicking a mark does: select its cells (undefined: not clickable). */
  readonly select: (p: Pt) => (() => void) | undefined;
}

/** A method's samples or nominal budgets: marks only, with no line and no legend entry. */
function markSeries(key: string, name: string, points: Pt[], animated: boolean, mark: (p: Pt) => MarkSpec): ReactNode {
  return points.length ? <Scatter key={key} name={name} data={points} legendType="none" isAnimationActive={animated} shape={markShape(mark)} /> : null;
}

/** The recharts chart, back to front: sample dots, frontier, nominal diamonds, measured means with error bars (recharts wants them as direct children). */
function paretoChart(o: ParetoChartOptions): ReactNode {
  const { model, colorOf, select } = o;
  return (
    <ScatterChart width={o.width} height={o.height} margin={{ top: 8, right: 16, bottom: 28, left: 8 }}>
      <CartesianGrid stroke={CHART_THEME.grid} />
      <XAxis {...numberXAxis(model.xMax)} label={bottomLabel(`KV cache held, measured (${model.unit.name})`, -16)} />
      <YAxis type="number" dataKey="y" {...scoreAxis(model)} {...axisStyle()} label={sideLabel('Mean score')} />
      <Tooltip content={<TooltipBody />} cursor={{ strokeDasharray: '3 3', stroke: CHART_THEME.muted }} isAnimationActive={false} />
      {o.samples.map((s) =>
        markSeries(`samples-${s.method}`, `${s.method} samples`, s.points, false, (p) => ({
          r: 2,
          opacity: 0.3,
          color: colorOf(s.method),
          label: p.label,
          testId: 'pareto-sample',
          data: { series: s.method, cells: p.ids.length },
          onActivate: select(p),
        })),
      )}
      {model.frontier.length > 1 ? (
        <Scatter
          name="Pareto frontier"
          data={model.frontier}
          line={{ stroke: CHART_THEME.muted, strokeDasharray: '5 4', strokeWidth: 1.5 }}
          shape={NoShape}
          legendType="none"
          isAnimationActive={false}
          className="pareto-frontier"
        />
      ) : null}
      {o.showNominal
        ? model.nominal.map((s) =>
            markSeries(`nominal-${s.method}`, `${s.method} (nominal)`, s.points, o.animate, nominalMark(s.method, colorOf(s.method), select)),
          )
        : null}
      {model.measured.map((s) => (
        <Scatter
          key={`measured-${s.method}`}
          name={s.method}
          data={s.points}
          line={{ stroke: colorOf(s.method), strokeWidth: 1.5 }}
          isAnimationActive={o.animate}
          shape={markShape(measuredMark(s.method, colorOf(s.method), select))}
        >
          <ErrorBar dataKey="err" direction="y" stroke={colorOf(s.method)} width={4} isAnimationActive={false} />
        </Scatter>
      ))}
    </ScatterChart>
  );
}

/** A nominal budget: a hollow diamond naming its keep ratio. */
function nominalMark(method: string, color: string, select: ParetoChartOptions['select']) {
  return (p: Pt): MarkSpec => ({
    kind: 'diamond',
    hollow: true,
    r: 3.5,
    color,
    label: `${p.label}: ${formatPercent(p.group?.nominalRatio ?? Number.NaN)} of the full cache`,
    testId: 'pareto-nominal',
    data: { series: method, key: p.group?.key ?? '' },
    onActivate: select(p),
  });
}

/** A measured mean: a filled marker (a warning one when the group has sanity flags) naming its score and CI. */
function measuredMark(method: string, color: string, select: ParetoChartOptions['select']) {
  return (p: Pt): MarkSpec => {
    const g = p.group;
    return {
      color,
      warn: (g?.flags.length ?? 0) > 0,
      label: `${p.label}: ${formatFixed(p.y, 3)} ± ${formatFixed(g?.score.ci95 ?? Number.NaN, 3)}`,
      testId: 'pareto-point',
      data: { series: method, key: g?.key ?? '', budget: g?.budget ?? '', flags: g?.flags.join(' ') ?? '', cells: p.ids.length },
      onActivate: select(p),
    };
  };
}
