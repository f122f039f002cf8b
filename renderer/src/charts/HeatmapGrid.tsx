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

/** Where everything sits: the frame around the plot, the plot's size, one cell's size, and which labels fit. */
interface Layout {
  readonly rows: number;
  readonly cols: number;
  readonly width: number;
  readonly height: number;
  /** Margins around the plot: row labels left, colour bar right, column labels below. */
  readonly f: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number };
  readonly pw: number;
  readonly ph: number;
  readonly cw: number;
  readonly ch: number;
  /** Values print inside cells only when a cell is large enough to hold them. */
  readonly showValues: boolean;
  readonly fs: number;
  /** Every how many columns / rows an axis label is drawn, so labels do not overlap. */
  readonly xEvery: number;
  readonly yEvery: number;
}

function heatmapLayout(p: HeatmapGridProps): Layout {
  const rows = p.yValues.length;
  const cols = p.xValues.length;
  const width = p.width ?? 360;
  const height = p.height ?? Math.max(160, 64 + rows * 24);
  const f = { left: 48, right: 68, top: 8, bottom: 36 };
  const pw = width - f.left - f.right;
  const ph = height - f.top - f.bottom;
  const cw = pw / Math.max(1, cols);
  const ch = ph / Math.max(1, rows);
  return {
    rows,
    cols,
    width,
    height,
    f,
    pw,
    ph,
    cw,
    ch,
    showValues: cw >= 24 && ch >= 12,
    fs: Math.min(10, ch * 0.6, cw / 3.2),
    xEvery: Math.max(1, Math.ceil((cols * 30) / pw)),
    yEvery: Math.max(1, Math.ceil((rows * 11) / ph)),
  };
}

/** The x pixel of the marked column value: between column centres, interpolated on the token axis (as the report draws it). */
function markPixel(xValues: readonly number[], markX: number | undefined, l: Layout): number | undefined {
  if (markX === undefined || l.cols === 0) return undefined;
  const first = xValues[0] ?? 0;
  const last = xValues[l.cols - 1] ?? 0;
  if (markX <= first) return l.f.left;
  if (markX === last) return l.f.left + (l.cols - 0.5) * l.cw;
  let px: number | undefined;
  if (markX < last)
    for (let c = 0; c + 1 < l.cols; c++) {
      const a = xValues[c] ?? 0;
      const b = xValues[c + 1] ?? 0;
      if (markX >= a && markX <= b) px = l.f.left + (c + 0.5) * l.cw + ((markX - a) / (b - a || 1)) * l.cw;
    }
  return px;
}

function HeatmapGridImpl(p: HeatmapGridProps): ReactNode {
  const l = heatmapLayout(p);
  const markPx = markPixel(p.xValues, p.markX, l);
  const cells: ReactNode[] = [];
  for (let r = 0; r < l.rows; r++) for (let c = 0; c < l.cols; c++) cells.push(<HeatmapCell key={`${r},${c}`} p={p} l={l} r={r} c={c} />);
  return (
    <svg
      data-chart-svg=""
      viewBox={`0 0 ${l.width} ${l.height}`}
      width="100%"
      style={{ maxWidth: l.width, display: 'block', height: 'auto' }}
      role="img"
      aria-label={p.yLabel && p.xLabel ? `${p.yLabel} by ${p.xLabel}` : 'heatmap'}
      fontFamily="Helvetica, Arial, sans-serif"
      data-rows={l.rows}
      data-cols={l.cols}
    >
      <g className="cells">{cells}</g>
      <AxisLabels p={p} l={l} />
      {markPx !== undefined ? (
        <g data-testid="heatmap-mark">
          <title>{p.markLabel ?? `trained length ${p.markX} tokens`}</title>
          <line x1={markPx} y1={l.f.top - 3} x2={markPx} y2={l.f.top + l.ph + 3} stroke={CHART_THEME.overlay} strokeWidth={1.5} strokeDasharray="4 3" />
        </g>
      ) : null}
      <ColorBar p={p} l={l} />
    </svg>
  );
}

/** One cell: its colour, its value when it fits, a dashed outline when flagged; a button when clicks are wanted and it has a value. */
function HeatmapCell({ p, l, r, c }: { p: HeatmapGridProps; l: Layout; r: number; c: number }): ReactNode {
  const v = p.values[r]?.[c] ?? null;
  const ok = v !== null && Number.isFinite(v);
  const x = l.f.left + c * l.cw;
  const y = l.f.top + r * l.ch;
  const flagged = p.flagged?.has(`${r},${c}`) ?? false;
  const click = p.onCellClick && ok ? () => p.onCellClick?.(r, c) : undefined;
  const fill = ok ? p.color(v) : CHART_THEME.empty;
  return (
    <g
      data-testid={p.cellTestId ?? 'heatmap-cell'}
      data-x={p.xValues[c]}
      data-y={p.yValues[r]}
      data-value={ok ? String(Math.round(v * 100) / 100) : ''}
      data-flagged={flagged ? 'true' : undefined}
      {...(click ? buttonProps(click) : {})}
    >
      <title>{p.tooltip(r, c, ok ? v : null)}</title>
      <rect x={x} y={y} width={l.cw} height={l.ch} fill={fill} stroke={CHART_THEME.background} strokeWidth={1} />
      {flagged ? (
        <rect
          x={x + 2}
          y={y + 2}
          width={Math.max(0, l.cw - 4)}
          height={Math.max(0, l.ch - 4)}
          fill="none"
          stroke="var(--error, #b00020)"
          strokeWidth={1.5}
          strokeDasharray="3 2"
        />
      ) : null}
      {l.showValues ? (
        <text
          x={x + l.cw / 2}
          y={y + l.ch / 2 + l.fs * 0.35}
          textAnchor="middle"
          fontSize={l.fs}
          fill={ok ? textColorOn(fill) : '#1a1a1a'}
          pointerEvents="none"
        >
          {ok ? p.format(v) : '–'}
        </text>
      ) : null}
    </g>
  );
}

/** What makes an SVG group act as a button: focusable, clickable, and pressed with Enter or Space. */
function buttonProps(click: () => void) {
  return {
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
  };
}

/** Column values below, row values left (thinned so they do not overlap), and both axis titles. */
function AxisLabels({ p, l }: { p: HeatmapGridProps; l: Layout }): ReactNode {
  const { f } = l;
  return (
    <g fill={CHART_THEME.text} fontSize={9.5}>
      {p.xValues.map((v, c) =>
        c % l.xEvery === 0 ? (
          <text key={`x${c}`} x={f.left + (c + 0.5) * l.cw} y={l.height - f.bottom + 12} textAnchor="middle">
            {formatTokens(v)}
          </text>
        ) : null,
      )}
      {p.yValues.map((v, r) =>
        r % l.yEvery === 0 ? (
          <text key={`y${r}`} x={f.left - 4} y={f.top + (r + 0.5) * l.ch + 3.5} textAnchor="end">
            {Math.round(v * 100) / 100}
          </text>
        ) : null,
      )}
      <text x={f.left + l.pw / 2} y={l.height - 6} textAnchor="middle" fontSize={11}>
        {p.xLabel ?? 'Context length (tokens)'}
      </text>
      <text x={12} y={f.top + l.ph / 2} textAnchor="middle" fontSize={11} transform={`rotate(-90 12 ${f.top + l.ph / 2})`}>
        {p.yLabel ?? 'Needle depth (%)'}
      </text>
    </g>
  );
}

/** The colour scale right of the plot, top = max: 24 bands, three labels and its title. */
function ColorBar({ p, l }: { p: HeatmapGridProps; l: Layout }): ReactNode {
  const { f, ph } = l;
  const { scale } = p;
  const bands = 24;
  const bx = l.width - f.right + 8;
  const titleX = bx + 36;
  const titleY = f.top + ph / 2;
  return (
    <g className="colorbar">
      {Array.from({ length: bands }, (_, i) => {
        const v = scale.max - ((i + 0.5) / bands) * (scale.max - scale.min);
        return <rect key={i} x={bx} y={f.top + (i * ph) / bands} width={10} height={ph / bands + 0.3} fill={p.color(v)} />;
      })}
      <rect x={bx} y={f.top} width={10} height={ph} fill="none" stroke="#888888" strokeWidth={0.5} />
      <g fill={CHART_THEME.text} fontSize={9}>
        {[scale.max, (scale.min + scale.max) / 2, scale.min].map((t, i) => (
          <text key={i} x={bx + 13} y={f.top + ((scale.max - t) / (scale.max - scale.min || 1)) * ph + 3}>
            {scale.format(t)}
          </text>
        ))}
        <text x={titleX} y={titleY} textAnchor="middle" fontSize={10} transform={`rotate(90 ${titleX} ${titleY})`} data-testid="colorbar-title">
          {scale.title}
        </text>
      </g>
    </g>
  );
}

/** Memoised: a Compare screen shows one heatmap per method, and re-rendering all on every hover would be wasted work. */
export const HeatmapGrid = memo(HeatmapGridImpl);
