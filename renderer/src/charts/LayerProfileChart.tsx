/**
 * A model's layer profile (the figures of the ZigZagKV paper): per layer the
 * LMBA (fewest tokens that keep τ of the attention mass) and the LMBO
 * (fewest tokens whose attention output stays within cosine τO of the full
 * output) as bars, and the layer uncertainty (LMBA share, ZigZagKV's U_l)
 * as a line on its own axis. Optional per-head spread as a min–max band.
 */
import { formatFixed } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useMemo } from 'react';
import { Bar, CartesianGrid, ComposedChart, Line, Tooltip, XAxis, YAxis } from 'recharts';
import { axisStyle, layerXAxis, rowGrid, sideLabel, tooltipBox, zeroAxis } from './axes.ts';
import type { AnimatedChartProps } from './ChartFrame.tsx';
import { ChartFrame } from './ChartFrame.tsx';
import { useChartWidth } from './use-width.ts';
import type { LegendEntry } from './export-png.ts';
import type { BarShapeProps } from './shapes.tsx';
import { barRect } from './shapes.tsx';
import { ANIMATION_MAX_POINTS } from './theme.ts';

export interface LayerProfileChartProps extends AnimatedChartProps {
  /** Per layer, tokens (mean over heads). */
  readonly lmba: readonly number[];
  readonly lmbo?: readonly number[];
  /** Per layer, a share (sums to 1 over layers, or LMBA / prompt length as the API reports it). */
  readonly uncertainty?: readonly number[];
  /** Per layer × query head LMBA: drawn as a min–max range per layer. */
  readonly lmbaPerHead?: readonly (readonly number[])[];
  readonly tau?: number;
  readonly tauO?: number;
}

export const PROFILE_COLORS = { lmba: '#0072B2', lmbo: '#E69F00', uncertainty: 'var(--fg, #111111)', heads: '#56B4E9' } as const;

const barMark = (series: string, color: string) =>
  function ProfileBar(b: BarShapeProps): ReactNode {
    const v = Array.isArray(b.value) ? Number(b.value[1]) - Number(b.value[0]) : Number(b.value);
    return (
      <rect data-testid="profile-bar" data-series={series} data-layer={b.index ?? -1} data-value={Number.isFinite(v) ? v : ''} {...barRect(b)} fill={color} />
    );
  };

export function LayerProfileChart(props: LayerProfileChartProps): ReactNode {
  const testId = props.testId ?? 'layer-profile-chart';
  const height = props.height ?? 300;
  const [box, width] = useChartWidth(props.width);
  const layers = props.lmba.length;
  const data = useProfileRows(props);
  const animate = props.animate ?? layers * 2 <= ANIMATION_MAX_POINTS;
  const tokenMax = Math.max(0, ...[...props.lmba, ...(props.lmbo ?? []), ...(props.lmbaPerHead ?? []).flat()].filter(Number.isFinite));
  const legend = profileLegend(props);
  const chart = (
    <ComposedChart width={width} height={height} data={data} margin={{ top: 8, right: 8, bottom: 24, left: 8 }} barCategoryGap="15%">
      <CartesianGrid {...rowGrid()} />
      <XAxis {...layerXAxis()} />
      <YAxis yAxisId="tokens" {...zeroAxis(tokenMax)} {...axisStyle()} label={sideLabel('Tokens')} />
      {props.uncertainty ? (
        <YAxis
          yAxisId="share"
          orientation="right"
          {...zeroAxis(Math.max(0, ...props.uncertainty.filter(Number.isFinite)))}
          {...axisStyle()}
          label={sideLabel('Uncertainty', 'right')}
        />
      ) : null}
      <Tooltip {...tooltipBox()} formatter={(v) => (Array.isArray(v) ? v.map((x) => formatFixed(Number(x), 1)).join('–') : formatFixed(Number(v), 3))} />
      <Bar yAxisId="tokens" dataKey="lmba" name="LMBA" fill={PROFILE_COLORS.lmba} isAnimationActive={animate} shape={barMark('LMBA', PROFILE_COLORS.lmba)} />
      {props.lmbo ? (
        <Bar yAxisId="tokens" dataKey="lmbo" name="LMBO" fill={PROFILE_COLORS.lmbo} isAnimationActive={animate} shape={barMark('LMBO', PROFILE_COLORS.lmbo)} />
      ) : null}
      {props.lmbaPerHead ? (
        <Bar
          yAxisId="tokens"
          dataKey="heads"
          name="LMBA per head (min–max)"
          fill={PROFILE_COLORS.heads}
          fillOpacity={0.45}
          isAnimationActive={false}
          shape={barMark('heads', PROFILE_COLORS.heads)}
        />
      ) : null}
      {props.uncertainty ? (
        <Line
          yAxisId="share"
          dataKey="uncertainty"
          name="uncertainty"
          stroke={PROFILE_COLORS.uncertainty}
          strokeWidth={2}
          dot={{ r: 2.5 }}
          isAnimationActive={false}
        />
      ) : null}
    </ComposedChart>
  );
  return (
    <ChartFrame testId={testId} title={props.title ?? 'Layer profile'} legend={legend} {...(props.onExportPng ? { onExportPng: props.onExportPng } : {})}>
      <div ref={box} style={{ width: '100%' }}>
        {chart}
      </div>
    </ChartFrame>
  );
}

/** One row per layer for recharts: its LMBA, LMBO, uncertainty and the [min, max] of its heads' LMBA (null where absent). */
function useProfileRows(props: LayerProfileChartProps) {
  const { lmba, lmbo, uncertainty, lmbaPerHead } = props;
  return useMemo(
    () =>
      Array.from({ length: lmba.length }, (_, l) => {
        const heads = lmbaPerHead?.[l] ?? [];
        return {
          layer: String(l),
          lmba: lmba[l] ?? null,
          lmbo: lmbo?.[l] ?? null,
          uncertainty: uncertainty?.[l] ?? null,
          heads: heads.length ? [Math.min(...heads), Math.max(...heads)] : null,
        };
      }),
    [lmba, lmbo, uncertainty, lmbaPerHead],
  );
}

/** The series shown, with τ and τO in their labels when given. */
function profileLegend(props: LayerProfileChartProps): LegendEntry[] {
  const tau = props.tau !== undefined ? ` (τ ${props.tau})` : '';
  const tauO = props.tauO !== undefined ? ` (τO ${props.tauO})` : '';
  return [
    { label: `LMBA${tau}`, color: PROFILE_COLORS.lmba },
    ...(props.lmbo ? [{ label: `LMBO${tauO}`, color: PROFILE_COLORS.lmbo }] : []),
    ...(props.lmbaPerHead ? [{ label: 'LMBA per-head range', color: PROFILE_COLORS.heads }] : []),
    ...(props.uncertainty ? [{ label: 'uncertainty (right axis)', color: PROFILE_COLORS.uncertainty, mark: 'line-circle' as const }] : []),
  ];
}
