/**
 * The marks the recharts charts draw through their `shape`/`dot` props: our
 * own SVG elements so that every mark carries data-* attributes (tests and
 * the e2e suite count and click them), a click handler that reports the cell
 * ids it stands for, keyboard access, and a hollow variant for nominal
 * budgets.
 */
import type { KeyboardEvent, ReactNode } from 'react';

/** What recharts passes a custom shape (a subset; recharts passes more). */
export interface ShapeProps {
  readonly cx?: number | undefined;
  readonly cy?: number | undefined;
  readonly payload?: unknown;
}

export type MarkerKind = 'circle' | 'diamond' | 'square';

export interface MarkProps {
  readonly cx: number;
  readonly cy: number;
  readonly color: string;
  readonly kind?: MarkerKind;
  readonly hollow?: boolean;
  readonly r?: number;
  readonly opacity?: number;
  /** Draw a warning ring (the cell carries a sanity flag). */
  readonly warn?: boolean;
  readonly label: string;
  readonly testId: string;
  readonly data: Readonly<Record<string, string | number>>;
  readonly onActivate?: (() => void) | undefined;
}

const WARN = 'var(--error, #b00020)';

/** One clickable, focusable marker. */
export function Mark(p: MarkProps): ReactNode {
  const r = p.r ?? 4.5;
  const paint = p.hollow
    ? { fill: 'var(--chart-bg, #ffffff)', stroke: p.color, strokeWidth: 1.5 }
    : { fill: p.color, stroke: p.color, strokeWidth: 1, fillOpacity: p.opacity ?? 1, strokeOpacity: p.opacity ?? 1 };
  const dataAttrs = Object.fromEntries(Object.entries(p.data).map(([k, v]) => [`data-${k}`, String(v)]));
  const interactive = p.onActivate
    ? {
        role: 'button',
        tabIndex: 0,
        style: { cursor: 'pointer' },
        onClick: p.onActivate,
        onKeyDown: (e: KeyboardEvent) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            p.onActivate?.();
          }
        },
      }
    : {};
  const d = r * 1.35;
  const shape =
    p.kind === 'diamond' ? (
      <path d={`M${p.cx} ${p.cy - d}L${p.cx + d} ${p.cy}L${p.cx} ${p.cy + d}L${p.cx - d} ${p.cy}Z`} {...paint} />
    ) : p.kind === 'square' ? (
      <rect x={p.cx - r} y={p.cy - r} width={2 * r} height={2 * r} {...paint} />
    ) : (
      <circle cx={p.cx} cy={p.cy} r={r} {...paint} />
    );
  return (
    <g data-testid={p.testId} aria-label={p.label} {...dataAttrs} {...interactive}>
      <title>{p.label}</title>
      {p.warn ? <circle cx={p.cx} cy={p.cy} r={r + 3} fill="none" stroke={WARN} strokeWidth={1.5} strokeDasharray="2 2" /> : null}
      {shape}
    </g>
  );
}

/** A Mark's props but its position. */
export type MarkSpec = Omit<MarkProps, 'cx' | 'cy'>;

/** A recharts `shape`: a Mark where recharts places the point, its other props from the point's payload. */
export const markShape =
  <P,>(mark: (payload: P) => MarkSpec) =>
  (sp: ShapeProps): ReactNode => <Mark cx={sp.cx ?? 0} cy={sp.cy ?? 0} {...mark(sp.payload as P)} />;

/** What recharts passes a Bar's custom shape (a subset). */
export interface BarShapeProps {
  readonly x?: number | null | undefined;
  readonly y?: number | null | undefined;
  readonly width?: number | null | undefined;
  readonly height?: number | null | undefined;
  readonly index?: number | undefined;
  readonly value?: unknown;
}

/** Where a bar's rect goes: recharts' box, half a unit narrower so that neighbouring bars stay apart. */
export function barRect(b: BarShapeProps): { x: number; y: number; width: number; height: number } {
  return { x: b.x ?? 0, y: b.y ?? 0, width: Math.max(0.5, (b.width ?? 0) - 0.5), height: Math.max(0, b.height ?? 0) };
}

/** A shape that draws nothing (for series drawn only as a line). */
export const NoShape = (): ReactNode => <g />;
