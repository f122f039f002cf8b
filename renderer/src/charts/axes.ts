/**
 * The axis, grid and tooltip settings the recharts charts share, as props to
 * spread onto recharts' own elements (`<XAxis {...layerXAxis()} />`): tick
 * labels and axis titles in the chart theme's text colour, the per-layer
 * category axis, the number axis of the x/y charts.
 */
import type { CartesianGridProps, TooltipProps, XAxisProps, YAxisProps } from 'recharts';
import { formatFixed, niceTicks, tickDigits, ticksFromZero } from '@kvlab/core';
import { CHART_THEME, TOOLTIP_STYLE } from './theme.ts';

/** An axis line in `stroke` (the axis colour unless given) with tick labels in the text colour. */
export function axisStyle(stroke: string = CHART_THEME.axis): { stroke: string; tick: { fill: string; fontSize: number } } {
  return { stroke, tick: { fill: CHART_THEME.text, fontSize: 11 } };
}

/** The title of an x axis, under it (`offset` below the axis line). */
export function bottomLabel(value: string, offset = -12): NonNullable<XAxisProps['label']> {
  return { value, position: 'insideBottom', offset, fill: CHART_THEME.text, fontSize: 12 };
}

/** The title of a y axis, rotated along the left axis (or the right one). */
export function sideLabel(value: string, side: 'left' | 'right' = 'left'): NonNullable<YAxisProps['label']> {
  return side === 'left'
    ? { value, angle: -90, position: 'insideLeft', fill: CHART_THEME.text, fontSize: 12 }
    : { value, angle: 90, position: 'insideRight', fill: CHART_THEME.text, fontSize: 12 };
}

/** The x axis of the per-layer bar charts: one category per layer (rows keyed `layer`). */
export function layerXAxis(): XAxisProps {
  return { dataKey: 'layer', ...axisStyle(), interval: 'preserveStartEnd', label: bottomLabel('Layer') };
}

/** Domain, ticks and labels of a number axis ticked at round steps (core's niceTicks), to spread onto an XAxis or YAxis. */
export interface RoundAxis {
  readonly domain: [number, number];
  readonly ticks: number[];
  readonly interval: 0;
  readonly tickFormatter: (v: number) => string;
}

/**
 * A number axis from `lo` to `hi` widened to round ticks (1, 2 or 5 × 10^k
 * apart), every tick shown (interval 0: recharts would otherwise drop some
 * to avoid overlap, which at ≤ 6 ticks only hides round numbers).
 */
export function roundAxis(lo: number, hi: number, maxTicks = 6): RoundAxis {
  const ticks = niceTicks(lo, hi, maxTicks);
  const digits = tickDigits(ticks);
  return { domain: [ticks[0] ?? lo, ticks.at(-1) ?? hi], ticks, interval: 0, tickFormatter: (v: number) => formatFixed(v, digits) };
}

/** roundAxis from 0 up to at least `max` (bytes, tokens, budgets). */
export function zeroAxis(max: number, maxTicks = 6): RoundAxis {
  const ticks = ticksFromZero(max, maxTicks);
  return roundAxis(0, ticks.at(-1) ?? 1, maxTicks);
}

/** A number x axis over the points' `x`, from 0 to a round tick at or above `max`. */
export function numberXAxis(max: number): XAxisProps {
  return { type: 'number', dataKey: 'x', ...zeroAxis(max), ...axisStyle() };
}

/** Horizontal grid lines only (the bar charts). */
export function rowGrid(): CartesianGridProps {
  return { stroke: CHART_THEME.grid, vertical: false };
}

/** recharts' own tooltip box in the theme, shown without animation. */
export function tooltipBox(): Pick<TooltipProps<number, string>, 'contentStyle' | 'isAnimationActive'> {
  return { contentStyle: TOOLTIP_STYLE, isAnimationActive: false };
}
