/**
 * Knorm: keep the keys with the SMALLEST L2 norm. Low-norm keys tend to draw
 * high attention, so the key norm is a free proxy that needs no attention.
 *
 * Paper: Devoto et al., "A Simple and Effective L2 Norm-Based Strategy for KV
 * Cache Compression", https://arxiv.org/abs/2406.11430. Reference code: kvpress
 * `presses/knorm_press.py` (`score = -keys.norm(dim=-1)`, no window),
 * KVCache-Factory `pyramidkv/pyramidkv_utils.py` (L2NormCluster: keeps the
 * lowest norms, no window).
 *
 * s_h(j) = −‖k_{h,j}‖₂ per KV head h (keys are already per KV head: no GQA
 * reduction), over the post-RoPE cached keys. RoPE is a rotation of pairs of
 * dimensions, so it leaves the norm unchanged. The last `windowSize` tokens are
 * protected and score +∞ (default 0: no window, as in both references).
 * Not modelled: the paper's option of leaving the first layers uncompressed
 * (a per-layer budget choice, not a scorer's).
 *
 * Decoding: the score needs only the cached keys, so it can re-score at any step.
 *
 * Params:
 *   windowSize = 0   most recent tokens, always kept (0 = none, like kvpress)
 * Input: keys [Hkv, n, d]. Output: scores [Hkv, n].
 */
import type { ScorerDef } from '../method.ts';
import { requireKv } from '../observation.ts';
import { intParam, paramObject } from '../params.ts';
import { f32 } from '../tensor.ts';
import type { z } from 'zod';

const params = paramObject({
  windowSize: intParam({ min: 0, max: 4096, default: 0, description: 'Recent tokens always kept regardless of their key norm (0 = none, as in kvpress).' }),
});
export type KnormParams = z.infer<typeof params>;

export const knorm = {
  id: 'knorm',
  label: 'Knorm',
  summary: 'Keeps the tokens whose keys have the smallest L2 norm; needs no attention.',
  paperUrl: 'https://arxiv.org/abs/2406.11430',
  params,
  decodeTime: true,
  needs: () => [{ input: 'keys' }],
  protect: (p) => ({ sinks: 0, window: p.windowSize }),
  score(obs, p) {
    const keys = requireKv(obs, 'keys', 'knorm');
    const n = obs.seqLen;
    const d = obs.headDim;
    const hkv = obs.numKvHeads;
    const out = new Float32Array(hkv * n);
    const start = Math.max(0, n - p.windowSize);
    for (let h = 0; h < hkv; h++) {
      for (let j = 0; j < n; j++) {
        if (j >= start) {
          out[h * n + j] = Infinity;
          continue;
        }
        const o = (h * n + j) * d;
        let s = 0;
        for (let t = 0; t < d; t++) {
          const x = keys.data[o + t] ?? 0;
          s += x * x;
        }
        out[h * n + j] = -Math.sqrt(s);
      }
    }
    return f32([hkv, n], out);
  },
} as const satisfies ScorerDef<'knorm', KnormParams>;
