/**
 * LMBO — the Layer-wise Minimum Budget to keep the Output (ZigZagKV). Analysis only:
 * no allocator reads it: ZigZagKV's allocator uses LMBA only.
 *
 * Paper: Zhong et al., "ZigZagKV: Dynamic KV Cache Compression for Long-context
 * Modeling based on Layer Uncertainty", COLING 2025, https://arxiv.org/abs/2412.09036.
 * The paper's full text was not available when this was written, so the definition
 * below is KV Lab's (low confidence in matching the paper's details), and every open
 * choice is an option.
 *
 * One layer; window query i sits at position pos_i = n − α + i and sees keys j ≤ pos_i:
 *   p[h,i,j]  causal softmax(q·kᵀ/√d) of window query i in query head h (windowAttentionProbs)
 *   o         the attention-block output (before o_proj) of the α window queries, every
 *             query head concatenated: o[h,i] = Σ_j p[h,i,j]·V[kv(h),j]   (Hq·α·d numbers)
 *   s_h(j)    Σ_i p[h,i,j]: head h's window-summed attention (no pooling)
 *   K_h(B)    the top-B tokens by s, ties to the earlier token; B counts every token
 *             (the window is not protected: only the top-B tokens of each head are kept)
 *   õ(B)      o with each row's softmax renormalised over K_h(B) ∩ {j ≤ pos_i}:
 *             Σ_{j∈K} p_j·V_j / Σ_{j∈K} p_j. A row that keeps no visible token outputs 0.
 *   sim(B)    'cosine'  cos(o, õ)                         (the default)
 *             'relL2'   1 − ‖o − õ‖/‖o‖, so sim ≥ τ_o ⇔ the relative L2 error ≤ 1 − τ_o
 *   LMBO      min { B ∈ [1, n] : sim(B) ≥ τ_o }, with sim(n) = 1 exactly, so LMBO ≤ n.
 *
 * Options (defaults):
 *   threshold   τ_o = 0.95   in (0, 1]. No paper value exists; 0.95 is a placeholder
 *                            that separates peaked from diffuse layers on test data.
 *   similarity  'cosine'     'cosine' | 'relL2' (both over the concatenated output).
 *   granularity 'kvHead'     'kvHead': rank by the mean of s over the g query heads of a KV
 *                            head, so the whole group keeps the same B tokens — what a GQA
 *                            cache can hold. 'queryHead': every query head keeps
 *                            its own top B (g× the memory; comparison only).
 *   grid        32           the budgets of the returned curve: a count G ≥ 2 of log-spaced
 *                            integers in [1, n] (1 and n included), or an explicit list.
 *
 * Exact, not bisected: tokens are added to õ in rank order while every row keeps Σp·v,
 * Σp, o·(Σp·v) and ‖Σp·v‖², so sim(B) is known for EVERY B in one pass costing about
 * the same as computing o (O(Hq·α·n·d)). LMBO is therefore the true smallest B and
 * needs no monotonicity assumption (sim(B) is not monotone: adding a token can pull õ
 * away from o). The pass stops once the grid, LMBO and every per-head LMBO are known.
 *
 * Shapes: queries [Hq, α, d] (the window queries, post-RoPE); keys, values [Hkv, n, d]
 * (keys post-RoPE). Result: curve over the grid, lmbo (integer), perHead Int32Array[Hkv]
 * (the same search on each KV head's rows alone).
 */
import { z } from 'zod';
import { ParamError, ShapeError } from '../errors.ts';
import { parseParams } from '../method.ts';
import { enumParam, numParam, paramObject } from '../params.ts';
import type { Tensor } from '../tensor.ts';
import { expectDims } from '../tensor.ts';
import { attentionShape, windowAttentionProbs } from './attention.ts';

const gridError = { error: 'must be an integer in [2, 100000] (that many log-spaced budgets in [1, n]) or a non-empty list of integer budgets ≥ 1' };

export const lmboParams = paramObject({
  threshold: numParam({
    min: 0,
    max: 1,
    exclusiveMin: true,
    default: 0.95,
    description: 'τ_o: the similarity the kept tokens must reach (no paper value; placeholder).',
  }),
  similarity: enumParam(['cosine', 'relL2'], 'cosine', "How õ is compared with o: cosine, or 1 − ‖o − õ‖/‖o‖ ('relL2')."),
  granularity: enumParam(['kvHead', 'queryHead'], 'kvHead', 'Rank tokens per KV head (group mean, what a GQA cache holds) or per query head.'),
  grid: z
    .union(
      [
        z.number(gridError).int(gridError).min(2, gridError).max(100_000, gridError),
        z.array(z.number(gridError).int(gridError).min(1, gridError), gridError).min(1, gridError),
      ],
      gridError,
    )
    .default(32)
    .describe('Budgets of the returned curve: a count of log-spaced budgets in [1, n], or an explicit list.'),
});
export type LmboParams = z.infer<typeof lmboParams>;

/** What callers pass; every field is optional and validated (ParamError naming 'lmbo'). */
export interface LmboOptions {
  readonly threshold?: number;
  readonly similarity?: 'cosine' | 'relL2';
  readonly granularity?: 'kvHead' | 'queryHead';
  readonly grid?: number | readonly number[];
}

export interface LmboInputs {
  /** The α window queries [Hq, α, d], post-RoPE. */
  readonly queries: Tensor<'float32'>;
  readonly keys: Tensor<'float32'>;
  readonly values: Tensor<'float32'>;
}

export interface LmboPoint {
  readonly budget: number;
  readonly similarity: number;
}

export interface LmboResult {
  /** sim(B) at every grid budget, ascending. */
  readonly curve: readonly LmboPoint[];
  /** The smallest B in [1, n] with sim(B) ≥ τ_o. */
  readonly lmbo: number;
  /** The same per KV head, over that head's query heads and window queries only. */
  readonly perHead: Int32Array;
}

const LMBO = { id: 'lmbo', params: lmboParams };

/** Integer budgets of the curve, ascending and unique. */
export function lmboGrid(grid: number | readonly number[], n: number): Int32Array {
  if (typeof grid === 'number') {
    const out = new Set<number>();
    for (let k = 0; k < grid; k++) out.add(Math.min(n, Math.max(1, Math.round(n ** (k / (grid - 1))))));
    return Int32Array.from([...out].sort((a, b) => a - b));
  }
  for (const b of grid) if (b > n) throw new ParamError('lmbo', 'grid', `budget ${b} exceeds the ${n} tokens of the layer`);
  return Int32Array.from(new Set(grid)).sort();
}

function similarityOf(kind: 'cosine' | 'relL2', oo: number, cross: number, sq: number): number {
  if (oo === 0) return sq === 0 ? 1 : 0;
  if (kind === 'cosine') return sq === 0 ? 0 : Math.min(1, cross / Math.sqrt(oo * sq));
  return 1 - Math.sqrt(Math.max(0, oo - 2 * cross + sq) / oo);
}

/** One layer's window attention and values, with the sizes every step reads. */
interface LayerData {
  /** Window attention probabilities [Hq, α, n]. */
  readonly probs: Float32Array;
  /** Values [Hkv, n, d]. */
  readonly V: Float32Array;
  readonly Hq: number;
  readonly Hkv: number;
  readonly alpha: number;
  readonly n: number;
  readonly d: number;
  /** Query heads per KV head. */
  readonly g: number;
  /** Hq·α output rows. */
  readonly rows: number;
  /** Position of window query 0. */
  readonly first: number;
}

/** o, renormalised by Σp (≈ 1) exactly like õ, so that õ(n) = o up to summation order; with ‖o‖² per KV head and in all. */
function fullOutput(L: LayerData): { o: Float64Array; ooHead: Float64Array; oo: number } {
  const { probs, V, Hq, Hkv, alpha, n, d, g, rows, first } = L;
  const o = new Float64Array(rows * d);
  const ooHead = new Float64Array(Hkv);
  for (let h = 0; h < Hq; h++) {
    const kvh = Math.floor(h / g);
    for (let i = 0; i < alpha; i++) {
      const r = h * alpha + i;
      let z = 0;
      for (let j = 0; j <= first + i; j++) {
        const pj = probs[r * n + j] ?? 0;
        if (pj === 0) continue;
        z += pj;
        const vo = (kvh * n + j) * d;
        for (let t = 0; t < d; t++) o[r * d + t] = (o[r * d + t] ?? 0) + pj * (V[vo + t] ?? 0);
      }
      let s = 0;
      for (let t = 0; t < d; t++) {
        const x = z > 0 ? (o[r * d + t] ?? 0) / z : 0;
        o[r * d + t] = x;
        s += x * x;
      }
      ooHead[kvh] = (ooHead[kvh] ?? 0) + s;
    }
  }
  let oo = 0;
  for (const s of ooHead) oo += s;
  return { o, ooHead, oo };
}

/** What tokens are ranked for: `units` units (a KV head's group, or a single query head) of `headsPerUnit` query heads. */
interface Units {
  readonly units: number;
  readonly headsPerUnit: number;
}

/** Token order per unit [units, n], by window-summed attention descending, ties to the earlier token. */
function rankings(L: LayerData, U: Units): Int32Array {
  const { probs, alpha, n, first } = L;
  const { units, headsPerUnit } = U;
  const order = new Int32Array(units * n);
  const score = new Float64Array(n);
  for (let u = 0; u < units; u++) {
    score.fill(0);
    for (let h = u * headsPerUnit; h < (u + 1) * headsPerUnit; h++) {
      for (let i = 0; i < alpha; i++) {
        const ro = (h * alpha + i) * n;
        for (let j = 0; j <= first + i; j++) score[j] = (score[j] ?? 0) + (probs[ro + j] ?? 0);
      }
    }
    const idx = Int32Array.from({ length: n }, (_, j) => j).sort((a, b) => (score[b] ?? 0) - (score[a] ?? 0) || a - b);
    order.set(idx, u * n);
  }
  return order;
}

/** The kept tokens' sums per row: N = Σ_kept p·v, D = Σ_kept p, cross = o·N, sq = ‖N‖²; and their per-KV-head totals. */
interface KeptSums {
  readonly N: Float64Array;
  readonly D: Float64Array;
  readonly cross: Float64Array;
  readonly sq: Float64Array;
  readonly crossHead: Float64Array;
  readonly sqHead: Float64Array;
}

/** Adds each unit's token of rank r to the kept sums of the rows that see it. */
function keepRank(L: LayerData, U: Units, k: { sums: KeptSums; o: Float64Array; order: Int32Array }, r: number): void {
  const { probs, V, alpha, n, d, g, first } = L;
  const { N, D, cross, sq } = k.sums;
  const { o, order } = k;
  for (let u = 0; u < U.units; u++) {
    const j = order[u * n + r] ?? 0;
    for (let h = u * U.headsPerUnit; h < (u + 1) * U.headsPerUnit; h++) {
      const vo = (Math.floor(h / g) * n + j) * d;
      for (let i = Math.max(0, j - first); i < alpha; i++) {
        const row = h * alpha + i;
        const pj = probs[row * n + j] ?? 0;
        if (!(pj > 0)) continue;
        D[row] = (D[row] ?? 0) + pj;
        const base = row * d;
        let c = 0;
        let s = 0;
        for (let t = 0; t < d; t++) {
          const x = (N[base + t] ?? 0) + pj * (V[vo + t] ?? 0);
          N[base + t] = x;
          c += (o[base + t] ?? 0) * x;
          s += x * x;
        }
        cross[row] = c;
        sq[row] = s;
      }
    }
  }
}

/** o·õ and ‖õ‖² per KV head (õ row = N/D; a row that keeps nothing is 0). */
function sumPerHead(L: LayerData, sums: KeptSums): void {
  const { alpha, g, rows } = L;
  const { D, cross, sq, crossHead, sqHead } = sums;
  crossHead.fill(0);
  sqHead.fill(0);
  for (let row = 0; row < rows; row++) {
    const z = D[row] ?? 0;
    if (!(z > 0)) continue; // õ row = 0
    const kvh = Math.floor(Math.floor(row / alpha) / g);
    crossHead[kvh] = (crossHead[kvh] ?? 0) + (cross[row] ?? 0) / z;
    sqHead[kvh] = (sqHead[kvh] ?? 0) + (sq[row] ?? 0) / (z * z);
  }
}

/** LMBO of one layer, with its similarity curve. See the file header for the definitions. */
export function computeLmbo(layer: LmboInputs, options: LmboOptions = {}): LmboResult {
  const opt = parseParams(LMBO, options);
  const { queries, keys, values } = layer;
  const { Hq, Hkv, alpha, n, d } = attentionShape(queries, keys);
  expectDims('values', values, [Hkv, n, d]);
  if (alpha < 1) throw new ShapeError('queries', 'need at least one window query');
  const budgets = lmboGrid(opt.grid, n);
  const g = Hq / Hkv;
  const rows = Hq * alpha;
  const L: LayerData = { probs: windowAttentionProbs(queries, keys).data, V: values.data, Hq, Hkv, alpha, n, d, g, rows, first: n - alpha };
  const { o, ooHead, oo } = fullOutput(L);
  const perKv = opt.granularity === 'kvHead';
  const U: Units = { units: perKv ? Hkv : Hq, headsPerUnit: perKv ? g : 1 };
  const order = rankings(L, U);

  // One pass in rank order: sim(B) for every B, stopping once the grid, LMBO and every per-head LMBO are known.
  const sums: KeptSums = {
    N: new Float64Array(rows * d),
    D: new Float64Array(rows),
    cross: new Float64Array(rows),
    sq: new Float64Array(rows),
    crossHead: new Float64Array(Hkv),
    sqHead: new Float64Array(Hkv),
  };
  const kept = { sums, o, order };
  const curve: LmboPoint[] = [];
  const perHead = new Int32Array(Hkv);
  let lmbo = 0;
  let found = 0; // per-head LMBOs found
  let next = 0; // next grid index
  for (let B = 1; B <= n; B++) {
    keepRank(L, U, kept, B - 1);
    sumPerHead(L, sums);
    let c = 0;
    let s = 0;
    for (let k = 0; k < Hkv; k++) {
      c += sums.crossHead[k] ?? 0;
      s += sums.sqHead[k] ?? 0;
      if ((perHead[k] ?? 0) === 0 && (B === n || similarityOf(opt.similarity, ooHead[k] ?? 0, sums.crossHead[k] ?? 0, sums.sqHead[k] ?? 0) >= opt.threshold)) {
        perHead[k] = B;
        found++;
      }
    }
    const sim = B === n ? 1 : similarityOf(opt.similarity, oo, c, s);
    if (lmbo === 0 && sim >= opt.threshold) lmbo = B;
    if (B === budgets[next]) {
      curve.push({ budget: B, similarity: sim });
      next++;
    }
    if (lmbo > 0 && found === Hkv && next === budgets.length) break;
  }
  return { curve, lmbo, perHead };
}

/** LMBO of every layer, Float64Array[L] (Float64 like LMBA, so the two plot on one axis). */
export function lmboPerLayer(layers: readonly LmboInputs[], options: LmboOptions = {}): Float64Array {
  parseParams(LMBO, options); // fail fast, before any attention is computed
  return Float64Array.from(layers, (l) => computeLmbo(l, options).lmbo);
}
