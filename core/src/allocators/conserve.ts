/**
 * Turning real-valued per-layer budgets into integers that conserve the total.
 *
 * Shared by every layer allocator:
 *  1. Feasibility: total ≥ Σ hi → every layer keeps everything; total < Σ lo → BudgetError.
 *  2. Water-fill on reals: clamp into [lo, hi]; share the surplus (or deficit)
 *     among layers not at the violated bound, in proportion to `weights`
 *     (equal shares when those weights are all 0); repeat until no bound is
 *     violated. The real total stays exactly `total`.
 *  3. Largest-remainder rounding to integers summing to `total`, ties to the
 *     lower layer. Bounds are integers, so rounding cannot break them.
 *
 * Known property of step 3 (Hamilton's method): it is not strictly monotone in
 * the total (the "Alabama paradox"): raising the total by one token can move
 * a layer's budget down by one. The real-valued water-fill IS monotone; the
 * property tests check both facts. ZigZagKV's paper and KVCache-Factory use largest
 * remainder, so we keep it and document the ±1.
 */
import { BudgetError, ShapeError } from '../errors.ts';

export type PerLayer = number | ArrayLike<number>;

const at = (v: PerLayer, l: number): number => (typeof v === 'number' ? v : (v[l] ?? 0));

/** Water-fills `raw` into [lo, hi] keeping Σ = total. Returns reals. */
export function waterFill(raw: ArrayLike<number>, total: number, lo: PerLayer, hi: PerLayer, weights: ArrayLike<number>): Float64Array {
  const L = raw.length;
  const x = Float64Array.from(raw);
  for (let iter = 0; iter <= 4 * L + 4; iter++) {
    let sum = 0;
    for (let l = 0; l < L; l++) {
      x[l] = Math.min(Math.max(x[l] ?? 0, at(lo, l)), at(hi, l));
      sum += x[l] ?? 0;
    }
    const diff = total - sum;
    if (Math.abs(diff) <= 1e-9 * Math.max(1, total)) break;
    const eligible: number[] = [];
    for (let l = 0; l < L; l++) if (diff > 0 ? (x[l] ?? 0) < at(hi, l) : (x[l] ?? 0) > at(lo, l)) eligible.push(l);
    if (eligible.length === 0) break; // infeasible; the caller checked feasibility
    let wsum = 0;
    for (const l of eligible) wsum += Math.max(0, weights[l] ?? 0);
    for (const l of eligible) {
      const share = wsum > 0 ? Math.max(0, weights[l] ?? 0) / wsum : 1 / eligible.length;
      x[l] = (x[l] ?? 0) + diff * share;
    }
  }
  return x;
}

/** Largest-remainder rounding of reals (already within integer bounds) to integers summing to `total`. */
export function largestRemainder(x: ArrayLike<number>, total: number): Int32Array {
  const L = x.length;
  const out = new Int32Array(L);
  const frac: { l: number; f: number }[] = [];
  let sum = 0;
  for (let l = 0; l < L; l++) {
    const v = x[l] ?? 0;
    // Snap values within 1e-9 of an integer so float noise cannot steal a seat.
    const r = Math.round(v);
    const fl = Math.abs(v - r) < 1e-9 ? r : Math.floor(v);
    out[l] = fl;
    sum += fl;
    frac.push({ l, f: v - fl });
  }
  let rest = total - sum;
  frac.sort((a, b) => b.f - a.f || a.l - b.l);
  for (let i = 0; rest > 0 && i < frac.length; i++, rest--) {
    const l = frac[i]?.l ?? 0;
    out[l] = (out[l] ?? 0) + 1;
  }
  for (let i = frac.length - 1; rest < 0 && i >= 0; i--, rest++) {
    const l = frac[i]?.l ?? 0;
    out[l] = (out[l] ?? 0) - 1;
  }
  return out;
}

/** Per-layer integer bounds and the water-fill's weights (see the steps above). */
export interface ConserveLimits {
  readonly lo: PerLayer;
  readonly hi: PerLayer;
  readonly weights: ArrayLike<number>;
}

/**
 * Steps 1–3 above. `lo`/`hi` are per-layer integer bounds (a number applies to
 * every layer); `lo` is lowered to `hi` where a layer has fewer tokens than
 * its floor. Returns Int32Array[L].
 */
export function conserveTotal(method: string, raw: ArrayLike<number>, total: number, limits: ConserveLimits): Int32Array {
  const { lo, hi, weights } = limits;
  const L = raw.length;
  if (weights.length !== L) throw new ShapeError(`${method} weights`, `need ${L} entries, got ${weights.length}`);
  if (!Number.isInteger(total) || total < 0) throw new BudgetError(method, `total must be a non-negative integer, got ${total}`);
  const loArr = new Float64Array(L);
  const hiArr = new Float64Array(L);
  let sumLo = 0;
  let sumHi = 0;
  for (let l = 0; l < L; l++) {
    const h = at(hi, l);
    const v = raw[l] ?? NaN;
    if (!Number.isFinite(v)) throw new ShapeError(`${method} raw budgets`, `layer ${l} is ${v}`);
    hiArr[l] = h;
    loArr[l] = Math.min(Math.ceil(at(lo, l)), h);
    sumLo += loArr[l] ?? 0;
    sumHi += h;
  }
  if (total >= sumHi) return Int32Array.from(hiArr);
  if (total < sumLo) {
    throw new BudgetError(method, `total ${total} is below the sum of per-layer minimums ${sumLo} (${L} layers × ≥${Math.min(...loArr)} tokens)`);
  }
  return largestRemainder(waterFill(raw, total, loArr, hiArr, weights), total);
}
