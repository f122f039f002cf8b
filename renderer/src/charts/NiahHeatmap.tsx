/**
 * One NIAH heatmap (context length × needle depth → mean score) for one
 * method at one budget, in the field's convention (gkamradt's
 * LLMTest_NeedleInAHaystack and KVCache-Factory): depth down (0 at the top),
 * length across, viridis for 0 → 1 (dark purple → yellow, colour-blind safe) —
 * core's niahColor, the CLI report's colours — and a dashed line at the
 * model's trained length. Click a
 * cell → `onSelect` with the cells (samples) it averages.
 */
import type { NiahGrid } from '@kvlab/core';
import { niahColor } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useCallback, useMemo } from 'react';
import type { ChartProps } from './ChartFrame.tsx';
import { ChartFrame } from './ChartFrame.tsx';
import { HeatmapGrid, useDepthLengthClick } from './HeatmapGrid.tsx';

export interface NiahHeatmapProps extends ChartProps {
  readonly grid: NiahGrid;
  /** The model's trained context length in tokens (the dashed line), when known. */
  readonly trainedLength?: number;
  /** The ids of the cells behind (depth, length) (core's niahCellIds). */
  readonly cellIds?: (depth: number, contextLength: number) => readonly string[];
  readonly onSelect?: (cellIds: readonly string[], label: string) => void;
  /** "depth,length" pairs whose cells carry a sanity warning: outlined. */
  readonly flagged?: ReadonlySet<string>;
}

const SCORE_SCALE = { min: 0, max: 1, format: (v: number): string => v.toFixed(1), title: 'Mean score' };
const color = (v: number): string => niahColor(v, 0, 1);
const format = (v: number): string => v.toFixed(2);

export function niahTitle(g: Pick<NiahGrid, 'methodLabel' | 'budget'>): string {
  return g.budget === 'full' ? g.methodLabel : `${g.methodLabel} @ ${g.budget}`;
}

export function NiahHeatmap(props: NiahHeatmapProps): ReactNode {
  const { grid, cellIds, onSelect } = props;
  const title = props.title ?? niahTitle(grid);
  const flaggedIdx = useMemo(() => {
    if (!props.flagged) return undefined;
    const s = new Set<string>();
    grid.depths.forEach((d, r) => grid.lengths.forEach((l, c) => props.flagged?.has(`${d},${l}`) && s.add(`${r},${c}`)));
    return s;
  }, [grid, props.flagged]);
  const tooltip = useCallback(
    (r: number, c: number, v: number | null): string =>
      `${title} · depth ${grid.depths[r] ?? ''}%, ${grid.lengths[c] ?? ''} tokens: ${v === null ? 'no sample' : `${v.toFixed(2)} (${grid.count[r]?.[c] ?? 0} sample${grid.count[r]?.[c] === 1 ? '' : 's'})`}`,
    [grid, title],
  );
  const click = useDepthLengthClick(grid.depths, grid.lengths, cellIds, onSelect, title);
  return (
    <ChartFrame testId={props.testId ?? 'niah-heatmap'} title={title} {...(props.onExportPng ? { onExportPng: props.onExportPng } : {})}>
      <HeatmapGrid
        xValues={grid.lengths}
        yValues={grid.depths}
        values={grid.mean}
        color={color}
        format={format}
        scale={SCORE_SCALE}
        tooltip={tooltip}
        {...(click ? { onCellClick: click } : {})}
        {...(props.trainedLength !== undefined ? { markX: props.trainedLength, markLabel: `trained length ${props.trainedLength} tokens` } : {})}
        {...(flaggedIdx ? { flagged: flaggedIdx } : {})}
        {...(props.width !== undefined ? { width: props.width } : {})}
        {...(props.height !== undefined ? { height: props.height } : {})}
      />
    </ChartFrame>
  );
}
