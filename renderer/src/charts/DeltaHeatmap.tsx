/**
 * The Δ-heatmap: method A's NIAH grid minus method B's (core's niahDelta),
 * on a diverging scale — blue where A recalls more, vermillion where B does,
 * white where they agree — symmetric around 0 so the sign reads at a glance.
 * The scale runs over ±1 (a score's whole range) by default so two Δ-maps
 * are comparable; `scale` narrows it to show small differences.
 */
import type { NiahDelta } from '@kvlab/core';
import { deltaColor, formatSigned } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useCallback, useMemo } from 'react';
import type { ChartProps } from './ChartFrame.tsx';
import { ChartFrame } from './ChartFrame.tsx';
import { HeatmapGrid, useDepthLengthClick } from './HeatmapGrid.tsx';

export interface DeltaHeatmapProps extends ChartProps {
  readonly delta: NiahDelta;
  /** Half-range of the colour scale. Default 1. */
  readonly scale?: number;
  readonly trainedLength?: number;
  /** The ids of the cells of BOTH methods at (depth, length), to open side by side. */
  readonly cellIds?: (depth: number, contextLength: number) => readonly string[];
  readonly onSelect?: (cellIds: readonly string[], label: string) => void;
}

const side = (s: { methodLabel: string; budget: string }): string => (s.budget === 'full' ? s.methodLabel : `${s.methodLabel} @ ${s.budget}`);
const format = (v: number): string => formatSigned(v, 2);

export function DeltaHeatmap(props: DeltaHeatmapProps): ReactNode {
  const { delta, cellIds, onSelect } = props;
  const m = props.scale && props.scale > 0 ? props.scale : 1;
  const title = props.title ?? `Δ ${side(delta.a)} − ${side(delta.b)}`;
  const scale = useMemo(() => ({ min: -m, max: m, format: (v: number) => formatSigned(v, 1), title: 'Δ mean score' }), [m]);
  const color = useCallback((v: number) => deltaColor(v, m), [m]);
  const tooltip = useCallback(
    (r: number, c: number, v: number | null): string =>
      `depth ${delta.depths[r] ?? ''}%, ${delta.lengths[c] ?? ''} tokens: ${v === null ? 'not in both' : `${side(delta.a)} − ${side(delta.b)} = ${formatSigned(v, 3)}`}`,
    [delta],
  );
  const click = useDepthLengthClick(delta.depths, delta.lengths, cellIds, onSelect, title);
  return (
    <ChartFrame
      testId={props.testId ?? 'delta-heatmap'}
      title={title}
      legend={[
        { label: `${side(delta.a)} better`, color: deltaColor(m, m) },
        { label: `${side(delta.b)} better`, color: deltaColor(-m, m) },
      ]}
      note={`Mean Δ ${formatSigned(delta.meanDelta, 3)} over the cells both ran; largest |Δ| ${delta.maxAbs.toFixed(2)}.`}
      {...(props.onExportPng ? { onExportPng: props.onExportPng } : {})}
    >
      <HeatmapGrid
        xValues={delta.lengths}
        yValues={delta.depths}
        values={delta.delta}
        color={color}
        format={format}
        scale={scale}
        tooltip={tooltip}
        cellTestId="delta-cell"
        {...(click ? { onCellClick: click } : {})}
        {...(props.trainedLength !== undefined ? { markX: props.trainedLength } : {})}
        {...(props.width !== undefined ? { width: props.width } : {})}
        {...(props.height !== undefined ? { height: props.height } : {})}
      />
    </ChartFrame>
  );
}
