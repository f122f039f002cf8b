/**
 * Small, dependency-free SVG chart writers for the static report.
 *
 * Why hand-written: the report must be ONE self-contained HTML file with
 * inline SVG and no JavaScript, so that it opens anywhere, prints to PDF and
 * can be attached to a paper's supplementary material. recharts (the app's
 * chart library) is a React renderer that draws in a live DOM; it is not a
 * static SVG emitter, and server-rendering React just for three chart types
 * would pull React into the CLI. The three charts below need only axes,
 * ticks, markers, rectangles and text.
 *
 * Every function returns a string and is deterministic: the same input gives
 * byte-identical output (fixed number formatting, input order preserved, no
 * ids, no clock). All text goes through `esc`. Elements carry classes and
 * data-* attributes (`g.series[data-series]`, `.point`, `rect.cell`,
 * `rect.bar`) so tests and the app can query them.
 */
import { formatTokens, NO_VALUE, niahColor, niceTicks as roundTicks, textColorOn, tickDigits } from '@kvlab/core';

/** Escapes text for SVG/HTML content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A coordinate with at most two decimals (−0 printed as 0). */
export function n2(x: number): string {
  const r = Math.round(x * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

// ---------------------------------------------------------------------------
// Scales and ticks

/** Round ticks covering [min, max] (core's niceTicks: 1, 2 or 5 × 10^k steps, at most target + 1 ticks), and the decimals their labels need. */
export function niceTicks(min: number, max: number, target = 5): { ticks: number[]; decimals: number; lo: number; hi: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { ticks: [0, 1], decimals: 0, lo: 0, hi: 1 };
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const ticks = roundTicks(min, max, Math.max(1, target) + 1);
  return { ticks, decimals: tickDigits(ticks), lo: ticks[0] ?? min, hi: ticks.at(-1) ?? max };
}

const fmtTick = (v: number, decimals: number): string => {
  const s = v.toFixed(decimals);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
};

const scale =
  (d0: number, d1: number, r0: number, r1: number) =>
  (v: number): number =>
    d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);

/** Rough text width (SVG has no text metrics without a layout engine): 0.58 em per character. */
const textWidth = (s: string, fontSize: number): number => s.length * fontSize * 0.58;

const text = (x: number, y: number, s: string, attrs = ''): string => `<text x="${n2(x)}" y="${n2(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;

function truncate(s: string, maxWidth: number, fontSize: number): string {
  if (textWidth(s, fontSize) <= maxWidth) return s;
  const keep = Math.max(1, Math.floor(maxWidth / (fontSize * 0.58)) - 1);
  return `${s.slice(0, keep)}…`;
}

// ---------------------------------------------------------------------------
// Markers

export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle';

export interface MarkerOptions {
  readonly shape: MarkerShape;
  readonly x: number;
  readonly y: number;
  readonly color: string;
  /** Draws the outline only. */
  readonly hollow?: boolean;
  /** Radius (a diamond's or triangle's half-diagonal is 1.3 r). */
  readonly r?: number;
  /** Extra attributes, written after the class. */
  readonly extra?: string;
}

/** A marker at (x, y). Carries class "point". */
export function marker(o: MarkerOptions): string {
  const { shape, x, y, color, hollow = false, r = 4, extra = '' } = o;
  const paint = hollow ? `fill="#ffffff" stroke="${esc(color)}" stroke-width="1.5"` : `fill="${esc(color)}" stroke="${esc(color)}" stroke-width="1"`;
  const cls = `class="point${hollow ? ' hollow' : ''}"${extra ? ` ${extra}` : ''}`;
  switch (shape) {
    case 'circle':
      return `<circle ${cls} cx="${n2(x)}" cy="${n2(y)}" r="${n2(r)}" ${paint}/>`;
    case 'square':
      return `<rect ${cls} x="${n2(x - r)}" y="${n2(y - r)}" width="${n2(2 * r)}" height="${n2(2 * r)}" ${paint}/>`;
    case 'diamond': {
      const d = r * 1.3;
      return `<path ${cls} d="M${n2(x)} ${n2(y - d)}L${n2(x + d)} ${n2(y)}L${n2(x)} ${n2(y + d)}L${n2(x - d)} ${n2(y)}Z" ${paint}/>`;
    }
    case 'triangle': {
      const d = r * 1.3;
      return `<path ${cls} d="M${n2(x)} ${n2(y - d)}L${n2(x + d)} ${n2(y + d * 0.8)}L${n2(x - d)} ${n2(y + d * 0.8)}Z" ${paint}/>`;
    }
  }
}

// ---------------------------------------------------------------------------
// Shared frame: title, axes, grid, ticks

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

function svgOpen(kind: string, title: string, f: Frame, extra = ''): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-${kind}" data-chart="${kind}" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(title)}" font-family="Helvetica, Arial, sans-serif" font-size="11"${extra ? ` ${extra}` : ''}>` +
    `<title>${esc(title)}</title>` +
    text(f.left, 16, title, 'class="chart-title" font-size="13" font-weight="bold" fill="#111111"')
  );
}

interface Axis {
  readonly lo: number;
  readonly hi: number;
  readonly ticks: readonly number[];
  readonly decimals: number;
}

const axisFrom = (min: number, max: number, fixed?: readonly [number, number]): Axis => {
  if (fixed) {
    const t = niceTicks(fixed[0], fixed[1]);
    return { lo: fixed[0], hi: fixed[1], ticks: t.ticks.filter((v) => v >= fixed[0] - 1e-9 && v <= fixed[1] + 1e-9), decimals: t.decimals };
  }
  const t = niceTicks(min, max);
  return { lo: t.lo, hi: t.hi, ticks: t.ticks, decimals: t.decimals };
};

function xAxis(f: Frame, ax: Axis, sx: (v: number) => number, label: string): string {
  const y0 = f.height - f.bottom;
  let s = `<g class="axis axis-x" stroke="#444444">`;
  s += `<line x1="${n2(f.left)}" y1="${n2(y0)}" x2="${n2(f.width - f.right)}" y2="${n2(y0)}"/>`;
  for (const t of ax.ticks) s += `<line x1="${n2(sx(t))}" y1="${n2(y0)}" x2="${n2(sx(t))}" y2="${n2(y0 + 4)}"/>`;
  s += `</g><g class="ticks ticks-x" fill="#333333" text-anchor="middle">`;
  for (const t of ax.ticks) s += text(sx(t), y0 + 16, fmtTick(t, ax.decimals));
  s += `</g>`;
  s += text((f.left + f.width - f.right) / 2, f.height - 6, label, 'class="axis-label" text-anchor="middle" fill="#111111"');
  return s;
}

/** A y axis on the left (the default) or, for an overlay, on the right in the overlay's colour. */
function yAxis(f: Frame, ax: Axis, sy: (v: number) => number, label: string, style: { side?: 'left' | 'right'; color?: string } = {}): string {
  const { side = 'left', color = '#444444' } = style;
  const x0 = side === 'left' ? f.left : f.width - f.right;
  const dir = side === 'left' ? -1 : 1;
  let s = `<g class="axis axis-y${side === 'right' ? '2' : ''}" stroke="${esc(color)}">`;
  s += `<line x1="${n2(x0)}" y1="${n2(f.top)}" x2="${n2(x0)}" y2="${n2(f.height - f.bottom)}"/>`;
  for (const t of ax.ticks) s += `<line x1="${n2(x0)}" y1="${n2(sy(t))}" x2="${n2(x0 + dir * 4)}" y2="${n2(sy(t))}"/>`;
  s += `</g><g class="ticks ticks-y" fill="${esc(color === '#444444' ? '#333333' : color)}" text-anchor="${side === 'left' ? 'end' : 'start'}">`;
  for (const t of ax.ticks) s += text(x0 + dir * 7, sy(t) + 4, fmtTick(t, ax.decimals));
  s += `</g>`;
  const lx = side === 'left' ? 14 : x0 + 40;
  const ly = (f.top + f.height - f.bottom) / 2;
  s += `<text class="axis-label" x="${n2(lx)}" y="${n2(ly)}" text-anchor="middle" fill="${esc(color === '#444444' ? '#111111' : color)}" transform="rotate(-90 ${n2(lx)} ${n2(ly)})">${esc(label)}</text>`;
  return s;
}

function grid(f: Frame, ax: Axis, sy: (v: number) => number): string {
  let s = `<g class="grid" stroke="#e4e4e4">`;
  for (const t of ax.ticks) s += `<line x1="${n2(f.left)}" y1="${n2(sy(t))}" x2="${n2(f.width - f.right)}" y2="${n2(sy(t))}"/>`;
  return `${s}</g>`;
}

// ---------------------------------------------------------------------------
// XY chart: scatter and lines

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  /** ± half-width drawn as a vertical error bar (e.g. a 95 % CI). */
  readonly err?: number;
  /** Hover text (an SVG <title>), e.g. "snapkv @ 20%: 0.83 ± 0.05". */
  readonly label?: string;
}

export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
  /** 'none' draws markers only. Default 'solid'. */
  readonly line?: 'solid' | 'dashed' | 'none';
  readonly marker?: MarkerShape;
  readonly hollow?: boolean;
  /** false keeps the series out of the legend (e.g. a secondary marker set). Default true. */
  readonly legend?: boolean;
  /** A CSS class added to the series group ("nominal", "frontier", …). */
  readonly role?: string;
}

/** A legend line that explains a symbol rather than a series. */
export interface LegendNote {
  readonly marker?: MarkerShape;
  readonly hollow?: boolean;
  readonly dashed?: boolean;
  readonly color?: string;
  readonly label: string;
}

export interface XYChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  readonly notes?: readonly LegendNote[];
  /** Fixed domains; otherwise nice bounds around the data (x from 0 when `xFromZero`). */
  readonly xDomain?: readonly [number, number];
  readonly yDomain?: readonly [number, number];
  readonly xFromZero?: boolean;
  readonly yFromZero?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const LEGEND_W = 190;

interface LegendItem {
  readonly series?: ChartSeries;
  readonly note?: LegendNote;
  /** data-series of the entry (series entries default to the series name). */
  readonly dataSeries?: string;
}

function legendBlock(x: number, y: number, items: readonly LegendItem[]): string {
  let s = `<g class="legend" font-size="10.5">`;
  items.forEach((it, i) => {
    const yy = y + i * 16;
    const color = it.series?.color ?? it.note?.color ?? '#333333';
    const dashed = it.series ? it.series.line === 'dashed' : (it.note?.dashed ?? false);
    const hasLine = it.series ? it.series.line !== 'none' : it.note?.marker === undefined;
    const shape = it.series?.marker ?? it.note?.marker;
    const hollow = it.series?.hollow ?? it.note?.hollow ?? false;
    const name = it.series?.name ?? it.note?.label ?? '';
    const ds = it.dataSeries ?? it.series?.name;
    s += `<g class="legend-item"${ds !== undefined ? ` data-series="${esc(ds)}"` : ''}>`;
    if (hasLine)
      s += `<line x1="${n2(x)}" y1="${n2(yy)}" x2="${n2(x + 18)}" y2="${n2(yy)}" stroke="${esc(color)}" stroke-width="2"${dashed ? ' stroke-dasharray="4 3"' : ''}/>`;
    if (shape) s += marker({ shape, x: x + 9, y: yy, color, hollow, r: 3.5 }).replace('class="point', 'class="legend-marker');
    s += text(x + 24, yy + 3.5, truncate(name, LEGEND_W - 30, 10.5), 'fill="#222222"');
    s += `</g>`;
  });
  return `${s}</g>`;
}

/**
 * A scatter/line chart with axes, ticks, grid, optional error bars and a
 * legend on the right. Series are drawn in the given order; within a series,
 * lines join the points in the given order.
 */
export function xyChart(o: XYChartOptions): string {
  const legendItems: LegendItem[] = [...o.series.filter((s) => s.legend !== false).map((series) => ({ series })), ...(o.notes ?? []).map((note) => ({ note }))];
  const width = o.width ?? 700;
  const height = Math.max(o.height ?? 340, 60 + legendItems.length * 16);
  const f: Frame = { width, height, left: 62, right: LEGEND_W + 16, top: 30, bottom: 42 };
  const pts = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = pts.map((p) => p.x);
  const ys = pts.flatMap((p) => (p.err && Number.isFinite(p.err) ? [p.y - p.err, p.y + p.err] : [p.y]));
  const xMin = xs.length ? Math.min(...xs, o.xFromZero ? 0 : Number.POSITIVE_INFINITY) : 0;
  const yMin = ys.length ? Math.min(...ys, o.yFromZero ? 0 : Number.POSITIVE_INFINITY) : 0;
  const ax = axisFrom(xMin, xs.length ? Math.max(...xs) : 1, o.xDomain);
  const ay = axisFrom(yMin, ys.length ? Math.max(...ys) : 1, o.yDomain);
  const sx = scale(ax.lo, ax.hi, f.left, width - f.right);
  const sy = scale(ay.lo, ay.hi, height - f.bottom, f.top);
  let s = svgOpen('xy', o.title, f);
  s += grid(f, ay, sy);
  s += xAxis(f, ax, sx, o.xLabel) + yAxis(f, ay, sy, o.yLabel);
  for (const ser of o.series) {
    const good = ser.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    s += `<g class="series${ser.role ? ` ${esc(ser.role)}` : ''}" data-series="${esc(ser.name)}" data-points="${good.length}">`;
    const line = ser.line ?? 'solid';
    if (line !== 'none' && good.length > 1) {
      const d = good.map((p, i) => `${i ? 'L' : 'M'}${n2(sx(p.x))} ${n2(sy(p.y))}`).join('');
      s += `<path class="line" d="${d}" fill="none" stroke="${esc(ser.color)}" stroke-width="1.8"${line === 'dashed' ? ' stroke-dasharray="5 4"' : ''}/>`;
    }
    for (const p of good) {
      if (p.err && Number.isFinite(p.err) && p.err > 0) {
        // Clamped to the axis: a CI of a [0, 1] score may reach past 0 or 1.
        const [x, y0, y1] = [sx(p.x), sy(Math.max(ay.lo, p.y - p.err)), sy(Math.min(ay.hi, p.y + p.err))];
        s += `<path class="err" d="M${n2(x)} ${n2(y0)}L${n2(x)} ${n2(y1)}M${n2(x - 3)} ${n2(y0)}L${n2(x + 3)} ${n2(y0)}M${n2(x - 3)} ${n2(y1)}L${n2(x + 3)} ${n2(y1)}" stroke="${esc(ser.color)}" stroke-width="1" fill="none"/>`;
      }
    }
    if (ser.marker)
      for (const p of good) {
        const m = marker({ shape: ser.marker, x: sx(p.x), y: sy(p.y), color: ser.color, hollow: ser.hollow ?? false });
        s += p.label
          ? m.replace(/\/>$/, `><title>${esc(p.label)}</title></${m.startsWith('<circle') ? 'circle' : m.startsWith('<rect') ? 'rect' : 'path'}>`)
          : m;
      }
    s += `</g>`;
  }
  s += legendBlock(width - f.right + 14, f.top + 6, legendItems);
  return `${s}</svg>`;
}

// ---------------------------------------------------------------------------
// Heatmap (NIAH convention)

export interface HeatmapOptions {
  readonly title: string;
  /** Column values (context lengths in tokens), ascending. */
  readonly xValues: readonly number[];
  /** Row values (needle depth %), ascending; drawn top to bottom. */
  readonly yValues: readonly number[];
  /** values[row][column]; null draws an empty (grey) cell. */
  readonly values: readonly (readonly (number | null)[])[];
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly vmin?: number;
  readonly vmax?: number;
  /** The colour bar's title. Default 'Mean score'. */
  readonly scaleLabel?: string;
  /** The model's trained context length: a dashed vertical line where it falls on the x axis. */
  readonly markX?: number;
  readonly markLabel?: string;
  /** Print each cell's value (2 decimals). Default true. */
  readonly cellValues?: boolean;
  readonly width?: number;
  readonly height?: number;
}

/**
 * A NIAH heatmap laid out as in gkamradt/LLMTest_NeedleInAHaystack and
 * KVCache-Factory: context length across ("Context length (tokens)"), needle
 * depth down ("Needle depth (%)", 0 at the top), viridis over [vmin, vmax] =
 * [0, 1] (core's niahColor, colour-blind safe), each cell labelled with its
 * value in whichever of dark or white text reads on it, a titled colour bar on
 * the right and a dashed line at the model's trained length.
 */
export function heatmap(o: HeatmapOptions): string {
  const cols = o.xValues.length;
  const rows = o.yValues.length;
  const width = o.width ?? 330;
  const f: Frame = { width, height: o.height ?? Math.max(150, 62 + rows * 22), left: 46, right: 62, top: 26, bottom: 36 };
  const pw = width - f.left - f.right;
  const ph = f.height - f.top - f.bottom;
  const l: HeatmapLayout = { o, f, vmin: o.vmin ?? 0, vmax: o.vmax ?? 1, cols, rows, pw, ph, cw: pw / Math.max(1, cols), ch: ph / Math.max(1, rows) };
  let s = svgOpen('heatmap', o.title, f, `data-rows="${rows}" data-cols="${cols}"`);
  s += heatmapCells(l) + heatmapCellValues(l) + heatmapTicks(l);
  s += text(f.left + pw / 2, f.height - 6, o.xLabel ?? 'Context length (tokens)', 'class="axis-label" text-anchor="middle" fill="#111111"');
  const ly = f.top + ph / 2;
  s += `<text class="axis-label" x="12" y="${n2(ly)}" text-anchor="middle" fill="#111111" transform="rotate(-90 12 ${n2(ly)})">${esc(o.yLabel ?? 'Needle depth (%)')}</text>`;
  s += trainedLengthLine(l);
  s += colorBar({ x: width - f.right + 8, y: f.top, w: 10, h: ph }, l, o.scaleLabel ?? 'Mean score');
  return `${s}</svg>`;
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** A heatmap's options and the geometry its parts share: plot size, cell size, colour range. */
interface HeatmapLayout {
  readonly o: HeatmapOptions;
  readonly f: Frame;
  readonly vmin: number;
  readonly vmax: number;
  readonly cols: number;
  readonly rows: number;
  /** Plot width and height. */
  readonly pw: number;
  readonly ph: number;
  /** Cell width and height. */
  readonly cw: number;
  readonly ch: number;
}

const cellValue = (l: HeatmapLayout, r: number, c: number): number | null => l.o.values[r]?.[c] ?? null;

/** One rect per cell, with its value and position in data-* and a tooltip. */
function heatmapCells(l: HeatmapLayout): string {
  const { o, f, cw, ch } = l;
  let s = `<g class="cells" stroke="#ffffff" stroke-width="1">`;
  for (let r = 0; r < l.rows; r++) {
    for (let c = 0; c < l.cols; c++) {
      const v = cellValue(l, r, c);
      const x = f.left + c * cw;
      const y = f.top + r * ch;
      const fill = v === null || !Number.isFinite(v) ? '#d9d9d9' : niahColor(v, l.vmin, l.vmax);
      const tip = `depth ${o.yValues[r] ?? ''}%, ${o.xValues[c] ?? ''} tokens: ${v === null ? 'no sample' : v.toFixed(2)}`;
      s += `<rect class="cell" x="${n2(x)}" y="${n2(y)}" width="${n2(cw)}" height="${n2(ch)}" fill="${fill}" data-x="${o.xValues[c] ?? ''}" data-y="${o.yValues[r] ?? ''}" data-value="${v === null ? '' : n2(v)}"><title>${esc(tip)}</title></rect>`;
    }
  }
  return `${s}</g>`;
}

/** Each cell's value printed on it, in whichever of dark or white reads on its colour; nothing when cells are too small to hold text. */
function heatmapCellValues(l: HeatmapLayout): string {
  const { f, cw, ch } = l;
  if (!((l.o.cellValues ?? true) && cw >= 22 && ch >= 11)) return '';
  const fs = Math.min(10, ch * 0.6, cw / 3.2);
  let s = `<g class="cell-values" text-anchor="middle" font-size="${n2(fs)}">`;
  for (let r = 0; r < l.rows; r++)
    for (let c = 0; c < l.cols; c++) {
      const v = cellValue(l, r, c);
      const ink = v === null || !Number.isFinite(v) ? '#1a1a1a' : textColorOn(niahColor(v, l.vmin, l.vmax));
      s += text(f.left + (c + 0.5) * cw, f.top + (r + 0.5) * ch + fs * 0.35, v === null ? NO_VALUE : v.toFixed(2), `class="cell-value" fill="${ink}"`);
    }
  return `${s}</g>`;
}

/** Context lengths under the columns and depths beside the rows: every k-th, so labels do not overlap. */
function heatmapTicks(l: HeatmapLayout): string {
  const { o, f, cw, ch } = l;
  const xEvery = Math.max(1, Math.ceil((l.cols * 30) / l.pw));
  const yEvery = Math.max(1, Math.ceil((l.rows * 11) / l.ph));
  let s = `<g class="ticks ticks-x" fill="#333333" text-anchor="middle" font-size="9.5">`;
  o.xValues.forEach((v, c) => {
    if (c % xEvery === 0) s += text(f.left + (c + 0.5) * cw, f.height - f.bottom + 12, formatTokens(v));
  });
  s += `</g><g class="ticks ticks-y" fill="#333333" text-anchor="end" font-size="9.5">`;
  o.yValues.forEach((v, r) => {
    if (r % yEvery === 0) s += text(f.left - 4, f.top + (r + 0.5) * ch + 3.5, `${n2(v)}`);
  });
  return `${s}</g>`;
}

/** Where the trained length falls on the column axis: between column centres, interpolated on the token axis; undefined past the last column. */
function trainedLengthX(l: HeatmapLayout, markX: number): number | undefined {
  const { o, f, cw, cols } = l;
  const centre = (c: number): number => f.left + (c + 0.5) * cw;
  const first = o.xValues[0] ?? 0;
  const last = o.xValues[cols - 1] ?? 0;
  if (markX <= first) return f.left;
  if (markX === last) return centre(cols - 1);
  if (markX > last) return undefined;
  let px: number | undefined;
  for (let c = 0; c + 1 < cols; c++) {
    const a = o.xValues[c] ?? 0;
    const b = o.xValues[c + 1] ?? 0;
    if (markX >= a && markX <= b) px = centre(c) + ((markX - a) / (b - a || 1)) * cw;
  }
  return px;
}

/** The dashed line at the model's trained length, when the options name one that falls on the axis. */
function trainedLengthLine(l: HeatmapLayout): string {
  const { o, f } = l;
  if (o.markX === undefined || l.cols === 0) return '';
  const px = trainedLengthX(l, o.markX);
  if (px === undefined) return '';
  return (
    `<g class="trained-length"><line x1="${n2(px)}" y1="${n2(f.top - 3)}" x2="${n2(px)}" y2="${n2(f.top + l.ph + 3)}" stroke="#111111" stroke-width="1.5" stroke-dasharray="4 3"/>` +
    `<title>${esc(o.markLabel ?? `trained length ${o.markX} tokens`)}</title></g>`
  );
}

/** A vertical colour bar of 24 bands (no gradient ids, which would collide between inline SVGs), its title along its right side. */
function colorBar(box: Box, range: { vmin: number; vmax: number }, title: string): string {
  const { x, y, w, h } = box;
  const { vmin, vmax } = range;
  const bands = 24;
  let s = `<g class="colorbar">`;
  for (let i = 0; i < bands; i++) {
    const v = vmax - ((i + 0.5) / bands) * (vmax - vmin);
    s += `<rect x="${n2(x)}" y="${n2(y + (i * h) / bands)}" width="${n2(w)}" height="${n2(h / bands + 0.3)}" fill="${niahColor(v, vmin, vmax)}"/>`;
  }
  s += `<rect x="${n2(x)}" y="${n2(y)}" width="${n2(w)}" height="${n2(h)}" fill="none" stroke="#888888" stroke-width="0.5"/>`;
  s += `<g fill="#333333" font-size="9">`;
  for (const t of [vmax, (vmin + vmax) / 2, vmin]) s += text(x + w + 3, y + ((vmax - t) / (vmax - vmin || 1)) * h + 3, fmtTick(t, 1));
  const tx = x + w + 26;
  const ty = y + h / 2;
  s += `<text class="colorbar-title" x="${n2(tx)}" y="${n2(ty)}" text-anchor="middle" transform="rotate(90 ${n2(tx)} ${n2(ty)})">${esc(title)}</text>`;
  return `${s}</g></g>`;
}

// ---------------------------------------------------------------------------
// Grouped bar chart with a line overlay on a secondary axis

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

export interface BarChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** One group of bars per category (layers). */
  readonly categories: readonly string[];
  readonly series: readonly BarSeries[];
  /** A line drawn over the bars against its own right-hand axis (e.g. LMBA per layer). */
  readonly overlay?: { readonly name: string; readonly color: string; readonly values: readonly number[]; readonly axisLabel: string };
  readonly width?: number;
  readonly height?: number;
}

/** Grouped bars (one group per category, one bar per series) from zero, and an optional overlay line on a secondary axis. */
export function groupedBarChart(o: BarChartOptions): string {
  const items = o.series.length + (o.overlay ? 1 : 0);
  const width = o.width ?? 700;
  const height = Math.max(o.height ?? 320, 60 + items * 16);
  const f: Frame = { width, height, left: 62, right: LEGEND_W + 16 + (o.overlay ? 40 : 0), top: 30, bottom: 42 };
  const all = o.series.flatMap((s) => s.values).filter(Number.isFinite);
  const ay = axisFrom(0, all.length ? Math.max(...all) : 1);
  const sy = scale(ay.lo, ay.hi, height - f.bottom, f.top);
  const pw = width - f.left - f.right;
  const gw = pw / Math.max(1, o.categories.length);
  const bw = (gw * 0.8) / Math.max(1, o.series.length);
  let s = svgOpen('bars', o.title, f);
  s += grid(f, ay, sy);
  o.series.forEach((ser, si) => {
    s += `<g class="series" data-series="${esc(ser.name)}" fill="${esc(ser.color)}">`;
    o.categories.forEach((cat, ci) => {
      const v = ser.values[ci];
      if (v === undefined || !Number.isFinite(v)) return;
      const x = f.left + ci * gw + gw * 0.1 + si * bw;
      const y = sy(Math.max(0, v));
      s += `<rect class="bar" x="${n2(x)}" y="${n2(y)}" width="${n2(Math.max(0.5, bw - 0.6))}" height="${n2(Math.max(0, sy(0) - y))}"><title>${esc(`${ser.name}, ${cat}: ${v.toFixed(1)}`)}</title></rect>`;
    });
    s += `</g>`;
  });
  // Category axis.
  const y0 = height - f.bottom;
  s += `<g class="axis axis-x" stroke="#444444"><line x1="${n2(f.left)}" y1="${n2(y0)}" x2="${n2(width - f.right)}" y2="${n2(y0)}"/></g>`;
  const every = Math.max(1, Math.ceil((o.categories.length * 22) / pw));
  s += `<g class="ticks ticks-x" fill="#333333" text-anchor="middle">`;
  o.categories.forEach((c, i) => {
    if (i % every === 0) s += text(f.left + (i + 0.5) * gw, y0 + 15, c);
  });
  s += `</g>` + text(f.left + pw / 2, height - 6, o.xLabel, 'class="axis-label" text-anchor="middle" fill="#111111"');
  s += yAxis(f, ay, sy, o.yLabel);
  const legend: LegendItem[] = o.series.map((b) => ({ note: { marker: 'square' as const, color: b.color, label: b.name }, dataSeries: b.name }));
  if (o.overlay) {
    const ov = o.overlay;
    const vals = ov.values.filter(Number.isFinite);
    const a2 = axisFrom(0, vals.length ? Math.max(...vals) : 1);
    const sy2 = scale(a2.lo, a2.hi, height - f.bottom, f.top);
    s += yAxis(f, a2, sy2, ov.axisLabel, { side: 'right', color: ov.color });
    const pts = ov.values.map((v, i) => ({ x: f.left + (i + 0.5) * gw, y: sy2(v), ok: Number.isFinite(v) })).filter((p) => p.ok);
    s += `<g class="overlay" data-series="${esc(ov.name)}" data-points="${pts.length}">`;
    if (pts.length > 1)
      s += `<path class="line" d="${pts.map((p, i) => `${i ? 'L' : 'M'}${n2(p.x)} ${n2(p.y)}`).join('')}" fill="none" stroke="${esc(ov.color)}" stroke-width="2"/>`;
    for (const p of pts) s += marker({ shape: 'circle', x: p.x, y: p.y, color: ov.color, r: 3 });
    s += `</g>`;
    legend.push({ note: { color: ov.color, label: `${ov.name} (right axis)` } });
  }
  s += legendBlock(width - f.right + 14 + (o.overlay ? 40 : 0), f.top + 6, legend);
  return `${s}</svg>`;
}
