/**
 * The lab's charts: pure components (props in, SVG out, clicks out) over
 * core's result aggregates, each in a ChartFrame with a PNG export.
 */
export { ChartFrame } from './ChartFrame.tsx';
export type { ChartFrameProps } from './ChartFrame.tsx';
export { ParetoChart, MAX_SAMPLE_DOTS } from './ParetoChart.tsx';
export type { ParetoChartProps, ParetoSample } from './ParetoChart.tsx';
export { NiahHeatmap, niahTitle } from './NiahHeatmap.tsx';
export type { NiahHeatmapProps } from './NiahHeatmap.tsx';
export { DeltaHeatmap } from './DeltaHeatmap.tsx';
export type { DeltaHeatmapProps } from './DeltaHeatmap.tsx';
export { HeatmapGrid } from './HeatmapGrid.tsx';
export type { HeatmapGridProps } from './HeatmapGrid.tsx';
export { LayerBudgetBars, niceMax } from './LayerBudgetBars.tsx';
export type { BudgetSeries, EditableBudgets, LayerBudgetBarsProps } from './LayerBudgetBars.tsx';
export { FidelityCurves, FIDELITY_METRICS } from './FidelityCurves.tsx';
export type { FidelityCurvesProps, FidelityMetric } from './FidelityCurves.tsx';
export { LayerProfileChart, PROFILE_COLORS } from './LayerProfileChart.tsx';
export type { LayerProfileChartProps } from './LayerProfileChart.tsx';
export { redistribute, rescaleTotal } from './budget-edit.ts';
export type { BudgetBounds } from './budget-edit.ts';
export { chartToPng, downloadBlob, findChartSvg, pngFileName, serializeSvg, svgTextToPng } from './export-png.ts';
export type { LegendEntry, PngOptions, RasterDeps } from './export-png.ts';
export { binPoints, thinForDrawing } from './downsample.ts';
export { ANIMATION_MAX_POINTS, CHART_THEME } from './theme.ts';
export { RetentionMap, retentionRuns } from './RetentionMap.tsx';
export type { RetentionMapProps } from './RetentionMap.tsx';
export { SamplePanel } from './SamplePanel.tsx';
export type { SamplePanelProps } from './SamplePanel.tsx';
export { useChartWidth } from './use-width.ts';
