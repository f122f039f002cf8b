/**
 * The colours results are drawn in, shared by the app's charts and the CLI
 * report so a method has the same colour on screen and on paper.
 *
 * electron/reports/svg.ts (the static report's writer) imports and
 * re-exports them; test/core/results/colors.test.ts checks the two agree.
 * NIAH heatmaps use viridis (dark purple for fail → yellow for pass) rather
 * than the field's habitual red → yellow → green (KVCache-Factory's
 * scripts_needle/visualize.py): red against green is the pair the commonest
 * colour-vision deficiencies cannot tell apart, while viridis was designed to
 * stay ordered for them and in greyscale (its lightness rises monotonically).
 */

/** Colour-blind-safe palette (Okabe–Ito, then Paul Tol's muted), in a fixed order. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#882255', '#44AA99', '#999933', '#AA4499', '#332288', '#117733'];
/** The full-KV baseline's colour. */
export const FULL_COLOR = '#333333';
/** The NIAH colormap, fail → pass: matplotlib's viridis sampled at nine evenly spaced points (0, 1/8, … 1). */
export const NIAH_COLORS = ['#440154', '#472D7B', '#3B528B', '#2C728E', '#21908C', '#27AD81', '#5DC863', '#AADC32', '#FDE725'] as const;
/** Δ-heatmap ends (A worse … A better), colour-blind-safe (Okabe–Ito vermillion and blue), white at 0. */
export const DELTA_COLORS = ['#D55E00', '#F7F7F7', '#0072B2'] as const;

const hex = (c: string): [number, number, number] => [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
const toHex = (rgb: readonly number[]): string =>
  `#${rgb
    .map((v) =>
      Math.round(Math.min(255, Math.max(0, v)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;

/** Piecewise-linear interpolation over evenly spaced stops (t in [0, 1]). */
function stopsAt(stops: readonly string[], t: number): string {
  const segs = stops.length - 1;
  const i = Math.min(segs - 1, Math.floor(t * segs));
  const u = t * segs - i;
  const [ca, cb] = [hex(stops[i] ?? '#000000'), hex(stops[i + 1] ?? '#000000')];
  return toHex(ca.map((v, k) => v + ((cb[k] ?? v) - v) * u));
}

/** The colour of `value` on the viridis scale (NIAH_COLORS) between vmin and vmax (clamped; lower-case hex). */
export function niahColor(value: number, vmin = 0, vmax = 1): string {
  const t = vmax === vmin ? 1 : Math.min(1, Math.max(0, (value - vmin) / (vmax - vmin)));
  return stopsAt(NIAH_COLORS, t);
}

/** WCAG 2 relative luminance of a #rrggbb colour (0 black … 1 white). */
export function relativeLuminance(color: string): number {
  const lin = (c: number): number => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = hex(color).map(lin) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/**
 * `dark` or `light` text for a label drawn on `background` (#rrggbb),
 * whichever has the higher WCAG contrast ratio against it: viridis's dark
 * half needs light labels, its yellow half and the Δ scale's white need dark
 * ones. A background that is not #rrggbb gets `dark`.
 */
export function textColorOn(background: string, dark = '#1a1a1a', light = '#ffffff'): string {
  if (!/^#[0-9a-f]{6}$/i.test(background)) return dark;
  const l = relativeLuminance(background);
  const contrast = (other: string): number => {
    const o = relativeLuminance(other);
    return (Math.max(l, o) + 0.05) / (Math.min(l, o) + 0.05);
  };
  return contrast(light) > contrast(dark) ? light : dark;
}

/** The colour of a difference on a diverging scale symmetric around 0, clamped at ±maxAbs (default 1, a score's range). */
export function deltaColor(delta: number, maxAbs = 1): string {
  const m = maxAbs > 0 ? maxAbs : 1;
  return stopsAt(DELTA_COLORS, Math.min(1, Math.max(0, (delta / m + 1) / 2)));
}

/**
 * A colour per method label, as the report assigns them: the full cache in
 * FULL_COLOR, the others through PALETTE in the given order (the report
 * passes its summary's methods, 'full' first then by label).
 */
export function methodColors(methods: readonly { readonly label: string; readonly method: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  for (const m of methods) out.set(m.label, m.method === 'full' ? FULL_COLOR : (PALETTE[i++ % PALETTE.length] ?? '#000000'));
  return out;
}

/** A colour per layer allocator, as the report's per-layer budget charts assign them: PALETTE by the allocators' sorted order. */
export function allocatorColors(allocators: Iterable<string>): Map<string, string> {
  const sorted = [...new Set(allocators)].sort();
  return new Map(sorted.map((a, i) => [a, PALETTE[i % PALETTE.length] ?? '#000000']));
}
