/**
 * Reference attention over the observation window, in TypeScript.
 *
 * The engine computes these aggregates inside its ONNX graph; this file is
 * the plain-loop version used by analysis (LMBO), by the tests to build
 * observations from real Q/K, and as the spec the graph is checked against.
 * Softmax is computed in float64 and stored as float32, the type of the
 * observations the engine produces.
 *
 * Shapes:
 *   queries  [Hq, α, d]   the last α prompt queries, post-RoPE
 *   keys     [Hkv, n, d]  post-RoPE
 *   values   [Hkv, n, d]
 *   probs    [Hq, α, n]   softmax(q·kᵀ/√d) with the causal mask: window query i
 *                         sits at position n − α + i and gives 0 to later keys
 */
import { ShapeError } from '../errors.ts';
import type { LayerObservation, WindowAttention } from '../observation.ts';
import { groupSize } from '../observation.ts';
import type { Tensor } from '../tensor.ts';
import { expectDims, f32 } from '../tensor.ts';

export interface AttentionShape {
  readonly Hq: number;
  readonly Hkv: number;
  readonly alpha: number;
  readonly n: number;
  readonly d: number;
}

export function attentionShape(queries: Tensor<'float32'>, keys: Tensor<'float32'>): AttentionShape {
  expectDims('queries', queries, [-1, -1, -1]);
  expectDims('keys', keys, [-1, -1, -1]);
  const [Hq = 0, alpha = 0, d = 0] = queries.dims;
  const [Hkv = 0, n = 0, dk = 0] = keys.dims;
  if (d !== dk) throw new ShapeError('queries/keys', `head dims differ: ${d} vs ${dk}`);
  if (alpha > n) throw new ShapeError('queries', `window α = ${alpha} exceeds the ${n} keys`);
  groupSize({ numQueryHeads: Hq, numKvHeads: Hkv });
  return { Hq, Hkv, alpha, n, d };
}

/** Causal softmax attention of the window queries over all keys: [Hq, α, n]. */
export function windowAttentionProbs(queries: Tensor<'float32'>, keys: Tensor<'float32'>): Tensor<'float32'> {
  const { Hq, Hkv, alpha, n, d } = attentionShape(queries, keys);
  const g = Hq / Hkv;
  const out = new Float32Array(Hq * alpha * n);
  const logits = new Float64Array(n);
  const scale = 1 / Math.sqrt(d);
  for (let h = 0; h < Hq; h++) {
    const kvh = Math.floor(h / g);
    for (let i = 0; i < alpha; i++) {
      const pos = n - alpha + i;
      const qo = (h * alpha + i) * d;
      let max = -Infinity;
      for (let j = 0; j <= pos; j++) {
        const ko = (kvh * n + j) * d;
        let s = 0;
        for (let t = 0; t < d; t++) s += (queries.data[qo + t] ?? 0) * (keys.data[ko + t] ?? 0);
        s *= scale;
        logits[j] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let j = 0; j <= pos; j++) {
        const e = Math.exp((logits[j] ?? 0) - max);
        logits[j] = e;
        z += e;
      }
      const ro = (h * alpha + i) * n;
      for (let j = 0; j <= pos; j++) out[ro + j] = (logits[j] ?? 0) / z;
    }
  }
  return f32([Hq, alpha, n], out);
}

/** Aggregates probs [Hq, α, n] into the statistics an observation carries. */
export function windowStatsFromProbs(probs: Tensor<'float32'>): { window: WindowAttention; lastQuery: Tensor<'float32'> } {
  expectDims('probs', probs, [-1, -1, -1]);
  const [Hq = 0, alpha = 0, n = 0] = probs.dims;
  const sum = new Float32Array(Hq * n);
  const sq = new Float32Array(Hq * n);
  const ent = new Float32Array(Hq);
  const last = new Float32Array(Hq * n);
  for (let h = 0; h < Hq; h++) {
    let e = 0;
    for (let i = 0; i < alpha; i++) {
      const ro = (h * alpha + i) * n;
      let rowEnt = 0;
      for (let j = 0; j < n; j++) {
        const p = probs.data[ro + j] ?? 0;
        sum[h * n + j] = (sum[h * n + j] ?? 0) + p;
        sq[h * n + j] = (sq[h * n + j] ?? 0) + p * p;
        if (p > 0) rowEnt -= p * Math.log(p);
      }
      e += rowEnt;
      if (i === alpha - 1) last.set(probs.data.subarray(ro, ro + n), h * n);
    }
    ent[h] = alpha > 0 ? e / alpha : 0;
  }
  return { window: { size: alpha, sum: f32([Hq, n], sum), sqSum: f32([Hq, n], sq), entropy: ent }, lastQuery: f32([Hq, n], last) };
}

/**
 * Full-prompt accumulated attention for H2O: Σ over all n queries of their
 * causal attention rows, [Hq, n]. `queries` here is [Hq, n, d] (every prompt query).
 */
export function accumulatedAttention(queries: Tensor<'float32'>, keys: Tensor<'float32'>): Tensor<'float32'> {
  const probs = windowAttentionProbs(queries, keys); // α = n: every query
  const [Hq = 0, n = 0] = [probs.dims[0], probs.dims[2]];
  const out = new Float32Array(Hq * n);
  for (let h = 0; h < Hq; h++) {
    for (let i = 0; i < n; i++) {
      const ro = (h * n + i) * n;
      for (let j = 0; j <= i; j++) out[h * n + j] = (out[h * n + j] ?? 0) + (probs.data[ro + j] ?? 0);
    }
  }
  return f32([Hq, n], out);
}

export interface ObservationInputs {
  readonly layer: number;
  /** All prompt queries [Hq, n, d], post-RoPE. */
  readonly queries: Tensor<'float32'>;
  readonly keys: Tensor<'float32'>;
  readonly values: Tensor<'float32'>;
  /** Window sizes to aggregate (each ≤ n). */
  readonly windowSizes: readonly number[];
  /** Also compute H2O's accumulated attention (O(n²): small prompts only). */
  readonly accumulated?: boolean;
}

/** Builds a complete LayerObservation from raw Q/K/V (reference path; O(α·n·d) per window). */
export function observationFromQkv(inp: ObservationInputs): LayerObservation {
  const { queries, keys, values } = inp;
  expectDims('queries', queries, [-1, -1, -1]);
  const [Hq = 0, n = 0, d = 0] = queries.dims;
  const [Hkv = 0] = keys.dims;
  expectDims('keys', keys, [Hkv, n, d]);
  expectDims('values', values, [Hkv, n, d]);
  const windows: WindowAttention[] = [];
  let lastQuery: Tensor<'float32'> | undefined;
  for (const a of inp.windowSizes) {
    if (!Number.isInteger(a) || a < 1 || a > n) throw new ShapeError('windowSizes', `window ${a} must be an integer in [1, ${n}]`);
    const q = f32([Hq, a, d], sliceWindow(queries.data, Hq, n, d, a));
    const st = windowStatsFromProbs(windowAttentionProbs(q, keys));
    windows.push(st.window);
    lastQuery ??= st.lastQuery;
  }
  if (!lastQuery) {
    const q = f32([Hq, 1, d], sliceWindow(queries.data, Hq, n, d, 1));
    lastQuery = windowStatsFromProbs(windowAttentionProbs(q, keys)).lastQuery;
  }
  return {
    layer: inp.layer,
    seqLen: n,
    numQueryHeads: Hq,
    numKvHeads: Hkv,
    headDim: d,
    windows,
    lastQuery,
    ...(inp.accumulated ? { accumulated: accumulatedAttention(queries, keys) } : {}),
    keys,
    values,
  };
}

/** The last `alpha` rows of every head of [H, n, d] → [H, α, d]. */
export function sliceWindow(data: Float32Array, H: number, n: number, d: number, alpha: number): Float32Array {
  const out = new Float32Array(H * alpha * d);
  for (let h = 0; h < H; h++) out.set(data.subarray((h * n + n - alpha) * d, (h * n + n) * d), h * alpha * d);
  return out;
}
