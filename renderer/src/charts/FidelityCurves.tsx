/**
 * Fidelity against budget, one curve per compressed method (the CLI report's
 * "Fidelity" figures): ΔNLL (nats/token) or KL(full ‖ compressed) — or top-1
 * agreement — against the nominal keep ratio, with 95 % CI error bars.
 * Lower ΔNLL and KL are better. Click a point → `onSelect` with its cells.
 */
import type { FidelityChart, FidelityPoint } from '@kvlab/core';
import { formatBytesFixed, formatFixed, groupKey } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useMemo, useState } from 'react';
import { CartesianGrid, ErrorBar, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { axisStyle, bottomLabel, numberXAxis, roundAxis, sideLabel, zeroAxis } from './axes.ts';
import type { AnimatedChartProps } from './ChartFrame.tsx';
import { ChartFrame } from './ChartFrame.tsx';
import { useChartWidth } from './use-width.ts';
import type { LegendEntry } from './export-png.ts';
import type { ShapeProps } from './shapes.tsx';
import { Mark } from './shapes.tsx';
import { ANIMATION_MAX_POINTS, CHART_THEME, TOOLTIP_STYLE } from './theme.ts';

export type FidelityMetric = 'deltaNll' | 'kl' | 'top1';

export const FIDELITY_METRICS: Readonly<Record<FidelityMetric, string>> = {
  deltaNll: 'ΔNLL (nats/token)',
  kl: 'KL(full ‖ compressed)',
  top1: 'top-1 agreement',
};

export interface FidelityCurvesProps extends AnimatedChartProps {
  /** One (model, workload)'s curves (core's fidelityCharts). */
  readonly chart: FidelityChart;
  readonly colors: ReadonlyMap<string, string>;
  /** The metric shown first; a picker in the toolbar changes it. Default 'deltaNll'. */
  readonly metric?: FidelityMetric;
  /** Group key → cell ids (core's cellIdsByGroup), for clicks. */
  readonly cellIds?: ReadonlyMap<string, readonly string[]>;
  readonly onSelect?: (cellIds: readonly string[], label: string) => void;
}

interface Pt {
  readonly x: number;
  readonly y: number;
  /** Error bar below and above (the 95 % CI, clamped to the metric's range: ΔNLL and KL ≥ 0 on the axis, top-1 in [0, 1]). */
  readonly err: readonly [number, number];
  readonly p: FidelityPoint;
  readonly method: string;
  readonly ids: readonly string[];
}

function clampErr(y: number, ci: number, metric: FidelityMetric): readonly [number, number] {
  const c = Number.isFinite(ci) ? ci : 0;
  const below = Math.max(0, Math.min(c, y));
  return metric === 'top1' ? [below, Math.max(0, Math.min(c, 1 - y))] : [below, c];
}

function TooltipBody(props: { active?: boolean; payload?: readonly { payload?: unknown }[] }): ReactNode {
  const pt = props.active ? (props.payload?.[0]?.payload as Pt | undefined) : undefined;
  if (!pt) return null;
  return (
    <div style={TOOLTIP_STYLE}>
      <strong>
        {pt.method} @ {pt.p.budget}
      </strong>
      <div>
        ΔNLL {formatFixed(pt.p.deltaNll.mean, 4)} ± {formatFixed(pt.p.deltaNll.ci95, 4)}
      </div>
      <div>
        KL {formatFixed(pt.p.kl.mean, 4)} ± {formatFixed(pt.p.kl.ci95, 4)}
      </div>
      <div>top-1 {formatFixed(pt.p.top1.mean, 3)}</div>
      <div>
        keep {formatFixed(pt.x, 1)} % · held {formatBytesFixed(pt.p.heldBytes)} · n = {pt.p.deltaNll.n}
      </div>
    </div>
  );
}

export function FidelityCurves(props: FidelityCurvesProps): ReactNode {
  const [metric, setMetric] = useState<FidelityMetric>(props.metric ?? 'deltaNll');
  const testId = props.testId ?? 'fidelity-curves';
  const height = props.height ?? 300;
  const [box, width] = useChartWidth(props.width);
  const { chart } = props;
  const curves = useCurvePoints(chart, metric, props.cellIds);
  const drawn = curves.reduce((n, c) => n + c.points.length, 0);
  const animate = props.animate ?? drawn <= ANIMATION_MAX_POINTS;
  const colorOf = (m: string): string => props.colors.get(m) ?? '#000000';
  const legend: LegendEntry[] = curves.map((c) => ({ label: c.method, color: colorOf(c.method), mark: 'line-circle' }));
  const xMax = Math.max(0, ...curves.flatMap((c) => c.points.map((p) => p.x)).filter(Number.isFinite));

  const plot = (
    <LineChart width={width} height={height} margin={{ top: 8, right: 16, bottom: 24, left: 8 }}>
      <CartesianGrid stroke={CHART_THEME.grid} />
      <XAxis {...numberXAxis(xMax)} allowDuplicatedCategory={false} label={bottomLabel('Nominal budget (% of the prompt kept)')} />
      <YAxis type="number" {...metricDomain(curves, metric)} {...axisStyle()} label={sideLabel(FIDELITY_METRICS[metric])} />
      <Tooltip content={<TooltipBody />} isAnimationActive={false} />
      {curves.map((c) => (
        <Line
          key={c.method}
          data={c.points}
          dataKey="y"
          name={c.method}
          stroke={colorOf(c.method)}
          strokeWidth={1.8}
          isAnimationActive={animate}
          dot={pointMark({ method: c.method, color: colorOf(c.method), metric, onSelect: props.onSelect })}
        >
          <ErrorBar dataKey="err" direction="y" stroke={colorOf(c.method)} width={4} isAnimationActive={false} />
        </Line>
      ))}
    </LineChart>
  );

  return (
    <ChartFrame
      testId={testId}
      title={props.title ?? `Fidelity · ${chart.model} · ${chart.workload}`}
      legend={legend}
      {...(props.onExportPng ? { onExportPng: props.onExportPng } : {})}
      toolbar={<MetricPicker testId={`${testId}-metric`} metric={metric} onChange={setMetric} />}
      note={
        metric === 'top1' ? 'Share of positions whose argmax matches the full cache (higher is better).' : 'Lower is better; error bars: 95 % CI over samples.'
      }
    >
      <div ref={box} style={{ width: '100%' }}>
        {plot}
      </div>
    </ChartFrame>
  );
}

interface Curve {
  readonly method: string;
  readonly points: readonly Pt[];
}

/** Each method's points in the chosen metric, with their error bars and the cells behind them. */
function useCurvePoints(chart: FidelityChart, metric: FidelityMetric, cellIds: FidelityCurvesProps['cellIds']): Curve[] {
  return useMemo(
    () =>
      chart.curves.map((c) => ({
        method: c.methodLabel,
        points: c.points.map((p): Pt => ({
          x: p.nominalRatio * 100,
          y: p[metric].mean,
          err: clampErr(p[metric].mean, p[metric].ci95, metric),
          p,
          method: c.methodLabel,
          ids: cellIds?.get(groupKey(chart.model, chart.workload, c.methodLabel, p.budget)) ?? [],
        })),
      })),
    [chart, metric, cellIds],
  );
}

/** The y axis: [0, 1] for top-1; otherwise from 0 (or the lowest error bar, when ΔNLL dips below 0) to the highest error bar. */
function metricDomain(curves: readonly Curve[], metric: FidelityMetric) {
  if (metric === 'top1') return roundAxis(0, 1);
  const yMax = Math.max(0, ...curves.flatMap((c) => c.points.map((p) => p.y + p.err[1])).filter(Number.isFinite));
  // ΔNLL can dip below 0 (a compressed cache that happens to predict better): the axis reaches down to the lowest error bar.
  const yMin = Math.min(0, ...curves.flatMap((c) => c.points.map((p) => p.y - p.err[0])).filter(Number.isFinite));
  return yMin < 0 ? roundAxis(yMin, yMax) : zeroAxis(yMax);
}

/** recharts' dot renderer for one method's line: a mark that names its point and, where cells stand behind it, selects them. */
function pointMark(o: { method: string; color: string; metric: FidelityMetric; onSelect: FidelityCurvesProps['onSelect'] }) {
  return function FidelityPointMark(sp: ShapeProps): ReactNode {
    const pt = sp.payload as Pt;
    return (
      <Mark
        key={`${o.method}-${pt.p.budget}`}
        cx={sp.cx ?? 0}
        cy={sp.cy ?? 0}
        r={3.5}
        color={o.color}
        label={`${o.method} @ ${pt.p.budget}: ${formatFixed(pt.y, 4)} ± ${formatFixed(pt.p[o.metric].ci95, 4)}`}
        testId="fidelity-point"
        data={{ series: o.method, budget: pt.p.budget, value: pt.y }}
        onActivate={o.onSelect && pt.ids.length ? () => o.onSelect?.(pt.ids, `${o.method} @ ${pt.p.budget}`) : undefined}
      />
    );
  };
}

function MetricPicker({ testId, metric, onChange }: { testId: string; metric: FidelityMetric; onChange: (m: FidelityMetric) => void }) {
  return (
    <select aria-label="fidelity metric" data-testid={testId} value={metric} onChange={(e) => onChange(e.currentTarget.value as FidelityMetric)}>
      {(Object.keys(FIDELITY_METRICS) as FidelityMetric[]).map((m) => (
        <option key={m} value={m}>
          {FIDELITY_METRICS[m]}
        </option>
      ))}
    </select>
  );
}
