/**
 * The frame every chart sits in: a title, a toolbar (the chart's own
 * controls and a PNG export button), the chart, and an HTML legend. The
 * legend is ours rather than recharts' so every chart (recharts or plain SVG)
 * lists its series the same way, tests can count them, and the PNG export
 * can draw it into the picture.
 */
import type { ReactNode, RefObject } from 'react';
import { useRef, useState } from 'react';
import type { LegendEntry } from './export-png.ts';
import { chartToPng, downloadBlob, escXml, pngFileName, SWATCH, swatchSvg } from './export-png.ts';

/** The props every chart takes besides its data (title, testId and onExportPng go to its ChartFrame). */
export interface ChartProps {
  readonly title?: string;
  readonly testId?: string;
  readonly width?: number;
  readonly height?: number;
  readonly onExportPng?: (png: Blob, fileName: string) => void;
}

/** A recharts chart's props: ChartProps and whether marks animate. */
export interface AnimatedChartProps extends ChartProps {
  readonly animate?: boolean;
}

export interface ChartFrameProps {
  /** data-testid of the frame; the export button is `${testId}-png`, the legend `${testId}-legend`. */
  readonly testId: string;
  readonly title: string;
  readonly legend?: readonly LegendEntry[];
  /** Controls shown next to the title (toggles, pickers). */
  readonly toolbar?: ReactNode;
  /** A line under the chart (what the marks mean, how many points were thinned). */
  readonly note?: ReactNode;
  /**
   * Called with the PNG instead of downloading it (the Reports screen collects
   * chart images this way). Without it the PNG is offered as a download.
   */
  readonly onExportPng?: (png: Blob, fileName: string) => void;
  readonly children: ReactNode;
}

export function ChartFrame(props: ChartFrameProps): ReactNode {
  const body = useRef<HTMLDivElement>(null);
  const { exportPng, error } = usePngExport(body, props);
  return (
    <figure className="kv-chart" data-testid={props.testId} style={{ margin: 0, minWidth: 0 }}>
      <figcaption className="kv-chart-head" style={{ display: 'flex', alignItems: 'center', gap: 8, flexWrap: 'wrap', marginBottom: 4 }}>
        <strong className="kv-chart-title" style={{ flex: '1 1 auto' }}>
          {props.title}
        </strong>
        {props.toolbar}
        <button type="button" className="kv-chart-png" data-testid={`${props.testId}-png`} onClick={exportPng} title="Save this chart as a PNG image">
          PNG
        </button>
      </figcaption>
      <div ref={body} className="kv-chart-body">
        {props.children}
      </div>
      {props.legend && props.legend.length > 0 ? <ChartLegend testId={`${props.testId}-legend`} entries={props.legend} /> : null}
      {props.note ? (
        <p className="kv-chart-note" style={{ margin: '2px 0 0', fontSize: 11, opacity: 0.8 }}>
          {props.note}
        </p>
      ) : null}
      {error ? (
        <p role="alert" className="kv-chart-error">
          PNG export failed: {error}
        </p>
      ) : null}
    </figure>
  );
}

/** Draws the chart body (with title and legend) into a PNG and hands it over or downloads it; remembers why the last try failed. */
function usePngExport(body: RefObject<HTMLDivElement | null>, props: ChartFrameProps): { exportPng: () => void; error: string | null } {
  const [error, setError] = useState<string | null>(null);
  const exportPng = (): void => {
    const root = body.current;
    if (!root) return;
    const fileName = pngFileName(props.title);
    setError(null);
    chartToPng(root, { title: props.title, ...(props.legend ? { legend: props.legend } : {}) })
      .then((png) => (props.onExportPng ? props.onExportPng(png, fileName) : downloadBlob(png, fileName)))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };
  return { exportPng, error };
}

/** One swatch and label per series, drawn as the PNG export draws them. */
function ChartLegend({ testId, entries }: { testId: string; entries: readonly LegendEntry[] }) {
  return (
    <ul
      className="kv-chart-legend"
      data-testid={testId}
      style={{ listStyle: 'none', margin: '4px 0 0', padding: 0, display: 'flex', flexWrap: 'wrap', gap: '2px 14px', fontSize: 12 }}
    >
      {entries.map((e) => (
        <li key={e.label} data-series={e.label} style={{ display: 'inline-flex', alignItems: 'center', gap: 5 }}>
          <svg
            aria-hidden="true"
            width={SWATCH.width}
            height={SWATCH.height}
            viewBox={`0 0 ${SWATCH.width} ${SWATCH.height}`}
            data-mark={e.mark ?? 'square'}
            className="kv-legend-swatch"
            // Our own markup (swatchSvg), the colour escaped: the same drawing the PNG export puts in the picture.
            dangerouslySetInnerHTML={{ __html: swatchSvg(e, escXml(e.color)) }}
          />
          {e.label}
        </li>
      ))}
    </ul>
  );
}
