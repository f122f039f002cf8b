/**
 * PNG export of any chart: serialize its SVG (with the legend and title drawn
 * in, since those live in HTML around the SVG on screen), draw it into a
 * canvas at 2× and read the canvas back as a PNG blob.
 *
 * Why this route: the charts ARE SVG (recharts, or our own for heatmaps), so
 * serializing gives the exact picture with no second renderer; a canvas
 * gives the PNG the Reports screen and the paper figures need. CSS variables
 * (the theme, see theme.ts) are resolved to their computed values first: an
 * SVG loaded as an image sees no page CSS.
 */

/**
 * The shape of a legend swatch, matching the marks it stands for: 'square'
 * for bars and heatmap colours, 'circle' / 'diamond' for point markers,
 * 'line' for a line without markers, 'line-circle' for a line through
 * circular markers (a series of points joined per method).
 */
export type LegendMark = 'square' | 'circle' | 'diamond' | 'line' | 'line-circle';

export interface LegendEntry {
  readonly label: string;
  readonly color: string;
  /** Drawn as an outline (e.g. the nominal-budget marker). */
  readonly hollow?: boolean;
  /** Default 'square'. */
  readonly mark?: LegendMark;
  /** A dashed line (the Pareto frontier). */
  readonly dashed?: boolean;
}

/** Width and height of a legend swatch. */
export const SWATCH = { width: 18, height: 12 } as const;

/**
 * A legend swatch as SVG markup in an 18 × 12 box whose top-left corner is
 * (x, y) — the same drawing in the app's legend and in the exported PNG.
 * `color` must already be escaped for an attribute (var() references are fine on screen).
 */
export function swatchSvg(e: Pick<LegendEntry, 'mark' | 'hollow' | 'dashed'>, color: string, x = 0, y = 0): string {
  const cx = x + SWATCH.width / 2;
  const cy = y + SWATCH.height / 2;
  const paint = e.hollow ? `fill="none" stroke="${color}" stroke-width="1.5"` : `fill="${color}"`;
  const line = `<line x1="${x}" y1="${cy}" x2="${x + SWATCH.width}" y2="${cy}" stroke="${color}" stroke-width="2"${e.dashed ? ' stroke-dasharray="4 3"' : ''}/>`;
  switch (e.mark ?? 'square') {
    case 'circle':
      return `<circle cx="${cx}" cy="${cy}" r="4" ${paint}/>`;
    case 'diamond':
      return `<path d="M${cx} ${cy - 4.5}L${cx + 4.5} ${cy}L${cx} ${cy + 4.5}L${cx - 4.5} ${cy}Z" ${paint}/>`;
    case 'line':
      return line;
    case 'line-circle':
      return `${line}<circle cx="${cx}" cy="${cy}" r="3.2" ${paint}/>`;
    case 'square':
      return `<rect x="${cx - 5}" y="${cy - 5}" width="10" height="10" ${paint}/>`;
  }
}

export interface SerializeOptions {
  /** Drawn above the chart. */
  readonly title?: string;
  /** Drawn below the chart, wrapped to its width. */
  readonly legend?: readonly LegendEntry[];
  /** Fills the picture first (an SVG is transparent). Default: the theme's chart background. */
  readonly background?: string;
}

export interface SerializedSvg {
  readonly text: string;
  readonly width: number;
  readonly height: number;
}

/** The chart's own SVG inside a chart container: recharts' surface, or our heatmaps' (marked data-chart-svg). */
export function findChartSvg(root: Element): SVGSVGElement | null {
  return root.querySelector<SVGSVGElement>('svg[data-chart-svg]') ?? root.querySelector<SVGSVGElement>('.recharts-wrapper > svg') ?? root.querySelector('svg');
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Escapes text for XML text and attribute values. */
export const escXml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** Replaces var(--name, fallback) with the variable's computed value on `el` (or the fallback). */
export function resolveCssVars(value: string, el: Element): string {
  if (!value.includes('var(')) return value;
  const view = el.ownerDocument.defaultView;
  const style = view ? view.getComputedStyle(el) : null;
  return value.replace(/var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*(?:\([^()]*\))?[^()]*))?\)/g, (_, name: string, fallback: string | undefined) => {
    const v = style?.getPropertyValue(name).trim();
    return v || (fallback ?? '').trim() || 'currentColor';
  });
}

const sizeOf = (svg: SVGSVGElement): { width: number; height: number } => {
  const w = Number(svg.getAttribute('width'));
  const h = Number(svg.getAttribute('height'));
  if (w > 0 && h > 0) return { width: w, height: h };
  const vb = (svg.getAttribute('viewBox') ?? '').split(/[\s,]+/).map(Number);
  if (vb.length === 4 && (vb[2] ?? 0) > 0 && (vb[3] ?? 0) > 0) return { width: vb[2] ?? 0, height: vb[3] ?? 0 };
  const r = svg.getBoundingClientRect();
  return { width: Math.max(1, Math.round(r.width)), height: Math.max(1, Math.round(r.height)) };
};

/**
 * A standalone SVG document of the chart: namespaces set, CSS variables
 * resolved, a background, and the title and legend drawn in. Interactive
 * attributes (tabindex, role) are dropped.
 */
export function serializeSvg(svg: SVGSVGElement, o: SerializeOptions = {}): SerializedSvg {
  const { width, height } = sizeOf(svg);
  const clone = svg.cloneNode(true) as SVGSVGElement;
  // Resolve theme variables on every attribute and inline style, walking the original alongside for computed values.
  const orig = [svg, ...Array.from(svg.querySelectorAll('*'))];
  const copy = [clone, ...Array.from(clone.querySelectorAll('*'))];
  copy.forEach((el, i) => {
    const src = orig[i] ?? svg;
    for (const a of Array.from(el.attributes)) if (a.value.includes('var(')) el.setAttribute(a.name, resolveCssVars(a.value, src));
    el.removeAttribute('tabindex');
  });
  const fontSize = 12;
  const titleH = o.title ? 24 : 0;
  // Legend: entries laid out left to right, wrapping at the chart width (0.6 em per character is close enough for labels).
  const items: { x: number; y: number; e: LegendEntry }[] = [];
  let x = 8;
  let y = 0;
  for (const e of o.legend ?? []) {
    const w = SWATCH.width + 6 + e.label.length * fontSize * 0.6 + 14;
    if (x + w > width && x > 8) {
      x = 8;
      y += 18;
    }
    items.push({ x, y, e });
    x += w;
  }
  const legendH = items.length ? y + 24 : 0;
  const total = height + titleH + legendH;
  const bg = resolveCssVars(o.background ?? 'var(--chart-bg, #ffffff)', svg);
  const text = resolveCssVars('var(--fg, #333333)', svg);
  // No xmlns attribute: the serializer declares the SVG namespace of the element itself (setting it too duplicates it).
  clone.setAttribute('x', '0');
  clone.setAttribute('y', String(titleH));
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  if (!clone.getAttribute('viewBox')) clone.setAttribute('viewBox', `0 0 ${width} ${height}`);
  clone.removeAttribute('style');
  let s = `<svg xmlns="${SVG_NS}" width="${width}" height="${total}" viewBox="0 0 ${width} ${total}" font-family="Helvetica, Arial, sans-serif">`;
  s += `<rect x="0" y="0" width="${width}" height="${total}" fill="${escXml(bg)}"/>`;
  if (o.title) s += `<text x="8" y="17" font-size="14" font-weight="bold" fill="${escXml(text)}">${escXml(o.title)}</text>`;
  // XML 1.0 forbids most control characters, which HTML attributes allow (group keys join their parts with U+0000): replace them.
  // eslint-disable-next-line no-control-regex
  s += new XMLSerializer().serializeToString(clone).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, ' ');
  const top = titleH + height + 8;
  for (const it of items) {
    const cy = top + it.y + 6;
    const c = escXml(resolveCssVars(it.e.color, svg));
    s += swatchSvg(it.e, c, it.x, cy - SWATCH.height / 2);
    s += `<text x="${it.x + SWATCH.width + 6}" y="${cy + 4}" font-size="${fontSize}" fill="${escXml(text)}">${escXml(it.e.label)}</text>`;
  }
  s += `</svg>`;
  return { text: s, width, height: total };
}

/** What rasterising needs from the browser; injectable for tests (jsdom has no canvas). */
export interface RasterDeps {
  readonly createCanvas: (
    width: number,
    height: number,
  ) => {
    getContext(kind: '2d'): (Pick<CanvasRenderingContext2D, 'drawImage' | 'scale' | 'fillRect'> & { fillStyle: unknown }) | null;
    toBlob(callback: (blob: Blob | null) => void, type?: string): void;
  };
  readonly loadImage: (url: string) => Promise<CanvasImageSource>;
}

const browserDeps = (): RasterDeps => ({
  createCanvas: (w, h) => {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    return c;
  },
  loadImage: (url) =>
    new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error('the chart SVG could not be loaded as an image'));
      img.src = url;
    }),
});

export interface PngOptions extends SerializeOptions {
  /** Device pixels per SVG pixel. Default 2 (sharp on high-DPI screens and in print). */
  readonly scale?: number;
  readonly deps?: RasterDeps;
}

/** Rasterises a serialized chart to a PNG blob. */
export async function svgTextToPng(svg: SerializedSvg, o: Pick<PngOptions, 'scale' | 'deps'> = {}): Promise<Blob> {
  const deps = o.deps ?? browserDeps();
  const scale = o.scale ?? 2;
  const img = await deps.loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg.text)}`);
  const canvas = deps.createCanvas(Math.ceil(svg.width * scale), Math.ceil(svg.height * scale));
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas to draw the chart into');
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0, svg.width, svg.height);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the canvas gave no PNG'))), 'image/png'));
}

/** The PNG of the chart inside `root` (a chart frame). */
export async function chartToPng(root: Element, o: PngOptions = {}): Promise<Blob> {
  const svg = findChartSvg(root);
  if (!svg) throw new Error('no chart to export');
  return svgTextToPng(serializeSvg(svg, o), o);
}

/** Offers a blob as a download (the browser's save dialog or Downloads folder). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from a chart title: "ZigZag @ 20%" → "zigzag-20.png". */
export function pngFileName(title: string): string {
  const base = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return `${base || 'chart'}.png`;
}
