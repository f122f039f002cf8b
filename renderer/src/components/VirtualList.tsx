/**
 * A fixed-row-height virtual list: only the rows in view (plus `overscan`)
 * are in the DOM, so a run's 50 000 log lines or result rows scroll as fast
 * as 50. Deliberately tiny (no dependency): rows have one height, the
 * viewport's height comes from a ResizeObserver where there is one and from
 * `height` otherwise (jsdom, first paint).
 *
 * `follow`: stay pinned to the bottom while the user has not scrolled up —
 * what a log view wants as lines stream in.
 */
import { useEffect, useLayoutEffect, useRef, useState, type ReactNode, type UIEvent } from 'react';

export interface VirtualListProps<T> {
  readonly items: readonly T[];
  readonly rowHeight: number;
  /** Viewport height in px when it cannot be measured (and the CSS height of the list). */
  readonly height: number;
  readonly overscan?: number;
  readonly follow?: boolean;
  readonly renderRow: (item: T, index: number) => ReactNode;
  readonly rowKey?: (item: T, index: number) => string | number;
  readonly className?: string;
  readonly testId?: string;
  readonly empty?: ReactNode;
  readonly ariaLabel?: string;
}

export function VirtualList<T>({
  items,
  rowHeight,
  height,
  overscan = 8,
  follow = false,
  renderRow,
  rowKey,
  className,
  testId,
  empty,
  ariaLabel,
}: VirtualListProps<T>) {
  const { ref, scrollTop, viewport, onScroll } = useScrollWindow({ count: items.length, rowHeight, height, follow });
  const total = items.length * rowHeight;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const item = items[i] as T;
    rows.push(
      <div
        key={rowKey ? rowKey(item, i) : i}
        className="vlist-row"
        role="listitem"
        style={{ position: 'absolute', top: i * rowHeight, height: rowHeight, left: 0, right: 0 }}
      >
        {renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      className={`vlist ${className ?? ''}`}
      data-testid={testId}
      data-count={items.length}
      role="list"
      aria-label={ariaLabel}
      style={{ height, overflowY: 'auto', position: 'relative' }}
      onScroll={onScroll}
    >
      {items.length === 0 && empty ? <div className="vlist-empty">{empty}</div> : null}
      <div style={{ height: total, position: 'relative' }}>{rows}</div>
    </div>
  );
}

/**
 * Where the list is scrolled and how tall its viewport really is (a ResizeObserver keeps it current), and in
 * follow mode the scroll to the end whenever rows arrive — but only while the user is at the end already.
 */
function useScrollWindow(o: { count: number; rowHeight: number; height: number; follow: boolean }) {
  const { count, rowHeight, follow } = o;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(o.height);
  const pinned = useRef(true);

  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (el.clientHeight > 0) setViewport(el.clientHeight);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Follow mode: after new rows arrive, scroll to the end if the user was at the end.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!follow || !el || !pinned.current) return;
    el.scrollTop = count * rowHeight;
    setScrollTop(el.scrollTop);
  }, [follow, count, rowHeight]);

  const onScroll = (e: UIEvent<HTMLDivElement>): void => {
    const el = e.currentTarget;
    setScrollTop(el.scrollTop);
    pinned.current = el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight;
  };
  return { ref, scrollTop, viewport, onScroll };
}
