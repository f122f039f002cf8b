/**
 * Ada-KV: inside one layer, give more of the budget to the KV heads whose attention is
 * spread out and less to the concentrated ones, by one top-k across all heads' scores.
 *
 * Paper: Feng et al., "Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation
 * for Efficient LLM Inference", https://arxiv.org/abs/2407.11550. Reference code:
 * FFY0/AdaKV `adaptive_snapkv/monkeypatch/snapkv_utils.py` (`AdaptiveSnapKVCluster.update_kv`;
 * copied into Zefan-Cai/KVCache-Factory `pyramidkv/pyramidkv_utils.py`), and NVIDIA/kvpress
 * `presses/adakv_press.py` (`AdaKVPress.compress`).
 *
 * A layer budget B_l (tokens per head on average, window included) gives H_kv·B_l tokens in
 * all. Every head keeps its P protected tokens (sinks + window: upstream scores only the
 * prefix and appends the window to every head), so C = B_l − P non-protected tokens per head
 * on average are shared out, with a safeguard floor f = ⌊α_s·C⌋ per head (upstream
 * `floor_capacity = int(base_capacity · floor_alpha)` with base_capacity = budget − window;
 * kvpress instead takes ⌊α_s·B_l⌋ with the window inside, since its SnapKV pads the window
 * with the max score).
 *
 * Allocations (`allocation`):
 *   'safeguard' (default, kvpress)  each head first gets its own top-f tokens; the remaining
 *     H·(C − f) slots go to ONE top-k over the flattened (head, token) scores of the tokens
 *     not yet kept. Ties go to the lower head, then the lower token. The tokens this picks
 *     for head h are exactly the ones selectTokens keeps for budget_h (both break ties toward
 *     the earlier token within a head), so the split is consistent with the shared selector.
 *   'blend' (FFY0/AdaKV code)  c_h = head h's count in ONE top-(H·C) over all non-protected
 *     scores, then budget = c_h·(1 − α_s) + α_s·C; upstream rounds each head with torch.round
 *     and the integer floor ⌊α_s·C⌋, which can miss H·C by a few tokens; here the reals are
 *     rounded by largest remainder (ties to the lower head), so the sum is exact, no head
 *     gets less than ⌊α_s·C⌋, and each head is within 2 tokens of upstream's value.
 * Upstream's optional `normalize` (weighting each head's scores by its top-B mass share) is
 * not implemented.
 *
 * Params:
 *   alphaSafeguard α_s = 0.2   share of each head's non-protected budget it is guaranteed
 *                              (kvpress `alpha_safeguard` = 0.20; FFY0's
 *                              experiments/LongBench/GQA_eval_longbench.sh passes `--floor_alpha 0.2`,
 *                              "we suggest … 0.2 while using gqa"; its runall.sh and README use 0.5)
 *   allocation = 'safeguard'   'safeguard' | 'blend'
 * Shapes: scores [Hkv, n] (higher = keep; the protected tokens' scores are ignored).
 * Out: Int32Array[Hkv] summing to Hkv·B_l, each in [P, n]; n per head when B_l ≥ n.
 */
import type { z } from 'zod';
import { BudgetError } from '../errors.ts';
import type { HeadwiseDef, Protected } from '../method.ts';
import { enumParam, numParam, paramObject } from '../params.ts';
import { kthLargest } from '../select.ts';
import type { Tensor } from '../tensor.ts';
import { assertNoNaN, expectDims } from '../tensor.ts';
import { largestRemainder } from '../allocators/conserve.ts';

const params = paramObject({
  alphaSafeguard: numParam({
    min: 0,
    max: 1,
    default: 0.2,
    description: "Safeguard α_s: each head is guaranteed ⌊α_s·(B_l − protected)⌋ of its own top tokens (kvpress 'alpha_safeguard', AdaKV 'floor_alpha').",
  }),
  allocation: enumParam(
    ['safeguard', 'blend'],
    'safeguard',
    "'safeguard': per-head floor, then one top-k over the rest (kvpress); 'blend': c_h·(1 − α_s) + α_s·C from one top-k (AdaKV code).",
  ),
});
export type AdaKvParams = z.infer<typeof params>;

/** Scores laid out as [H, n] (flattened), whose candidates are the positions [lo, hi) of each row. */
interface CandidateRows {
  readonly data: Float32Array;
  readonly H: number;
  readonly n: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * Counts the candidates of `rows` (skipping those set in `skip`) that fall in the top `k`, ties
 * to the lower row then the lower index. When `mark` is given, the picked positions are set to 1
 * in it.
 */
function topKCounts(rows: CandidateRows, k: number, skip: Uint8Array | null, mark: Uint8Array | null): Int32Array {
  const { data, H, n, lo, hi } = rows;
  const counts = new Int32Array(H);
  if (k <= 0) return counts;
  const vals: number[] = [];
  for (let h = 0; h < H; h++) for (let j = h * n + lo; j < h * n + hi; j++) if (!skip?.[j]) vals.push(data[j] ?? 0);
  const thr = kthLargest(Float32Array.from(vals), k);
  let above = 0;
  for (const v of vals) if (v > thr) above++;
  let quota = k - above;
  for (let h = 0; h < H; h++) {
    for (let j = h * n + lo; j < h * n + hi; j++) {
      if (skip?.[j]) continue;
      const v = data[j] ?? 0;
      if (v > thr || (v === thr && quota-- > 0)) {
        counts[h] = (counts[h] ?? 0) + 1;
        if (mark) mark[j] = 1;
      }
    }
  }
  return counts;
}

export function adakvSplit(scores: Tensor<'float32'>, layerBudget: number, protect: Protected, p: AdaKvParams): Int32Array {
  expectDims('scores', scores, [-1, -1]);
  const [H = 0, n = 0] = scores.dims;
  if (!Number.isInteger(layerBudget) || layerBudget < 0) throw new BudgetError('adakv', `layer budget must be a non-negative integer, got ${layerBudget}`);
  assertNoNaN("scores for 'adakv'", scores.data);
  if (layerBudget >= n) return new Int32Array(H).fill(n);
  const sinks = Math.min(protect.sinks, n);
  const window = Math.min(protect.window, n - sinks);
  const P = sinks + window;
  if (layerBudget < P) throw new BudgetError('adakv', `layer budget ${layerBudget} is below the ${P} protected tokens (${sinks} sinks + ${window} window)`);
  const lo = sinks;
  const hi = n - window;
  const C = layerBudget - P; // < hi − lo, since layerBudget < n
  const a = p.alphaSafeguard;
  const data = scores.data;
  let extra: ArrayLike<number>;
  if (p.allocation === 'blend') {
    const c = topKCounts({ data, H, n, lo, hi }, H * C, null, null);
    extra = largestRemainder(
      Float64Array.from(c, (x) => x * (1 - a) + a * C),
      H * C,
    );
  } else {
    const f = Math.floor(C * a);
    const kept = new Uint8Array(H * n);
    for (let h = 0; h < H; h++) topKCounts({ data: data.subarray(h * n, (h + 1) * n), H: 1, n, lo, hi }, f, null, kept.subarray(h * n, (h + 1) * n));
    const c = topKCounts({ data, H, n, lo, hi }, H * (C - f), kept, null);
    extra = Int32Array.from(c, (x) => x + f);
  }
  return Int32Array.from({ length: H }, (_, h) => P + (extra[h] ?? 0));
}

export const adakv = {
  id: 'adakv',
  label: 'Ada-KV',
  summary: "Splits a layer's budget across its KV heads by one top-k over all heads' scores, after guaranteeing each head a safeguard share.",
  paperUrl: 'https://arxiv.org/abs/2407.11550',
  params,
  split: adakvSplit,
} as const satisfies HeadwiseDef<'adakv', AdaKvParams>;
