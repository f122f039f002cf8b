/**
 * Naive references for the scorer tests, written from the papers' definitions
 * with explicit loops and plain number arrays. They share no code with core
 * (not even its attention), so a bug in core cannot hide in its own reference.
 *
 * Layouts (row-major flat arrays): queries [Hq, n, d], keys [Hkv, n, d].
 */
import type { Tensor } from '@kvlab/core';

/** softmax(q·kᵀ/√d) of query position `i` in query head `h` over keys 0..i (causal); length n, zeros after i. */
export function naiveAttentionRow(queries: Tensor<'float32'>, keys: Tensor<'float32'>, h: number, i: number): number[] {
  const [Hq = 0, nq = 0, d = 0] = queries.dims;
  const [Hkv = 0, n = 0] = keys.dims;
  const kvh = Math.floor(h / (Hq / Hkv));
  const logits: number[] = [];
  for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += (queries.data[(h * nq + i) * d + t] ?? 0) * (keys.data[(kvh * n + j) * d + t] ?? 0);
    logits.push(s / Math.sqrt(d));
  }
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const z = exps.reduce((a, b) => a + b, 0);
  const row = new Array<number>(n).fill(0);
  for (let j = 0; j <= i; j++) row[j] = (exps[j] ?? 0) / z;
  return row;
}

/** Mean of query-head rows [Hq][n] over each group of g = Hq/Hkv heads → [Hkv][n]. */
export function naiveGroupMean(rows: number[][], Hkv: number): number[][] {
  const g = rows.length / Hkv;
  const out: number[][] = [];
  for (let k = 0; k < Hkv; k++) {
    const n = rows[0]?.length ?? 0;
    const r = new Array<number>(n).fill(0);
    for (let h = k * g; h < (k + 1) * g; h++) for (let j = 0; j < n; j++) r[j] = (r[j] ?? 0) + (rows[h]?.[j] ?? 0) / g;
    out.push(r);
  }
  return out;
}

/** Sets the last `w` entries of every row to +Infinity (a protected window). */
export function protectTail(rows: number[][], w: number): number[][] {
  return rows.map((r) => r.map((x, j) => (j >= r.length - w ? Infinity : x)));
}

/** Selection from the definition: protected tokens, then the best scores (ties → earlier index), ascending. */
export function naiveKeep(scores: readonly number[], budget: number, sinks: number, window: number): number[] {
  const n = scores.length;
  if (budget >= n) return Array.from({ length: n }, (_, i) => i);
  const s = Math.min(sinks, n);
  const w = Math.min(window, n - s);
  const cand: number[] = [];
  for (let i = s; i < n - w; i++) cand.push(i);
  cand.sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || a - b);
  const keep = new Set(cand.slice(0, budget - s - w));
  for (let i = 0; i < s; i++) keep.add(i);
  for (let i = n - w; i < n; i++) keep.add(i);
  return [...keep].sort((a, b) => a - b);
}

/** Rows of a [R, n] tensor as number arrays. */
export function rowsOf(t: Tensor<'float32'>): number[][] {
  const [R = 0, n = 0] = t.dims;
  return Array.from({ length: R }, (_, r) => Array.from(t.data.subarray(r * n, (r + 1) * n)));
}
