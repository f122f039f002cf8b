/**
 * The one selector: scores + per-head budgets → kept token indices.
 *
 * Every scorer feeds this function; none does its own top-k, so two methods
 * that differ only in their scores can never differ in how ties, sinks or the
 * window are handled. For each KV head it keeps the
 * protected sinks and window, then the highest-scoring remaining tokens until
 * the head's budget is met, and returns the kept indices in ascending
 * original order (so the cache keeps the prompt's order and the overlays need
 * no sort).
 *
 * Ties are broken toward the EARLIER token, so the result is a function of the
 * scores alone. Selection is O(n) per head: a quickselect finds the k-th
 * largest score, then one pass collects the tokens above it and, in index
 * order, just enough tokens equal to it.
 *
 * Shapes: scores [Hkv, n]; budgets Int32Array[Hkv] (tokens per head, window
 * and sinks included); result: Int32Array[Hkv] of ascending positions.
 */
import { BudgetError, ShapeError } from './errors.ts';
import type { Protected } from './method.ts';
import type { Tensor } from './tensor.ts';
import { assertNoNaN, expectDims } from './tensor.ts';

/** Kept positions per KV head, ascending. */
export type KeptIndices = readonly Int32Array[];

export function selectTokens(scores: Tensor<'float32'>, budgets: ArrayLike<number>, protect: Protected, method = 'selector'): KeptIndices {
  expectDims('scores', scores, [-1, -1]);
  const [hkv = 0, n = 0] = scores.dims;
  if (budgets.length !== hkv) throw new ShapeError('budgets', `need one budget per KV head (${hkv}), got ${budgets.length}`);
  assertNoNaN(`scores from '${method}'`, scores.data);
  const sinks = Math.min(protect.sinks, n);
  const window = Math.min(protect.window, n - sinks);
  const out: Int32Array[] = [];
  for (let h = 0; h < hkv; h++) {
    const b = budgets[h] ?? 0;
    if (!Number.isInteger(b) || b < 0) throw new BudgetError(method, `head ${h} budget must be a non-negative integer, got ${b}`);
    if (b >= n) {
      out.push(Int32Array.from({ length: n }, (_, i) => i));
      continue;
    }
    if (b < sinks + window) {
      throw new BudgetError(method, `head ${h} budget ${b} is below the ${sinks + window} protected tokens (${sinks} sinks + ${window} window)`);
    }
    out.push(selectHead(scores.data.subarray(h * n, (h + 1) * n), b, sinks, window));
  }
  return out;
}

function selectHead(s: Float32Array, budget: number, sinks: number, window: number): Int32Array {
  const n = s.length;
  const lo = sinks;
  const hi = n - window; // candidates are [lo, hi)
  const k = budget - sinks - window;
  const kept = new Int32Array(budget);
  let w = 0;
  for (let i = 0; i < lo; i++) kept[w++] = i;
  if (k > 0) {
    const cand = s.slice(lo, hi);
    const thr = kthLargest(cand, k);
    let above = 0;
    for (let i = lo; i < hi; i++) if ((s[i] ?? 0) > thr) above++;
    let equalQuota = k - above;
    for (let i = lo; i < hi; i++) {
      const v = s[i] ?? 0;
      if (v > thr) kept[w++] = i;
      else if (v === thr && equalQuota > 0) {
        kept[w++] = i;
        equalQuota--;
      }
    }
  }
  for (let i = hi; i < n; i++) kept[w++] = i;
  return kept;
}

/** The k-th largest value (1-based) of `a`, which is reordered in place. Hoare quickselect, median-of-three. */
export function kthLargest(a: Float32Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  const target = k - 1; // index in descending order
  while (right > left) {
    const mid = (left + right) >>> 1;
    const x = a[left] ?? 0;
    const y = a[mid] ?? 0;
    const z = a[right] ?? 0;
    const pivot = x > y ? (y > z ? y : x > z ? z : x) : x > z ? x : y > z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((a[i] ?? 0) > pivot) i++;
      while ((a[j] ?? 0) < pivot) j--;
      if (i <= j) {
        const t = a[i] ?? 0;
        a[i] = a[j] ?? 0;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) right = j;
    else if (target >= i) left = i;
    else return a[target] ?? 0;
  }
  return a[target] ?? 0;
}
