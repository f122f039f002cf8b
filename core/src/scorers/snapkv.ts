/**
 * SnapKV: keep the prompt tokens the last α prompt queries attend to most.
 *
 * Paper: Li et al., "SnapKV: LLM Knows What You are Looking for Before
 * Generation", https://arxiv.org/abs/2404.14469. Reference code:
 * KVCache-Factory `pyramidkv/pyramidkv_utils.py` (SnapKVCluster), kvpress
 * `presses/snapkv_press.py`.
 *
 * For every prefix token j < n − α: s_h(j) = Σ over the α window queries of
 * softmax attention (observation.windows[α].sum), smoothed with 1-D pooling
 * (kernel k, max or avg) over the prefix, then averaged over the g query heads
 * of each KV head (GQA; kvpress). The α window tokens are protected and score +∞.
 *
 * Params (KV Lab default = KVCache-Factory LongBench runner; kvpress preset: 64 / avg / 5):
 *   windowSize α = 8      observation window, always kept
 *   kernelSize k = 7      pooling kernel (odd)
 *   pooling      = 'max'  'max' | 'avg' | 'none'
 * Input: windows[α].sum [Hq, n]. Output: scores [Hkv, n].
 */
import type { ScorerDef } from '../method.ts';
import { meanOverGroups, windowOf } from '../observation.ts';
import { enumParam, intParam, paramObject } from '../params.ts';
import { f32 } from '../tensor.ts';
import type { Pooling } from './pool.ts';
import { pool1d } from './pool.ts';
import type { z } from 'zod';

const params = paramObject({
  windowSize: intParam({ min: 1, max: 4096, default: 8, description: 'Observation window α: the last α prompt queries score the prefix and are always kept.' }),
  kernelSize: intParam({ min: 1, max: 255, default: 7, description: 'Pooling kernel along the token axis (odd).' }).refine((k) => k % 2 === 1, {
    error: 'must be odd',
  }),
  pooling: enumParam(['max', 'avg', 'none'], 'max', 'Pooling applied to the window-attention scores before selection.'),
});
export type SnapKvParams = z.infer<typeof params>;

/** One layer's window-attention sums: `sum` is [Hq, n], summed over the last `alpha` prompt queries. */
export interface WindowSums {
  readonly sum: Float32Array;
  readonly Hq: number;
  readonly Hkv: number;
  readonly n: number;
  readonly alpha: number;
}

/** Window-attention scores for the prefix, pooled and group-averaged; shared with scorers that build on SnapKV. */
export function snapScores(window: WindowSums, kernel: number, pooling: Pooling): Float32Array {
  const { sum, Hq, Hkv, n, alpha } = window;
  const prefix = Math.max(0, n - alpha);
  const rows = new Float32Array(Hq * prefix);
  for (let h = 0; h < Hq; h++) rows.set(sum.subarray(h * n, h * n + prefix), h * prefix);
  const pooled = pool1d(rows, Hq, prefix, kernel, pooling);
  const grouped = meanOverGroups(pooled, Hq, Hkv, prefix);
  const out = new Float32Array(Hkv * n).fill(Infinity);
  for (let h = 0; h < Hkv; h++) out.set(grouped.subarray(h * prefix, (h + 1) * prefix), h * n);
  return out;
}

export const snapkv = {
  id: 'snapkv',
  label: 'SnapKV',
  summary: 'Keeps the tokens that the last α prompt queries attend to most, after pooling; the window itself is always kept.',
  paperUrl: 'https://arxiv.org/abs/2404.14469',
  params,
  decodeTime: false,
  needs: (p) => [{ input: 'window', windowSize: p.windowSize }],
  protect: (p) => ({ sinks: 0, window: p.windowSize }),
  score(obs, p) {
    const w = windowOf(obs, p.windowSize, 'snapkv');
    const n = obs.seqLen;
    return f32([obs.numKvHeads, n], snapScores({ sum: w.sum.data, Hq: obs.numQueryHeads, Hkv: obs.numKvHeads, n, alpha: w.size }, p.kernelSize, p.pooling));
  },
} as const satisfies ScorerDef<'snapkv', SnapKvParams>;
