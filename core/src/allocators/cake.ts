/**
 * CAKE: split the budget across layers by each layer's "preference" — how spread
 * out (entropy) and how shifting over time (variance) its window attention is.
 *
 * Paper: Qin et al., "CAKE: Cascading and Adaptive KV Cache Eviction with Layer
 * Preferences", ICLR 2025, https://arxiv.org/abs/2503.12491. Reference code:
 * antgroup/cakekv (read in the qtris123/cakekv fork): `cake/model/modify_llama.py`
 * (the preference score), `cake/cake_cache.py` `CakeprefillKVCache.__call__` (the
 * split), `cake/utils.py` `adjust_budgets` (clamp and redistribution).
 *
 *   P_l = H_l^(1/τ1) · V_l^(1/τ2)               (H, V: analysis/layer-stats.ts)
 *   B_l = α + P_l / Σ P · (total − L·α)          upstream: total_size = (cache_size − α)·L prefix
 *                                                tokens are split by P, and every layer adds its window
 * then water-filled into [minPerLayer, n] with P as weights and rounded by largest remainder
 * (conserve.ts), so Σ = total exactly; uniform when Σ P = 0.
 *
 * Differences from upstream, all in the rounding and edge cases:
 *  - `adjust_budgets` truncates each share to int, caps at n − α and hands the excess out in
 *    EQUAL shares to uncapped layers, then fixes the total in equal shares; we redistribute in
 *    proportion to P and round by largest remainder (both conserve the total).
 *  - Upstream skips compression when n ≤ cache_size + α (sic: one window more than the budget);
 *    here compression runs whenever B_avg < n (the AllocatorDef contract).
 *  - "Cascading" (evicting layer by layer during prefill to bound peak memory) is an execution
 *    strategy of the engine, not a different allocation: the final budgets are the same.
 *  - CAKE's token score (mean + γ·variance of window attention, γ = 200) is a scorer, not part
 *    of this allocator.
 *
 * Params:
 *   tau1 = 1   temperature of the entropy term (upstream CLI fallback; tuned per model and budget
 *              in experiments/LongBench/config/model2tau.json, e.g. Llama-3.1-8B @1024: 1.6)
 *   tau2 = 1   temperature of the variance term (same file, e.g. Llama-3.1-8B @1024: 0.4)
 *   windowSize α = 8   observation window the statistics are read from, counted in every
 *              layer's budget (KV Lab default; CAKE's runner uses 32)
 * Stats in: entropy, variance Float64Array[L] (collect() computes them). Out: Int32Array[L].
 */
import type { z } from 'zod';
import { BudgetError, MissingInputError, ShapeError } from '../errors.ts';
import type { AllocatorDef, LayerStats } from '../method.ts';
import { intParam, numParam, paramObject } from '../params.ts';
import { cakeLayerStats } from '../analysis/layer-stats.ts';
import { conserveTotal } from './conserve.ts';

const params = paramObject({
  tau1: numParam({
    min: 0,
    max: 100,
    exclusiveMin: true,
    default: 1,
    description: 'Temperature τ1 of the entropy (spatial dispersion) term: P = H^(1/τ1)·V^(1/τ2).',
  }),
  tau2: numParam({ min: 0, max: 100, exclusiveMin: true, default: 1, description: 'Temperature τ2 of the variance (temporal shift) term.' }),
  windowSize: intParam({ min: 1, max: 4096, default: 8, description: 'Observation window α the statistics are read from; counted inside every layer budget.' }),
});
export type CakeParams = z.infer<typeof params>;

/** Everything the allocation computed, for the lab's per-layer views. */
export interface CakeAllocation {
  readonly preference: Float64Array;
  /** B_l before clamping and rounding. */
  readonly raw: Float64Array;
  readonly budgets: Int32Array;
}

function requireStat(stats: LayerStats, key: 'entropy' | 'variance'): Float64Array {
  const v = stats[key];
  if (!v)
    throw new MissingInputError(
      'cake',
      `each layer's attention ${key} (stats.${key})`,
      'Experiments and the playground measure it during prefill; a layer profile does not, so run CAKE there to see its budgets. Code that calls the allocator must pass the stats from cake.collect(observations).',
    );
  if (v.length !== stats.numLayers) throw new ShapeError(`cake stats.${key}`, `need ${stats.numLayers} layers, got ${v.length}`);
  return v;
}

/** P_l = H_l^(1/τ1) · V_l^(1/τ2); negative or non-finite inputs count as 0. */
export function cakePreference(entropy: ArrayLike<number>, variance: ArrayLike<number>, tau1: number, tau2: number): Float64Array {
  return Float64Array.from({ length: entropy.length }, (_, l) => {
    const p = Math.max(0, entropy[l] ?? 0) ** (1 / tau1) * Math.max(0, variance[l] ?? 0) ** (1 / tau2);
    return Number.isFinite(p) ? p : 0;
  });
}

export function cakeAllocation(stats: LayerStats, total: number, params: CakeParams): CakeAllocation {
  const L = stats.numLayers;
  const n = stats.seqLen;
  // A window longer than the prompt observes the whole prompt (observedWindow).
  const p = { ...params, windowSize: Math.min(params.windowSize, n) };
  const preference = cakePreference(requireStat(stats, 'entropy'), requireStat(stats, 'variance'), p.tau1, p.tau2);
  let sum = 0;
  for (const v of preference) sum += v;
  // Σ P overflowing to Infinity (huge stats, tiny τ) or 0 falls back to uniform shares.
  const share = Float64Array.from(preference, (v) => (sum > 0 && Number.isFinite(sum) ? v / sum : 1 / L));
  const prefixTotal = total - L * p.windowSize;
  const raw = Float64Array.from(share, (s) => p.windowSize + s * prefixTotal);
  let budgets: Int32Array;
  if (total >= L * n) budgets = new Int32Array(L).fill(n);
  else {
    if (prefixTotal <= 0) {
      throw new BudgetError(
        'cake',
        `the average budget ${+(total / L).toFixed(3)} tokens per layer must exceed windowSize α = ${p.windowSize} (CAKE splits B_avg − α by preference)`,
      );
    }
    budgets = conserveTotal('cake', raw, total, { lo: stats.minPerLayer, hi: n, weights: share });
  }
  return { preference, raw, budgets };
}

export const cake = {
  id: 'cake',
  label: 'CAKE',
  summary: 'Splits the budget across layers by layer preference: entropy (how spread out) times variance over time (how shifting) of the window attention.',
  paperUrl: 'https://arxiv.org/abs/2503.12491',
  params,
  collect(observations, p) {
    const L = observations.length;
    const entropy = new Float64Array(L);
    const variance = new Float64Array(L);
    observations.forEach((obs, l) => {
      const s = cakeLayerStats(obs, p.windowSize);
      entropy[l] = s.entropy;
      variance[l] = s.variance;
    });
    return { entropy, variance };
  },
  allocate: (stats, total, p) => cakeAllocation(stats, total, p).budgets,
  minTotal(stats, p) {
    const alpha = Math.min(p.windowSize, stats.seqLen);
    const tokens = stats.numLayers * alpha + 1;
    return { tokens, why: `${tokens} (CAKE shares out B_avg − α, so B_avg must exceed its window α = ${alpha})` };
  },
} as const satisfies AllocatorDef<'cake', CakeParams>;
