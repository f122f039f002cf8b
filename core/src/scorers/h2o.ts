/**
 * H2O (Heavy-Hitter Oracle): keep the "heavy hitters", the tokens with the
 * largest attention accumulated over every query so far, plus the most recent tokens.
 *
 * Paper: Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient Generative
 * Inference of Large Language Models", https://arxiv.org/abs/2306.14048.
 * Reference code: KVCache-Factory `pyramidkv/pyramidkv_utils.py` (H2OKVCluster),
 * FMInference/H2O `h2o_hf/utils_lm_eval/modify_llama.py`.
 *
 * For every token j outside the recent window: s_h(j) = Σ over ALL queries i ≥ j
 * of softmax attention a_h(i, j) (observation.accumulated, causal), averaged over
 * the g query heads of each KV head (GQA; KVCache-Factory instead repeats KV to
 * query-head granularity; a KV Lab cache holds one token set per KV head). No pooling. The last `recentSize` tokens are
 * protected and score +∞. This is what KVCache-Factory's H2OKVCluster does at the
 * end of prefill: it sums the causal attention of every prompt query (not only the
 * window's; older PyramidKV-repo versions masked only the last window×window block,
 * so earlier queries saw later keys — KV Lab uses the causal sum). A window-only
 * variant is not offered: it is SnapKV with `pooling: 'none'`.
 *
 * The original H2O splits the cache half heavy hitters, half recent tokens
 * (heavy_ratio = recent_ratio); here the recent window is a fixed count instead,
 * so it composes with any allocator. Set recentSize ≈ budget/2 to mimic it.
 *
 * Decoding: H2O re-scores at every step. `accumulate` adds the new query's row
 * to the running sums; `gatherAccumulated` keeps the columns of the surviving
 * tokens after an eviction.
 *
 * Params:
 *   recentSize = 8   most recent tokens, always kept (KVCache-Factory LongBench
 *                    runner: window 8 for H2O; its class default is 32)
 * Input: accumulated [Hq, n]. Output: scores [Hkv, n].
 */
import { ShapeError } from '../errors.ts';
import type { ScorerDef } from '../method.ts';
import { groupSize, meanOverGroups, requireQueryRows } from '../observation.ts';
import { intParam, paramObject } from '../params.ts';
import type { KeptIndices } from '../select.ts';
import type { Tensor } from '../tensor.ts';
import { expectDims, f32 } from '../tensor.ts';
import type { z } from 'zod';

const params = paramObject({
  recentSize: intParam({ min: 0, max: 4096, default: 8, description: 'Recent window: the last tokens, always kept alongside the heavy hitters.' }),
});
export type H2oParams = z.infer<typeof params>;

/**
 * One decoding step of H2O's running sums (pure: returns a new tensor).
 *
 *   accumulated  [Hq, m]   Σ of attention over all queries so far, one column per cached token
 *   rows         [Hq, m']  m' ≥ m: the new query's attention over the current cache (or the sum
 *                          over several new queries). Its first m columns are the same tokens as
 *                          `accumulated`'s; the last m' − m are the newly appended tokens
 *                          (their sums start at 0).
 *   result       [Hq, m']  accumulated (zero-padded to m') + rows
 */
export function accumulate(accumulated: Tensor<'float32'>, rows: Tensor<'float32'>): Tensor<'float32'> {
  expectDims('h2o accumulated', accumulated, [-1, -1]);
  const [hq = 0, m = 0] = accumulated.dims;
  expectDims('h2o rows', rows, [hq, -1]);
  const mNew = rows.dims[1] ?? 0;
  if (mNew < m) throw new ShapeError('h2o rows', `the new rows cover ${mNew} tokens, fewer than the ${m} accumulated ones`);
  const out = rows.data.slice();
  for (let h = 0; h < hq; h++) {
    for (let j = 0; j < m; j++) out[h * mNew + j] = (out[h * mNew + j] ?? 0) + (accumulated.data[h * m + j] ?? 0);
  }
  return f32([hq, mNew], out);
}

/**
 * The running sums of the tokens each KV head kept after selection, so that
 * decoding continues on the compressed cache.
 *
 *   accumulated  [Hq, m]
 *   kept         per KV head, ascending positions in [0, m), all of the same length b
 *                (the output of selectTokens with equal per-head budgets)
 *   result       [Hq, b]   query head h reads the positions kept by KV head ⌊h / g⌋
 */
export function gatherAccumulated(accumulated: Tensor<'float32'>, kept: KeptIndices, numKvHeads: number): Tensor<'float32'> {
  expectDims('h2o accumulated', accumulated, [-1, -1]);
  const [hq = 0, m = 0] = accumulated.dims;
  const g = groupSize({ numQueryHeads: hq, numKvHeads });
  if (kept.length !== numKvHeads) throw new ShapeError('h2o kept', `need one index list per KV head (${numKvHeads}), got ${kept.length}`);
  const b = kept[0]?.length ?? 0;
  if (kept.some((k) => k.length !== b))
    throw new ShapeError('h2o kept', `every KV head must keep the same number of tokens, got [${kept.map((k) => k.length).join(', ')}]`);
  const out = new Float32Array(hq * b);
  for (let h = 0; h < hq; h++) {
    const idx = kept[Math.floor(h / g)] ?? new Int32Array(0);
    for (let c = 0; c < b; c++) {
      const j = idx[c] ?? 0;
      if (j < 0 || j >= m) throw new ShapeError('h2o kept', `position ${j} is outside [0, ${m})`);
      out[h * b + c] = accumulated.data[h * m + j] ?? 0;
    }
  }
  return f32([hq, b], out);
}

export const h2o = {
  id: 'h2o',
  label: 'H2O',
  summary: 'Keeps the heavy hitters, the tokens with the most attention accumulated over all queries, plus a window of recent tokens.',
  paperUrl: 'https://arxiv.org/abs/2306.14048',
  params,
  decodeTime: true,
  needs: () => [{ input: 'accumulated' }],
  protect: (p) => ({ sinks: 0, window: p.recentSize }),
  score(obs, p) {
    const acc = requireQueryRows(obs, obs.accumulated, 'the attention each prompt token has accumulated (accumulated)', 'h2o');
    const n = obs.seqLen;
    const hkv = obs.numKvHeads;
    groupSize(obs);
    const out = meanOverGroups(acc.data, obs.numQueryHeads, hkv, n);
    const start = Math.max(0, n - p.recentSize);
    for (let h = 0; h < hkv; h++) out.fill(Infinity, h * n + start, (h + 1) * n);
    return f32([hkv, n], out);
  },
} as const satisfies ScorerDef<'h2o', H2oParams>;
