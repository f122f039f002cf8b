/**
 * The width a chart should draw at: the fixed width when the caller gives one
 * (tests, exports), else its container's width, followed with ResizeObserver.
 *
 * Why not recharts' ResponsiveContainer: it draws nothing until it has
 * measured a non-zero size, so a chart is blank wherever layout is missing
 * (jsdom component tests) and flashes empty on first paint. Here the first
 * paint is measured synchronously (useLayoutEffect) and the fallback width
 * is used only where nothing can be measured.
 */
import type { RefObject } from 'react';
import { useLayoutEffect, useRef, useState } from 'react';

export const FALLBACK_WIDTH = 640;

export function useChartWidth(fixed: number | undefined, fallback = FALLBACK_WIDTH): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement | null>(null);
  const [measured, setMeasured] = useState<number | null>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (fixed !== undefined || !el) return undefined;
    const read = (w: number): void => {
      if (w > 0) setMeasured((old) => (old === Math.floor(w) ? old : Math.floor(w)));
    };
    read(el.clientWidth);
    if (typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver((entries) => read(entries[0]?.contentRect.width ?? 0));
    ro.observe(el);
    return () => ro.disconnect();
  }, [fixed]);
  return [ref, fixed ?? measured ?? fallback];
}
