/**
 * Token-level fidelity of a compressed cache against the full cache, from
 * next-token logits — the metrics that stay meaningful on small models such
 * as stories260K, which cannot answer retrieval tasks (perplexity and ΔNLL
 * against the budget).
 *
 * Logits are [T, V] row-major (row t = the distribution that predicts target
 * t), float32 or float64. Everything is computed in float64 with a max-shifted
 * log-sum-exp, so large logits neither overflow nor lose the small differences
 * between two caches.
 *
 *   NLL_t        = logsumexp(z_t) − z_t[y_t]                     (nats)
 *   perplexity   = exp(mean_t NLL_t)
 *   ΔNLL_t       = NLL_t(compressed) − NLL_t(full)
 *   KL_t(P‖Q)    = Σ_v p_v (log p_v − log q_v),  P = softmax(full), Q = softmax(compressed)
 *   top-1 agree  = fraction of t with argmax z_full,t = argmax z_comp,t (ties: lowest id)
 *   greedy match = length of the common prefix of two generated id sequences
 */
import { ShapeError } from '../errors.ts';

/** [T, V] logits; a float32 `Tensor` fits. */
export interface Logits {
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array;
}

function shape(what: string, l: Logits): [number, number] {
  const [T, V] = l.dims;
  if (l.dims.length !== 2 || T === undefined || V === undefined || V < 1)
    throw new ShapeError(what, `expected logits [T, V] with V ≥ 1, got [${l.dims.join(', ')}]`);
  if (l.data.length !== T * V) throw new ShapeError(what, `dims [${T}, ${V}] need ${T * V} elements, data has ${l.data.length}`);
  return [T, V];
}

/** log-softmax of row t in float64. */
export function logSoftmaxRow(l: Logits, t: number): Float64Array {
  const V = l.dims[1] ?? 0;
  const out = new Float64Array(V);
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, l.data[t * V + v] ?? 0);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp((l.data[t * V + v] ?? 0) - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < V; v++) out[v] = (l.data[t * V + v] ?? 0) - lse;
  return out;
}

/** Teacher-forced NLL per position: −log softmax(z_t)[targets[t]]. */
export function tokenNll(logits: Logits, targets: ArrayLike<number>): Float64Array {
  const [T, V] = shape('logits', logits);
  if (targets.length !== T) throw new ShapeError('targets', `expected ${T} target ids (one per logits row), got ${targets.length}`);
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const y = targets[t] ?? -1;
    if (!Number.isInteger(y) || y < 0 || y >= V) throw new ShapeError('targets', `target ${t} is ${y}, outside [0, ${V})`);
    out[t] = -(logSoftmaxRow(logits, t)[y] ?? 0);
  }
  return out;
}

/** Arithmetic mean (NaN for an empty array). */
function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] ?? 0;
  return s / xs.length;
}

/** exp(mean NLL). */
export function perplexity(nll: ArrayLike<number>): number {
  return Math.exp(mean(nll));
}

/** ΔNLL per position: compressed − full (positive = the compressed cache predicts worse). */
export function deltaNll(compressed: ArrayLike<number>, full: ArrayLike<number>): Float64Array {
  if (compressed.length !== full.length) throw new ShapeError('nll', `lengths differ: ${compressed.length} vs ${full.length}`);
  return Float64Array.from({ length: full.length }, (_, i) => (compressed[i] ?? 0) - (full[i] ?? 0));
}

/** KL(full ‖ compressed) per position, in nats (≥ 0). */
export function klDivergence(full: Logits, compressed: Logits): Float64Array {
  const [T, V] = shape('full logits', full);
  const [T2, V2] = shape('compressed logits', compressed);
  if (T !== T2 || V !== V2) throw new ShapeError('logits', `full [${T}, ${V}] and compressed [${T2}, ${V2}] differ`);
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const lp = logSoftmaxRow(full, t);
    const lq = logSoftmaxRow(compressed, t);
    let kl = 0;
    for (let v = 0; v < V; v++) {
      const a = lp[v] ?? -Infinity;
      if (a === -Infinity) continue; // p_v = 0 contributes nothing
      kl += Math.exp(a) * (a - (lq[v] ?? 0));
    }
    out[t] = Math.max(0, kl);
  }
  return out;
}

/** Index of the largest logit of row t (ties: the lowest id). */
export function argmaxRow(l: Logits, t: number): number {
  const V = l.dims[1] ?? 0;
  let best = 0;
  for (let v = 1; v < V; v++) if ((l.data[t * V + v] ?? 0) > (l.data[t * V + best] ?? 0)) best = v;
  return best;
}

/** Fraction of positions where both caches predict the same next token. */
export function top1Agreement(full: Logits, compressed: Logits): number {
  const [T, V] = shape('full logits', full);
  const [T2, V2] = shape('compressed logits', compressed);
  if (T !== T2 || V !== V2) throw new ShapeError('logits', `full [${T}, ${V}] and compressed [${T2}, ${V2}] differ`);
  let same = 0;
  for (let t = 0; t < T; t++) if (argmaxRow(full, t) === argmaxRow(compressed, t)) same++;
  return T === 0 ? NaN : same / T;
}

/** Length of the common prefix of two greedy generations. */
export function greedyPrefixMatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export interface FidelitySummary {
  readonly nllFull: number;
  readonly nllCompressed: number;
  readonly perplexityFull: number;
  readonly perplexityCompressed: number;
  /** mean ΔNLL (compressed − full) */
  readonly deltaNll: number;
  /** mean KL(full ‖ compressed) */
  readonly kl: number;
  readonly top1Agreement: number;
  readonly tokens: number;
}

/** All teacher-forced fidelity numbers for one sample (means over the T scored positions). */
export function fidelitySummary(full: Logits, compressed: Logits, targets: ArrayLike<number>): FidelitySummary {
  const nf = tokenNll(full, targets);
  const nc = tokenNll(compressed, targets);
  return {
    nllFull: mean(nf),
    nllCompressed: mean(nc),
    perplexityFull: perplexity(nf),
    perplexityCompressed: perplexity(nc),
    deltaNll: mean(deltaNll(nc, nf)),
    kl: mean(klDivergence(full, compressed)),
    top1Agreement: top1Agreement(full, compressed),
    tokens: targets.length,
  };
}
