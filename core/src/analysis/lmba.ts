/**
 * LMBA — the Layer-wise Minimum Budget to keep Attention (ZigZagKV).
 *
 * Paper: Zhong et al., ZigZagKV, COLING 2025, https://arxiv.org/abs/2412.09036.
 *
 *   MBA_{l,h}(τ) = min { k : a(1)+…+a(k) ≥ τ · Σ_j a_{l,h}(j) },  a sorted descending, clamped to [1, n]
 *   LMBA_l(τ)    = mean over heads of MBA_{l,h}(τ)
 *
 * A layer whose attention is spread out needs many tokens to reach τ of the
 * mass (high LMBA, "uncertain"); a peaked layer needs few.
 *
 * Which distribution a_{l,h} is (the paper leaves it open; option `source`):
 *   'windowMean'   (default) per QUERY head, the mean of the α window queries'
 *                  softmax rows over all n keys = windows[α].sum / α (rows sum to 1).
 *   'lastToken'    per query head, the last prompt query's row (obs.lastQuery).
 *   'pooledScores' per KV head, SnapKV's pooled, group-averaged selection
 *                  scores with the window positions set to the row maximum
 *                  (the kvpress PR #238 v2 port; inflates LMBA by ≈ α·max/Σ).
 *
 * Shapes: input rows [H, n]; output per head Float64Array[H], per layer a number.
 */
import { ShapeError } from '../errors.ts';
import type { LayerObservation } from '../observation.ts';
import { requireQueryRows, windowOf } from '../observation.ts';
import type { Pooling } from '../scorers/pool.ts';
import { snapScores } from '../scorers/snapkv.ts';

export type LmbaSource = 'windowMean' | 'lastToken' | 'pooledScores';

export interface LmbaOptions {
  /** τ ∈ (0, 1): the share of attention mass to keep. */
  readonly tau: number;
  readonly source: LmbaSource;
  /** α: which observation window to read (windowMean, pooledScores). */
  readonly windowSize: number;
  /** Pooling for 'pooledScores' (SnapKV's kernel and type). */
  readonly kernelSize?: number;
  readonly pooling?: Pooling;
}

/**
 * MBA of one non-negative row: the fewest top entries whose sum reaches
 * τ·Σrow, in [1, n]. A zero row gives 1.
 *
 * Expected O(n): a three-way quickselect that descends only into the part of
 * the row that still decides the count (the ZigZagKV allocator runs this for
 * every query head of every layer, so a full sort per row dominated its cost).
 */
export function minBudgetForMass(row: ArrayLike<number>, tau: number): number {
  const n = row.length;
  if (n === 0) return 0;
  const a = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = row[i] ?? 0;
    if (!(v >= 0)) throw new ShapeError('attention row', `entries must be non-negative and not NaN, got ${v}`);
    a[i] = v;
    total += v;
  }
  if (total <= 0) return 1;
  // Relative slack so τ = 1 is reached despite float summation order.
  let need = tau * total * (1 - 1e-12);
  let count = 0;
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const x = a[lo] ?? 0;
    const y = a[(lo + hi) >>> 1] ?? 0;
    const z = a[hi] ?? 0;
    const p = x > y ? (y > z ? y : x > z ? z : x) : x > z ? x : y > z ? z : y;
    // Dutch-flag partition of [lo, hi]: [lo, gt) > p, [gt, i) == p, (lt, hi] < p.
    let gt = lo;
    let i = lo;
    let lt = hi;
    while (i <= lt) {
      const v = a[i] ?? 0;
      if (v > p) {
        a[i] = a[gt] ?? 0;
        a[gt] = v;
        gt++;
        i++;
      } else if (v < p) {
        a[i] = a[lt] ?? 0;
        a[lt] = v;
        lt--;
      } else i++;
    }
    let sumGreater = 0;
    for (let k = lo; k < gt; k++) sumGreater += a[k] ?? 0;
    if (sumGreater >= need) {
      hi = gt - 1; // the answer lies among the larger entries
      continue;
    }
    const equal = i - gt;
    if (sumGreater + equal * p >= need) {
      const k = p > 0 ? Math.ceil((need - sumGreater) / p - 1e-12) : 0;
      return Math.min(n, Math.max(1, count + (gt - lo) + Math.max(1, Math.min(equal, k))));
    }
    count += gt - lo + equal;
    need -= sumGreater + equal * p;
    lo = lt + 1;
  }
  return Math.min(n, Math.max(1, count));
}

/** MBA per head of one layer: Float64Array[Hq] (or [Hkv] for 'pooledScores'). */
export function lmbaPerHead(obs: LayerObservation, opts: LmbaOptions): Float64Array {
  if (!(opts.tau > 0 && opts.tau <= 1)) throw new ShapeError('lmba', `tau must be in (0, 1], got ${opts.tau}`);
  const n = obs.seqLen;
  let rows: Float32Array;
  let H: number;
  switch (opts.source) {
    case 'windowMean':
      rows = windowOf(obs, opts.windowSize, 'zigzagkv').sum.data;
      H = obs.numQueryHeads;
      break;
    case 'lastToken':
      rows = requireQueryRows(obs, obs.lastQuery, 'the attention of the last prompt token (lastQuery)', 'zigzagkv').data;
      H = obs.numQueryHeads;
      break;
    case 'pooledScores': {
      const w = windowOf(obs, opts.windowSize, 'zigzagkv');
      const a = w.size; // clamped to the prompt (observedWindow)
      rows = snapScores({ sum: w.sum.data, Hq: obs.numQueryHeads, Hkv: obs.numKvHeads, n, alpha: a }, opts.kernelSize ?? 7, opts.pooling ?? 'max');
      H = obs.numKvHeads;
      for (let h = 0; h < H; h++) {
        let max = 0;
        for (let j = 0; j < n - a; j++) max = Math.max(max, rows[h * n + j] ?? 0);
        for (let j = Math.max(0, n - a); j < n; j++) rows[h * n + j] = max;
      }
      break;
    }
  }
  const out = new Float64Array(H);
  for (let h = 0; h < H; h++) out[h] = minBudgetForMass(rows.subarray(h * n, (h + 1) * n), opts.tau);
  return out;
}

/** LMBA of one layer: the mean of its per-head MBA. */
export function lmbaLayer(obs: LayerObservation, opts: LmbaOptions): number {
  const per = lmbaPerHead(obs, opts);
  let s = 0;
  for (const v of per) s += v;
  return per.length ? s / per.length : 0;
}

/** LMBA for every layer: Float64Array[L]. */
export function lmbaPerLayer(observations: readonly LayerObservation[], opts: LmbaOptions): Float64Array {
  return Float64Array.from(observations, (o) => lmbaLayer(o, opts));
}
