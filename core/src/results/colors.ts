/**
 * The colours results are drawn in, shared by the app's charts and the CLI
 * report so a method has the same colour on screen and on paper.
 *
 * electron/reports/svg.ts (the static report's writer) imports and
 * re-exports them; test/core/results/colors.test.ts checks the two agree.
 * NIAH heatmaps follow the field's convention (KVCache-Factory's
 * scripts_needle/visualize.py colormap: red → yellow → green for fail → pass).
 */

/** Colour-blind-safe palette (Okabe–Ito, then Paul Tol's muted), in a fixed order. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#882255', '#44AA99', '#999933', '#AA4499', '#332288', '#117733'];
/** The full-KV baseline's colour. */
export const FULL_COLOR = '#333333';
/** KVCache-Factory's NIAH colormap: fail → pass. */
export const NIAH_COLORS = ['#F0496E', '#EBB839', '#0CD79F'] as const;
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

/** Piecewise-linear interpolation over three stops at t = 0, 0.5, 1. */
function threeStop(stops: readonly [string, string, string], t: number): string {
  const [a, b, u] = t <= 0.5 ? [stops[0], stops[1], t * 2] : [stops[1], stops[2], (t - 0.5) * 2];
  const [ca, cb] = [hex(a), hex(b)];
  return toHex(ca.map((v, i) => v + ((cb[i] ?? v) - v) * u));
}

/** The colour of `value` on the #F0496E → #EBB839 → #0CD79F scale between vmin and vmax (clamped; lower-case hex). */
export function niahColor(value: number, vmin = 0, vmax = 1): string {
  const t = vmax === vmin ? 1 : Math.min(1, Math.max(0, (value - vmin) / (vmax - vmin)));
  return threeStop(NIAH_COLORS, t);
}

/** The colour of a difference on a diverging scale symmetric around 0, clamped at ±maxAbs (default 1, a score's range). */
export function deltaColor(delta: number, maxAbs = 1): string {
  const m = maxAbs > 0 ? maxAbs : 1;
  return threeStop(DELTA_COLORS, Math.min(1, Math.max(0, (delta / m + 1) / 2)));
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
