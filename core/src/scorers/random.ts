/**
 * Random: keep a uniformly random subset of tokens. The floor every real
 * method must beat; seeded, so a run is reproducible.
 *
 * No paper; the baseline of kvpress `presses/random_press.py` (RandomPress:
 * `torch.rand` scores, optional seed, no window).
 *
 * s_h(j) = the j-th draw of createRng(mixSeed(seed, layer, h)) (rng.ts), uniform
 * in [0, 1): the same for the same seed and layer on every platform, and
 * independent across layers and KV heads. Draws are made for every position, so
 * changing `windowSize` does not change the other tokens' scores, and a longer
 * prompt extends a shorter one's scores. The last `windowSize` tokens are
 * protected and score +∞. Unlike kvpress, whose default seed is None (unseeded),
 * the default here is a fixed seed: sweeps vary `seed` explicitly.
 *
 * Params:
 *   seed       = 0   integer in [0, 2³¹ − 1]
 *   windowSize = 0   most recent tokens, always kept (0 = none, like kvpress)
 * Input: nothing but the shape and the layer index. Output: scores [Hkv, n].
 */
import type { ScorerDef } from '../method.ts';
import { intParam, paramObject } from '../params.ts';
import { createRng, mixSeed } from '../rng.ts';
import { f32 } from '../tensor.ts';
import type { z } from 'zod';

const params = paramObject({
  seed: intParam({ min: 0, max: 2147483647, default: 0, description: 'Random seed; with the layer and KV head index it fixes every score.' }),
  windowSize: intParam({ min: 0, max: 4096, default: 0, description: 'Recent tokens always kept (0 = none, as in kvpress).' }),
});
export type RandomParams = z.infer<typeof params>;

export const random = {
  id: 'random',
  label: 'Random',
  summary: 'Keeps a seeded, uniformly random subset of tokens: the baseline every method must beat.',
  paperUrl: 'https://github.com/NVIDIA/kvpress/blob/main/kvpress/presses/random_press.py',
  params,
  decodeTime: true,
  needs: () => [],
  protect: (p) => ({ sinks: 0, window: p.windowSize }),
  score(obs, p) {
    const n = obs.seqLen;
    const hkv = obs.numKvHeads;
    const out = new Float32Array(hkv * n);
    const start = Math.max(0, n - p.windowSize);
    for (let h = 0; h < hkv; h++) {
      const rng = createRng(mixSeed(p.seed, obs.layer, h));
      for (let j = 0; j < n; j++) {
        const u = rng.next();
        out[h * n + j] = j >= start ? Infinity : u;
      }
    }
    return f32([hkv, n], out);
  },
} as const satisfies ScorerDef<'random', RandomParams>;
