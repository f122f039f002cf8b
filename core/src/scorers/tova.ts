/**
 * TOVA (Token Omission Via Attention): keep the tokens the current (last)
 * query attends to most; a greedy, attention-only eviction policy.
 *
 * Paper: Oren et al., "Transformers are Multi-State RNNs",
 * https://arxiv.org/abs/2401.06104. Reference code: schwartz-lab-NLP/TOVA
 * `src/tova_cache.py` (official), kvpress `presses/tova_press.py`.
 *
 * s(j) = the last prompt query's softmax attention to token j
 * (observation.lastQuery), averaged over heads. Which heads:
 *   'layer'  mean over ALL Hq query heads of the layer, the same ranking for
 *            every KV head. This is what the official code does
 *            (`torch.mean(attn_weights[:, :, -1, :], dim=1)`) and kvpress copies
 *            (`attn_weights.mean(1)`, repeated per KV head). Default.
 *   'group'  mean over the g query heads of each KV head (GQA, like SnapKV here),
 *            so every KV head picks its own tokens.
 * The last token is protected and scores +∞, as in kvpress (which pads it with
 * the max score); the official code leaves it to the attention, which in
 * practice ranks it high anyway.
 *
 * Decoding: TOVA re-scores at every step with the new query's row; the engine
 * passes that row as `lastQuery` of a decode-time observation.
 *
 * Params:
 *   headReduction = 'layer'   'layer' | 'group' (see above)
 * Input: lastQuery [Hq, n]. Output: scores [Hkv, n].
 */
import type { ScorerDef } from '../method.ts';
import { groupSize, meanOverGroups, requireQueryRows } from '../observation.ts';
import { enumParam, paramObject } from '../params.ts';
import { f32 } from '../tensor.ts';
import type { z } from 'zod';

const params = paramObject({
  headReduction: enumParam(
    ['layer', 'group'],
    'layer',
    "Average the last query's attention over all heads of the layer (official TOVA, kvpress) or over each KV head's query group.",
  ),
});
export type TovaParams = z.infer<typeof params>;

export const tova = {
  id: 'tova',
  label: 'TOVA',
  summary: "Keeps the tokens that the last query attends to most, averaged over the layer's heads; the last token is always kept.",
  paperUrl: 'https://arxiv.org/abs/2401.06104',
  params,
  decodeTime: true,
  needs: () => [{ input: 'lastQuery' }],
  protect: () => ({ sinks: 0, window: 1 }),
  score(obs, p) {
    const last = requireQueryRows(obs, obs.lastQuery, 'the attention of the last prompt token (lastQuery)', 'tova');
    const n = obs.seqLen;
    const hq = obs.numQueryHeads;
    const hkv = obs.numKvHeads;
    groupSize(obs);
    let out: Float32Array;
    if (p.headReduction === 'group') {
      out = meanOverGroups(last.data, hq, hkv, n);
    } else {
      const mean = meanOverGroups(last.data, hq, 1, n);
      out = new Float32Array(hkv * n);
      for (let h = 0; h < hkv; h++) out.set(mean, h * n);
    }
    for (let h = 0; h < hkv && n > 0; h++) out[(h + 1) * n - 1] = Infinity;
    return f32([hkv, n], out);
  },
} as const satisfies ScorerDef<'tova', TovaParams>;
