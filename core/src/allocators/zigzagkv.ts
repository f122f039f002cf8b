/**
 * ZigZagKV: split the total budget across layers by layer uncertainty, with a floor.
 *
 * Paper: Zhong et al., "ZigZagKV: Dynamic KV Cache Compression for
 * Long-context Modeling based on Layer Uncertainty", COLING 2025,
 * https://aclanthology.org/2025.coling-main.596 (arXiv 2412.09036). No official
 * code; the formula is rebuilt from the paper's abstract, its reviews and the
 * port in kvpress pull request #238.
 *
 *   U_l      = LMBA_l / Σ_i LMBA_i                  (uniform when Σ LMBA = 0)
 *   budget_l = B_bound + (B_avg − B_bound) · L · U_l   ("Eq. 6")
 * then water-filled into [max(⌈B_bound⌉, minPerLayer), n] and rounded by
 * largest remainder so Σ budget_l = L·B_avg exactly (conserve.ts).
 *
 * Params (defaults):
 *   tau = 0.9            LMBA attention-mass threshold τ
 *   boundRatio = 0.2     B_bound = boundRatio · B_avg (kvpress v2; v1 used 0.1; 0 = unbounded Eq. 5)
 *   boundTokens          absolute B_bound in tokens; overrides boundRatio when set
 *   lmbaSource           'windowMean' | 'lastToken' | 'pooledScores' (see analysis/lmba.ts)
 *   windowSize α = 8     the observation window LMBA is read from
 *   kernelSize = 7, pooling = 'max'   only for lmbaSource 'pooledScores'
 *   allocation           'perInput' (LMBA from this prompt) | 'staticProfile' (from `staticLmba`, e.g. a calibration profile)
 *   staticLmba           per-layer LMBA for 'staticProfile'
 *   rounding             'largestRemainder' (exact total) | 'perLayer' (kvpress v2: round each layer, clamp; may drift — comparison only)
 * Stats in: lmba Float64Array[L] (collect() computes it). Out: Int32Array[L], tokens per KV head.
 */
import { z } from 'zod';
import { BudgetError, MissingInputError, ParamError } from '../errors.ts';
import type { AllocatorDef, LayerStats } from '../method.ts';
import { enumParam, intParam, numParam, paramObject } from '../params.ts';
import { lmbaPerLayer } from '../analysis/lmba.ts';
import { conserveTotal } from './conserve.ts';

const params = paramObject({
  tau: numParam({
    min: 0,
    max: 1,
    exclusiveMin: true,
    exclusiveMax: true,
    default: 0.9,
    description: 'LMBA threshold τ: the share of attention mass a layer must keep.',
  }),
  boundRatio: numParam({ min: 0, max: 1, default: 0.2, description: 'Floor B_bound as a fraction of the average budget B_avg.' }),
  boundTokens: z
    .number({ error: 'must be a non-negative integer' })
    .int({ error: 'must be a non-negative integer' })
    .min(0, { error: 'must be a non-negative integer' })
    .optional()
    .describe('Floor B_bound in tokens per layer; overrides boundRatio when set.'),
  lmbaSource: enumParam(['windowMean', 'lastToken', 'pooledScores'], 'windowMean', 'Which attention distribution LMBA is measured on.'),
  windowSize: intParam({ min: 1, max: 4096, default: 8, description: 'Observation window α the LMBA statistics are read from.' }),
  kernelSize: intParam({ min: 1, max: 255, default: 7, description: "Pooling kernel for lmbaSource 'pooledScores'." }),
  pooling: enumParam(['max', 'avg', 'none'], 'max', "Pooling for lmbaSource 'pooledScores'."),
  allocation: enumParam(['perInput', 'staticProfile'], 'perInput', 'Measure LMBA on each prompt, or use a fixed per-layer profile (staticLmba).'),
  staticLmba: z
    .array(z.number({ error: 'must be an array of non-negative numbers' }).nonnegative({ error: 'must be an array of non-negative numbers' }))
    .optional()
    .describe("Per-layer LMBA profile for allocation 'staticProfile'."),
  rounding: enumParam(['largestRemainder', 'perLayer'], 'largestRemainder', "Integer rounding; 'perLayer' mimics the kvpress port and may miss the total."),
});
export type ZigZagKvParams = z.infer<typeof params>;

/** Everything the allocation computed, for the lab's per-layer views. */
export interface ZigZagAllocation {
  readonly lmba: Float64Array;
  readonly uncertainty: Float64Array;
  readonly bound: number;
  /** budget_l before clamping and rounding. */
  readonly raw: Float64Array;
  readonly budgets: Int32Array;
}

export function zigzagAllocation(stats: LayerStats, total: number, p: ZigZagKvParams): ZigZagAllocation {
  const L = stats.numLayers;
  const n = stats.seqLen;
  let lmba: Float64Array;
  if (p.allocation === 'staticProfile') {
    if (!p.staticLmba) throw new ParamError('zigzagkv', 'staticLmba', "is required when allocation is 'staticProfile'");
    if (p.staticLmba.length !== L) throw new ParamError('zigzagkv', 'staticLmba', `must have one entry per layer (${L}), got ${p.staticLmba.length}`);
    lmba = Float64Array.from(p.staticLmba);
  } else {
    if (!stats.lmba)
      throw new MissingInputError(
        'zigzagkv',
        "each layer's attention profile (LMBA, stats.lmba)",
        "The engine measures it during prefill; code that calls the allocator must pass stats.lmba, or set allocation to 'staticProfile' with staticLmba from kvlab profile.",
      );
    if (stats.lmba.length !== L) throw new BudgetError('zigzagkv', `stats.lmba has ${stats.lmba.length} layers, expected ${L}`);
    lmba = stats.lmba;
  }
  const uncertainty = layerUncertainty(lmba);
  const avg = total / L;
  const bound = p.boundTokens ?? p.boundRatio * avg;
  const raw = Float64Array.from(uncertainty, (u) => bound + (avg - bound) * L * u);
  let budgets: Int32Array;
  if (total >= L * n) budgets = new Int32Array(L).fill(n);
  else if (p.rounding === 'perLayer') {
    const lo = Math.max(1, stats.minPerLayer);
    budgets = Int32Array.from(raw, (r) => Math.min(n, Math.max(lo, Math.round(r))));
  } else {
    // ⌈B_bound⌉ is capped at ⌊B_avg⌋ so any boundRatio ≤ 1 stays feasible when B_avg is fractional.
    const floor = Math.min(Math.ceil(bound - 1e-9), Math.floor(avg));
    budgets = conserveTotal('zigzagkv', raw, total, { lo: Math.max(floor, stats.minPerLayer), hi: n, weights: uncertainty });
  }
  return { lmba, uncertainty, bound, raw, budgets };
}

/**
 * ZigZagKV's layer uncertainty U_l = LMBA_l / Σ_j LMBA_j: the share of the budget layer l asks for (sums to 1;
 * uniform when every LMBA is 0). The allocator splits by it, and the profile screens and CLI show it, so all
 * compute it here.
 */
export function layerUncertainty(lmba: ArrayLike<number>): Float64Array {
  let sum = 0;
  for (let l = 0; l < lmba.length; l++) sum += lmba[l] ?? 0;
  return Float64Array.from({ length: lmba.length }, (_, l) => (sum > 0 ? (lmba[l] ?? 0) / sum : 1 / lmba.length));
}

export const zigzagkv = {
  id: 'zigzagkv',
  label: 'ZigZagKV',
  summary:
    'Splits the budget across layers in proportion to layer uncertainty (LMBA: tokens needed to keep τ of the attention mass), above a guaranteed floor.',
  paperUrl: 'https://aclanthology.org/2025.coling-main.596',
  params,
  collect(observations, p) {
    if (p.allocation === 'staticProfile') return {};
    return { lmba: lmbaPerLayer(observations, { tau: p.tau, source: p.lmbaSource, windowSize: p.windowSize, kernelSize: p.kernelSize, pooling: p.pooling }) };
  },
  allocate: (stats, total, p) => zigzagAllocation(stats, total, p).budgets,
} as const satisfies AllocatorDef<'zigzagkv', ZigZagKvParams>;
