/**
 * Colours of the chart chrome (axes, grid, text, tooltip), as the app
 * stylesheet's CSS variables (renderer/src/styles.css: --chart-bg,
 * --chart-grid, --chart-axis, --fg, …) with light-theme fallbacks, so a theme
 * switch repaints every chart. Data colours are core's (results/colors.ts),
 * the same as the CLI report's, in both themes.
 *
 * The PNG export resolves these var() references to the computed values
 * before it rasterises, since an SVG drawn into a canvas sees no page CSS.
 */
export const CHART_THEME = {
  axis: 'var(--chart-axis, #666666)',
  grid: 'var(--chart-grid, #e4e4e4)',
  text: 'var(--fg, #333333)',
  background: 'var(--chart-bg, #ffffff)',
  muted: 'var(--fg-muted, #9a9a9a)',
  /** A heatmap cell with no sample (the report's grey). */
  empty: 'var(--chart-empty, #d9d9d9)',
  tooltipBackground: 'var(--bg-elev, #ffffff)',
  tooltipText: 'var(--fg, #111111)',
  tooltipBorder: 'var(--border, #cccccc)',
  /** LMBA overlay line, the custom allocation, the trained-length line. */
  overlay: 'var(--fg, #111111)',
  /** The full-KV baseline: the report's dark grey (core's FULL_COLOR) on light, the text colour on dark so it stays visible. */
  full: 'var(--fg, #333333)',
  /** Sanity-guard rings and outlines. */
  warning: 'var(--error, #b00020)',
} as const;

/** Recharts' animations are pleasant for a dozen points and a cost for thousands: off above this many drawn marks. */
export const ANIMATION_MAX_POINTS = 300;

/** The inline style of chart tooltips. */
export const TOOLTIP_STYLE = {
  background: CHART_THEME.tooltipBackground,
  color: CHART_THEME.tooltipText,
  border: `1px solid ${CHART_THEME.tooltipBorder}`,
  borderRadius: 4,
  padding: '6px 8px',
  fontSize: 12,
  lineHeight: 1.35,
  maxWidth: 360,
} as const;
