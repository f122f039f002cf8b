/**
 * A heatmap drawn as plain SVG (recharts has no heatmap): rows top to bottom,
 * columns left to right, one rect per cell with its value printed when it
 * fits, a colour bar, and a dashed line at a marked column value (the
 * model's trained context length). It follows the CLI report's heatmap
 * (electron/reports/svg.ts `heatmap`): same layout, same colour function.
 *
 * The SVG scales to its container (viewBox + width 100 %), so it needs no
 * ResizeObserver; cells are clickable and focusable.
 */
import type { KeyboardEvent, ReactNode } from 'react';
import { memo, useCallback } from 'react';
import { formatTokens, textColorOn } from '@kvlab/core';
import { CHART_THEME } from './theme.ts';

export interface HeatmapGridProps {
  /** Column values (context lengths, tokens), ascending. */
  readonly xValues: readonly number[];
  /** Row values (needle depth %), ascending, drawn top to bottom. */
  readonly yValues: readonly number[];
  /** values[row][column]; null is an empty (grey) cell. */
  readonly values: readonly (readonly (number | null)[])[];
  readonly color: (v: number) => string;
  readonly format: (v: number) => string;
  /** Colour bar: its range, labels and title (what the colour measures, e.g. "Mean score"). */
  readonly scale: { readonly min: number; readonly max: number; readonly format: (v: number) => string; readonly title: string };
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** A dashed vertical line at this column value (interpolated between columns), e.g. the trained length. */
  readonly markX?: number;
  readonly markLabel?: string;
  /** Cells to outline as flagged (sanity warnings), as "row,column" indices. */
  readonly flagged?: ReadonlySet<string>;
  readonly tooltip: (row: number, col: number, v: number | null) => string;
  readonly onCellClick?: (row: number, col: number) => void;
  readonly width?: number;
  readonly height?: number;
  /** data-testid of each cell (default 'heatmap-cell'). */
  readonly cellTestId?: string;
}

/**
 * The cell click of a NIAH-shaped grid (rows: needle depths, columns: context
 * lengths): the ids of the cells behind (depth, length) go to `onSelect`,
 * labelled "title · depth d%, l tokens". Undefined (cells not clickable)
 * unless both cellIds and onSelect are given.
 */
export function useDepthLengthClick(
  depths: readonly number[],
  lengths: readonly number[],
  cellIds: ((depth: number, contextLength: number) => readonly string[]) | undefined,
  onSelect: ((cellIds: readonly string[], label: string) => void) | undefined,
  title: string,
): ((row: number, col: number) => void) | undefined {
  const click = useCallback(
    (r: number, c: number): void => {
      const d = depths[r];
      const l = lengths[c];
      if (d === undefined || l === undefined || !cellIds || !onSelect) return;
      onSelect(cellIds(d, l), `${title} · depth ${d}%, ${l} tokens`);
    },
    [depths, lengths, cellIds, onSelect, title],
  );
  return onSelect && cellIds ? click : undefined;
}

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
function HeatmapGridImpl(p: HeatmapGridProps): ReactNode {
  const rows = p.yValues.length;
  const cols = p.xValues.length;
  const width = p.width ?? 360;
  const height = p.height ?? Math.max(160, 64 + rows * 24);
  const f = { left: 48, right: 68, top: 8, bottom: 36 };
  const pw = width - f.left - f.right;
  const ph = height - f.top - f.bottom;
  const cw = pw / Math.max(1, cols);
  const ch = ph / Math.max(1, rows);
  const showValues = cw >= 24 && ch >= 12;
  const fs = Math.min(10, ch * 0.6, cw / 3.2);
  const xEvery = Math.max(1, Math.ceil((cols * 30) / pw));
  const yEvery = Math.max(1, Math.ceil((rows * 11) / ph));
  const cells: ReactNode[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = p.values[r]?.[c] ?? null;
      const ok = v !== null && Number.isFinite(v);
      const x = f.left + c * cw;
      const y = f.top + r * ch;
      const flagged = p.flagged?.has(`${r},${c}`) ?? false;
      const click = p.onCellClick && ok ? () => p.onCellClick?.(r, c) : undefined;
      const fill = ok ? p.color(v) : CHART_THEME.empty;
      cells.push(
        <g
          key={`${r},${c}`}
          data-testid={p.cellTestId ?? 'heatmap-cell'}
          data-x={p.xValues[c]}
          data-y={p.yValues[r]}
          data-value={ok ? String(Math.round(v * 100) / 100) : ''}
          data-flagged={flagged ? 'true' : undefined}
          {...(click
            ? {
                role: 'button',
                tabIndex: 0,
                style: { cursor: 'pointer' },
                onClick: click,
                onKeyDown: (e: KeyboardEvent) => {
                  if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    click();
                  }
                },
              }
            : {})}
        >
          <title>{p.tooltip(r, c, ok ? v : null)}</title>
          <rect x={x} y={y} width={cw} height={ch} fill={fill} stroke={CHART_THEME.background} strokeWidth={1} />
          {flagged ? (
            <rect
              x={x + 2}
              y={y + 2}
              width={Math.max(0, cw - 4)}
              height={Math.max(0, ch - 4)}
              fill="none"
              stroke="var(--error, #b00020)"
              strokeWidth={1.5}
              strokeDasharray="3 2"
            />
          ) : null}
          {showValues ? (
            <text x={x + cw / 2} y={y + ch / 2 + fs * 0.35} textAnchor="middle" fontSize={fs} fill={ok ? textColorOn(fill) : '#1a1a1a'} pointerEvents="none">
              {ok ? p.format(v) : '–'}
            </text>
          ) : null}
        </g>,
      );
    }
  }
  // Trained-length line between column centres, interpolated on the token axis (as the report draws it).
  let markPx: number | undefined;
  if (p.markX !== undefined && cols > 0) {
    const first = p.xValues[0] ?? 0;
    const last = p.xValues[cols - 1] ?? 0;
    if (p.markX <= first) markPx = f.left;
    else if (p.markX === last) markPx = f.left + (cols - 0.5) * cw;
    else if (p.markX < last)
      for (let c = 0; c + 1 < cols; c++) {
        const a = p.xValues[c] ?? 0;
        const b = p.xValues[c + 1] ?? 0;
        if (p.markX >= a && p.markX <= b) markPx = f.left + (c + 0.5) * cw + ((p.markX - a) / (b - a || 1)) * cw;
      }
  }
  const bands = 24;
  const bx = width - f.right + 8;
  const titleX = bx + 36;
  const titleY = f.top + ph / 2;
  return (
    <svg
      data-chart-svg=""
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      style={{ maxWidth: width, display: 'block', height: 'auto' }}
      role="img"
      aria-label={p.yLabel && p.xLabel ? `${p.yLabel} by ${p.xLabel}` : 'heatmap'}
      fontFamily="Helvetica, Arial, sans-serif"
      data-rows={rows}
      data-cols={cols}
    >
      <g className="cells">{cells}</g>
      <g fill={CHART_THEME.text} fontSize={9.5}>
        {p.xValues.map((v, c) =>
          c % xEvery === 0 ? (
            <text key={`x${c}`} x={f.left + (c + 0.5) * cw} y={height - f.bottom + 12} textAnchor="middle">
              {formatTokens(v)}
            </text>
          ) : null,
        )}
        {p.yValues.map((v, r) =>
          r % yEvery === 0 ? (
            <text key={`y${r}`} x={f.left - 4} y={f.top + (r + 0.5) * ch + 3.5} textAnchor="end">
              {Math.round(v * 100) / 100}
            </text>
          ) : null,
        )}
        <text x={f.left + pw / 2} y={height - 6} textAnchor="middle" fontSize={11}>
          {p.xLabel ?? 'Context length (tokens)'}
        </text>
        <text x={12} y={f.top + ph / 2} textAnchor="middle" fontSize={11} transform={`rotate(-90 12 ${f.top + ph / 2})`}>
          {p.yLabel ?? 'Needle depth (%)'}
        </text>
      </g>
      {markPx !== undefined ? (
        <g data-testid="heatmap-mark">
          <title>{p.markLabel ?? `trained length ${p.markX} tokens`}</title>
          <line x1={markPx} y1={f.top - 3} x2={markPx} y2={f.top + ph + 3} stroke={CHART_THEME.overlay} strokeWidth={1.5} strokeDasharray="4 3" />
        </g>
      ) : null}
      <g className="colorbar">
        {Array.from({ length: bands }, (_, i) => {
          const v = p.scale.max - ((i + 0.5) / bands) * (p.scale.max - p.scale.min);
          return <rect key={i} x={bx} y={f.top + (i * ph) / bands} width={10} height={ph / bands + 0.3} fill={p.color(v)} />;
        })}
        <rect x={bx} y={f.top} width={10} height={ph} fill="none" stroke="#888888" strokeWidth={0.5} />
        <g fill={CHART_THEME.text} fontSize={9}>
          {[p.scale.max, (p.scale.min + p.scale.max) / 2, p.scale.min].map((t, i) => (
            <text key={i} x={bx + 13} y={f.top + ((p.scale.max - t) / (p.scale.max - p.scale.min || 1)) * ph + 3}>
              {p.scale.format(t)}
            </text>
          ))}
          <text x={titleX} y={titleY} textAnchor="middle" fontSize={10} transform={`rotate(90 ${titleX} ${titleY})`} data-testid="colorbar-title">
            {p.scale.title}
          </text>
        </g>
      </g>
    </svg>
  );
}

/** Memoised: a Compare screen shows one heatmap per method, and re-rendering all on every hover would be wasted work. */
export const HeatmapGrid = memo(HeatmapGridImpl);
