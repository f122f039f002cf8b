/**
 * CAKE's per-layer statistics: spatial dispersion (entropy) and temporal shift
 * (variance over the window queries) of the observation-window attention.
 *
 * Reference code: antgroup/cakekv `cake/model/modify_llama.py` (read in the
 * qtris123/cakekv fork; modify_mistral.py and modify_qwen2.py are the same),
 * with A = softmax of the α window queries over all n keys, [1, Hq, α, n]
 * after `repeat_kv` (so per QUERY head), and A_p = A[..., :n−α] its prefix keys:
 *   disp = calculate_entropy(A_p)  = −Σ over heads, queries, prefix keys of p·log(p + 1e−10)
 *   var  = torch.var(A_p, dim=−2).sum()   unbiased (÷ (α − 1)) over the α queries, summed over
 *                                         heads and prefix keys
 *   pref = disp^(1/τ1) · var^(1/τ2)
 *
 * From an observation's windows[α] (observation.ts), per query head h and key j:
 *   variance = Σ_h Σ_{j < n−α} (sqSum − sum²/α) / (α − 1)     exact; 0 when α = 1 (torch gives NaN)
 *   entropy  = Σ_h α · entropy[h]                            = Σ over heads and queries of row entropies
 * Deviation: the observation's row entropies run over ALL n keys, so `entropy` also counts
 * the window keys (the causal α×α block) that CAKE leaves out, and uses log p rather than
 * log(p + 1e−10) (a difference of ~1e−10·α·Hq). An exact prefix-only entropy needs a
 * per-head prefix-entropy aggregate from the engine. Sums vs means, and ÷(α−1) vs ÷α, only
 * scale every layer by the same factor, which cancels in CAKE's P_l / Σ P.
 *
 * Input: windows[α] with sum [Hq, n], sqSum [Hq, n], entropy [Hq]. Output: two scalars per layer.
 */
import { MissingInputError, ShapeError } from '../errors.ts';
import type { LayerObservation } from '../observation.ts';
import { windowOf } from '../observation.ts';
import { expectDims } from '../tensor.ts';

export interface CakeLayerStats {
  /** Spatial dispersion H_l: entropy summed over query heads and window queries. */
  readonly entropy: number;
  /** Temporal shift V_l: unbiased variance over the window queries, summed over query heads and prefix keys. */
  readonly variance: number;
}

export function cakeLayerStats(obs: LayerObservation, windowSize: number, method = 'cake'): CakeLayerStats {
  const w = windowOf(obs, windowSize, method);
  const Hq = obs.numQueryHeads;
  const n = obs.seqLen;
  const alpha = w.size;
  if (!w.sqSum) throw new MissingInputError(method, `the squared attention of the last ${alpha} prompt tokens (windows[α=${alpha}].sqSum)`);
  if (!w.entropy) throw new MissingInputError(method, `the attention entropy of the last ${alpha} prompt tokens (windows[α=${alpha}].entropy)`);
  expectDims(`layer ${obs.layer} window α=${alpha} sqSum`, w.sqSum, [Hq, n]);
  if (w.entropy.length !== Hq) throw new ShapeError(`layer ${obs.layer} window α=${alpha} entropy`, `expected ${Hq} entries, got ${w.entropy.length}`);

  let entropy = 0;
  for (let h = 0; h < Hq; h++) entropy += alpha * (w.entropy[h] ?? 0);

  let variance = 0;
  const prefix = Math.max(0, n - alpha);
  if (alpha > 1) {
    const sum = w.sum.data;
    const sq = w.sqSum.data;
    for (let h = 0; h < Hq; h++) {
      let s = 0;
      for (let j = h * n, end = h * n + prefix; j < end; j++) {
        const m = sum[j] ?? 0;
        // Float32 inputs: clamp the rounding noise of a near-constant column at 0.
        s += Math.max(0, (sq[j] ?? 0) - (m * m) / alpha);
      }
      variance += s / (alpha - 1);
    }
  }
  return { entropy, variance };
}
