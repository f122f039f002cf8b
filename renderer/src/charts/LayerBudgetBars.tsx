/**
 * Per-layer budgets (tokens per KV head) of several allocators side by side,
 * one bar group per layer, with an optional LMBA line on its own axis — the
 * CLI report's "Per-layer budgets" figure — and an editable mode: a "custom"
 * allocation whose bars the user drags (or nudges with the arrow keys) to
 * set a layer's budget. Every edit conserves the total: the other layers
 * give or take the difference in proportion to what they hold
 * (budget-edit.ts, core's conserveTotal), and `onChange` receives the new
 * budgets. The parent owns the budgets (controlled component).
 */
import { formatFixed } from '@kvlab/core';
import type { KeyboardEvent, PointerEvent as ReactPointerEvent, ReactNode } from 'react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Bar, CartesianGrid, ComposedChart, Line, Tooltip, XAxis, YAxis } from 'recharts';
import { axisStyle, layerXAxis, rowGrid, sideLabel, tooltipBox, zeroAxis } from './axes.ts';
import type { BudgetBounds } from './budget-edit.ts';
import { redistribute } from './budget-edit.ts';
import type { AnimatedChartProps } from './ChartFrame.tsx';
import { ChartFrame } from './ChartFrame.tsx';
import { useChartWidth } from './use-width.ts';
import type { LegendEntry } from './export-png.ts';
import type { BarShapeProps } from './shapes.tsx';
import { barRect } from './shapes.tsx';
import { ANIMATION_MAX_POINTS, CHART_THEME } from './theme.ts';

export interface BudgetSeries {
  readonly name: string;
  readonly color: string;
  /** Tokens per KV head, per layer. */
  readonly budgets: readonly number[];
}

export interface EditableBudgets extends BudgetBounds {
  /** Default 'custom'. */
  readonly name?: string;
  readonly color?: string;
  /** Integers; their sum is the total every edit conserves. */
  readonly budgets: readonly number[];
  readonly onChange: (budgets: number[]) => void;
}

export interface LayerBudgetBarsProps extends AnimatedChartProps {
  readonly series: readonly BudgetSeries[];
  /** Per-layer LMBA (tokens), drawn as a line on the right-hand axis. */
  readonly lmba?: readonly number[];
  readonly lmbaLabel?: string;
  readonly editable?: EditableBudgets;
}

/** What recharts passes a Bar's custom shape, with the column's background box. */
interface BarShape extends BarShapeProps {
  readonly background?:
    | {
        readonly x?: number | null | undefined;
        readonly y?: number | null | undefined;
        readonly width?: number | null | undefined;
        readonly height?: number | null | undefined;
      }
    | undefined;
}

interface Drag {
  readonly index: number;
  readonly svg: SVGSVGElement;
  readonly top: number;
  readonly height: number;
  readonly yMax: number;
}

/** A "nice" axis maximum at or above v (1, 2, 2.5, 5 × 10^k); the chart's own axis now ends on core's round ticks (axes.ts zeroAxis). */
export function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 2.5, 5, 10].find((m) => m * mag >= v - 1e-9) ?? 10) * mag;
}

/** The y coordinate of a pointer in the SVG's user units (recharts draws at 1 unit = 1 CSS px, but a scaled container may not). */
function svgY(svg: SVGSVGElement, clientX: number, clientY: number): number {
  const ctm = typeof svg.getScreenCTM === 'function' ? svg.getScreenCTM() : null;
  if (ctm && typeof DOMPoint === 'function') return new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse()).y;
  const r = svg.getBoundingClientRect();
  const vb = svg.viewBox?.baseVal;
  const k = vb && vb.height > 0 && r.height > 0 ? vb.height / r.height : 1;
  return (clientY - r.top) * k;
}

export function LayerBudgetBars(props: LayerBudgetBarsProps): ReactNode {
  const testId = props.testId ?? 'layer-budget-bars';
  const height = props.height ?? 320;
  const [box, width] = useChartWidth(props.width);
  const ed = props.editable;
  const customName = ed?.name ?? 'custom';
  const customColor = ed?.color ?? 'var(--accent, #2f6fde)';
  const { drag, startDrag, nudge } = useBudgetDrag(ed);
  const layers = Math.max(0, ...props.series.map((s) => s.budgets.length), ed?.budgets.length ?? 0, props.lmba?.length ?? 0);
  const data = useBudgetRows(props, layers);
  // The axis ends on the round tick at or above the tallest bar (plus a little headroom to drag a bar up into).
  const computedMax = useMemo(
    () =>
      zeroAxis(Math.max(0, ...props.series.flatMap((s) => s.budgets).filter(Number.isFinite), ...(ed?.budgets ?? []).filter(Number.isFinite)) * 1.05).domain[1],
    [props.series, ed],
  );
  // While dragging the axis stays put, or the bar would run away from the pointer.
  const yMax = drag?.yMax ?? computedMax;
  const drawn = layers * (props.series.length + (ed ? 1 : 0));
  const animate = (props.animate ?? drawn <= ANIMATION_MAX_POINTS) && !drag;
  const total = ed ? ed.budgets.reduce((a, b) => a + b, 0) : 0;
  const custom = customMark({
    name: customName,
    color: customColor,
    bounds: ed,
    total,
    dragged: drag?.index,
    start: (d) => startDrag({ ...d, yMax: computedMax }),
    nudge,
  });

  const chart = budgetChart({ props, width, height, data, yMax, animate, dragging: drag !== null, customName, customColor, custom });

  return (
    <ChartFrame
      testId={testId}
      title={props.title ?? 'Per-layer budgets'}
      legend={budgetLegend(props, customName, customColor)}
      {...(props.onExportPng ? { onExportPng: props.onExportPng } : {})}
      {...(ed ? editFrame(testId, ed.budgets.length, total) : {})}
    >
      <div ref={box} style={{ width: '100%' }}>
        {chart}
      </div>
    </ChartFrame>
  );
}

interface BudgetChartOptions {
  readonly props: LayerBudgetBarsProps;
  readonly width: number;
  readonly height: number;
  readonly data: readonly Record<string, number | string | null>[];
  readonly yMax: number;
  readonly animate: boolean;
  /** A bar is being dragged: the chart shows no tooltip meanwhile. */
  readonly dragging: boolean;
  readonly customName: string;
  readonly customColor: string;
  readonly custom: ReturnType<typeof customMark>;
}

/** The recharts chart: the series' bars, the custom bars and the LMBA line on its own axis (recharts wants them as direct children). */
function budgetChart(o: BudgetChartOptions): ReactNode {
  const { props } = o;
  return (
    <ComposedChart width={o.width} height={o.height} data={o.data} margin={{ top: 8, right: props.lmba ? 8 : 16, bottom: 24, left: 8 }} barCategoryGap="15%">
      <CartesianGrid {...rowGrid()} />
      <XAxis {...layerXAxis()} />
      <YAxis yAxisId="budget" {...zeroAxis(o.yMax)} allowDataOverflow {...axisStyle()} label={sideLabel('Tokens per KV head')} />
      {props.lmba ? (
        <YAxis
          yAxisId="lmba"
          orientation="right"
          {...zeroAxis(Math.max(0, ...props.lmba.filter(Number.isFinite)))}
          {...axisStyle(CHART_THEME.overlay)}
          label={sideLabel(`${props.lmbaLabel ?? 'LMBA'} (tokens)`, 'right')}
        />
      ) : null}
      {o.dragging ? null : <Tooltip {...tooltipBox()} formatter={(v) => (typeof v === 'number' ? formatFixed(v, 1) : String(v))} />}
      {props.series.map((s, i) => (
        <Bar
          key={`s${i}`}
          yAxisId="budget"
          dataKey={`s${i}`}
          name={s.name}
          fill={s.color}
          isAnimationActive={o.animate}
          shape={seriesMark(s.name, s.color, i)}
        />
      ))}
      {props.editable ? <Bar yAxisId="budget" dataKey="custom" name={o.customName} fill={o.customColor} isAnimationActive={false} shape={o.custom} /> : null}
      {props.lmba ? (
        <Line
          yAxisId="lmba"
          dataKey="lmba"
          name={props.lmbaLabel ?? 'LMBA'}
          stroke={CHART_THEME.overlay}
          strokeWidth={2}
          isAnimationActive={false}
          dot={{ r: 3, fill: CHART_THEME.overlay, stroke: CHART_THEME.overlay }}
          className="lmba-overlay"
        />
      ) : null}
    </ComposedChart>
  );
}

/** One row per layer for recharts: s0, s1, … per series, then the custom budgets and the LMBA (null where a series has no such layer). */
function useBudgetRows(props: LayerBudgetBarsProps, layers: number) {
  const { series, editable: ed, lmba } = props;
  return useMemo(
    () =>
      Array.from({ length: layers }, (_, l) => {
        const row: Record<string, number | string | null> = { layer: String(l) };
        series.forEach((s, i) => (row[`s${i}`] = s.budgets[l] ?? null));
        if (ed) row['custom'] = ed.budgets[l] ?? null;
        if (lmba) row['lmba'] = lmba[l] ?? null;
        return row;
      }),
    [layers, series, ed, lmba],
  );
}

/**
 * Editing the custom bars: a drag follows the pointer through window listeners until it is released
 * (each move sets the layer's budget from the pointer's height, the other layers absorbing the
 * difference), and `nudge` moves one layer by a step from the keyboard.
 */
function useBudgetDrag(ed: EditableBudgets | undefined) {
  const [drag, setDrag] = useState<Drag | null>(null);
  // The latest budgets and callback, read by the window listeners of a drag in progress.
  const live = useRef(ed);
  live.current = ed;
  useEffect(() => {
    if (!drag) return undefined;
    const move = (e: PointerEvent): void => {
      const cur = live.current;
      if (!cur) return;
      const y = svgY(drag.svg, e.clientX, e.clientY);
      const value = (drag.yMax * (drag.top + drag.height - y)) / drag.height;
      const next = redistribute(cur.budgets, drag.index, value, cur);
      if (next.some((v, i) => v !== cur.budgets[i])) cur.onChange(next);
    };
    const end = (): void => setDrag(null);
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', end);
    window.addEventListener('pointercancel', end);
    return () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', end);
      window.removeEventListener('pointercancel', end);
    };
  }, [drag]);
  const nudge = (index: number, by: number): void => {
    const cur = live.current;
    if (!cur) return;
    const next = redistribute(cur.budgets, index, (cur.budgets[index] ?? 0) + by, cur);
    if (next.some((v, i) => v !== cur.budgets[i])) cur.onChange(next);
  };
  return { drag, startDrag: setDrag, nudge };
}

function budgetLegend(props: LayerBudgetBarsProps, customName: string, customColor: string): LegendEntry[] {
  return [
    ...props.series.map((s) => ({ label: s.name, color: s.color })),
    ...(props.editable ? [{ label: `${customName} (drag to edit)`, color: customColor }] : []),
    ...(props.lmba ? [{ label: `${props.lmbaLabel ?? 'LMBA'} (right axis)`, color: CHART_THEME.overlay, mark: 'line-circle' as const }] : []),
  ];
}

/** The frame's total (which every edit conserves) and how to edit, when the chart is editable. */
function editFrame(testId: string, layers: number, total: number): { toolbar: ReactNode; note: string } {
  return {
    toolbar: (
      <span data-testid={`${testId}-total`} data-total={total} style={{ fontSize: 12 }}>
        total {total} tokens per KV head over {layers} layers
      </span>
    ),
    note: 'Drag a custom bar (or focus it and press ↑/↓, PgUp/PgDn) to set that layer; the other layers absorb the difference, so the total stays fixed.',
  };
}

/** recharts' bar shape for a fixed series: a rect that names its series, layer and value. */
function seriesMark(name: string, color: string, seriesIndex: number) {
  return function BarMark(b: BarShape): ReactNode {
    const v = typeof b.value === 'number' ? b.value : Number(b.value);
    return (
      <rect
        data-testid="budget-bar"
        data-series={name}
        data-layer={b.index ?? -1}
        data-value={Number.isFinite(v) ? v : ''}
        data-series-index={seriesIndex}
        {...barRect(b)}
        fill={color}
      >
        <title>{`${name}, layer ${b.index ?? ''}: ${formatFixed(v, 1)}`}</title>
      </rect>
    );
  };
}

interface CustomMarkOptions {
  readonly name: string;
  readonly color: string;
  /** The editable budgets' bounds (aria-valuemin/max). */
  readonly bounds: EditableBudgets | undefined;
  readonly total: number;
  /** The layer being dragged, drawn emphasised. */
  readonly dragged: number | undefined;
  /** Starts a drag of a layer from the column's box (its top and height in SVG units). */
  readonly start: (d: Omit<Drag, 'yMax'>) => void;
  readonly nudge: (index: number, by: number) => void;
}

/** recharts' bar shape for the custom series: a slider over the whole column, dragged with the pointer or moved with the arrow keys. */
function customMark(o: CustomMarkOptions) {
  return function CustomMark(b: BarShape): ReactNode {
    const index = b.index ?? 0;
    const v = typeof b.value === 'number' ? b.value : Number(b.value);
    const start = (e: ReactPointerEvent<SVGRectElement>): void => {
      const svg = e.currentTarget.ownerSVGElement;
      const bg = b.background;
      if (!svg || !bg || !(bg.height && bg.height > 0)) return;
      e.preventDefault();
      o.start({ index, svg, top: bg.y ?? 0, height: bg.height });
    };
    const key = (e: KeyboardEvent<SVGGElement>): void => {
      const step = e.key === 'ArrowUp' ? 1 : e.key === 'ArrowDown' ? -1 : e.key === 'PageUp' ? 10 : e.key === 'PageDown' ? -10 : 0;
      if (!step) return;
      e.preventDefault();
      o.nudge(index, step);
    };
    // The grab area spans the whole column height so a short bar is still easy to catch.
    const bg = b.background;
    return (
      <g
        data-testid="budget-bar-custom"
        data-layer={index}
        data-value={Number.isFinite(v) ? v : ''}
        role="slider"
        tabIndex={0}
        aria-label={`${o.name} budget, layer ${index}`}
        aria-valuenow={Number.isFinite(v) ? v : 0}
        aria-valuemin={o.bounds?.min ?? 1}
        aria-valuemax={o.bounds?.max ?? o.total}
        onKeyDown={key}
        style={{ cursor: 'ns-resize', outline: 'none' }}
      >
        <title>{`${o.name}, layer ${index}: ${formatFixed(v, 0)} (drag or use ↑/↓; the total stays ${o.total})`}</title>
        {bg ? <rect x={b.x ?? 0} y={bg.y ?? 0} width={Math.max(0.5, b.width ?? 0)} height={bg.height ?? 0} fill="transparent" onPointerDown={start} /> : null}
        <rect
          {...barRect(b)}
          fill={o.color}
          fillOpacity={o.dragged === index ? 1 : 0.85}
          stroke={CHART_THEME.overlay}
          strokeWidth={o.dragged === index ? 1.5 : 0}
          onPointerDown={start}
        />
      </g>
    );
  };
}
