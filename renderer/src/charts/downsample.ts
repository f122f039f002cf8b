/**
 * Drawing thousands of marks as SVG elements makes a chart slow to render and
 * to hover. These helpers thin what is DRAWN, never what is computed: the
 * aggregates come from every row (core's aggregate), and a drawn mark that
 * stands for several points carries all their ids, so clicking it still
 * opens every sample behind it.
 */

export interface BinnedPoint<T> {
  /** The first point that fell into the bin (its coordinates are drawn). */
  readonly point: T;
  /** Every point in the bin, in input order. */
  readonly members: readonly T[];
}

export interface BinOptions {
  readonly xDomain: readonly [number, number];
  readonly yDomain: readonly [number, number];
  /** Bins across and down: roughly the plot's size in pixels divided by a marker's diameter. */
  readonly binsX: number;
  readonly binsY: number;
}

/**
 * Groups points into a binsX × binsY grid over the domains and keeps one
 * drawn representative per occupied bin. Points outside the domains are
 * clamped into the edge bins; non-finite points are dropped (they cannot be
 * drawn anyway). Below `binsX · binsY` distinct positions nothing is lost to
 * the eye: two marks in one bin overlap on screen.
 */
export function binPoints<T extends { readonly x: number; readonly y: number }>(points: readonly T[], o: BinOptions): BinnedPoint<T>[] {
  const [x0, x1] = o.xDomain;
  const [y0, y1] = o.yDomain;
  const bx = Math.max(1, Math.floor(o.binsX));
  const by = Math.max(1, Math.floor(o.binsY));
  const bin = (v: number, lo: number, hi: number, n: number): number => (hi === lo ? 0 : Math.min(n - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * n))));
  const bins = new Map<number, { point: T; members: T[] }>();
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    const k = bin(p.y, y0, y1, by) * bx + bin(p.x, x0, x1, bx);
    const b = bins.get(k);
    if (b) b.members.push(p);
    else bins.set(k, { point: p, members: [p] });
  }
  return [...bins.values()];
}

/**
 * Thins points only when there are more than `max`; otherwise every point is
 * its own bin. The grid is coarsened (same aspect) until it has at most `max`
 * bins, so at most `max` marks are drawn.
 */
export function thinForDrawing<T extends { readonly x: number; readonly y: number }>(points: readonly T[], max: number, o: BinOptions): BinnedPoint<T>[] {
  if (points.length <= max) return points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => ({ point: p, members: [p] }));
  const bx = Math.max(1, Math.floor(o.binsX));
  const by = Math.max(1, Math.floor(o.binsY));
  const k = bx * by > max ? Math.sqrt(Math.max(1, max) / (bx * by)) : 1;
  return binPoints(points, { ...o, binsX: Math.max(1, Math.floor(bx * k)), binsY: Math.max(1, Math.floor(by * k)) });
}
