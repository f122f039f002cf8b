/**
 * StreamingLLM: keep the first few tokens (attention sinks) and the most
 * recent tokens; drop the middle. Needs no attention at all.
 *
 * Paper: Xiao et al., "Efficient Streaming Language Models with Attention
 * Sinks", https://arxiv.org/abs/2309.17453. Reference code: kvpress
 * `presses/streaming_llm_press.py` (n_sink = 4), KVCache-Factory
 * `pyramidkv/pyramidkv_utils.py` (StreamingLLMKVCluster; its LongBench runner
 * sets window = budget − 4, i.e. 4 sinks + the most recent tokens).
 *
 * Scores by position: token j scores j (more recent = higher), and the first
 * `sinkTokens` tokens are protected and score +∞. A budget of B per head
 * therefore keeps exactly [0, sinkTokens) ∪ [n − (B − sinkTokens), n). The
 * same for every KV head. Positions are exact in float32 up to 2²⁴ tokens.
 * Not reproduced here: the paper's re-assignment of positions inside the cache
 * (kvpress: KeyRerotationPress); KV Lab keeps every kept key at its original
 * RoPE position, for every method alike, so methods differ only in what they keep.
 *
 * Params:
 *   sinkTokens = 4   attention sinks at the start, always kept (paper, kvpress)
 * Input: nothing but the shape. Output: scores [Hkv, n].
 */
import type { ScorerDef } from '../method.ts';
import { intParam, paramObject } from '../params.ts';
import { f32 } from '../tensor.ts';
import type { z } from 'zod';

const params = paramObject({
  sinkTokens: intParam({ min: 0, max: 4096, default: 4, description: 'Attention sinks: the first tokens, always kept.' }),
});
export type StreamingLlmParams = z.infer<typeof params>;

export const streamingllm = {
  id: 'streamingllm',
  label: 'StreamingLLM',
  summary: 'Keeps the first few tokens (attention sinks) and the most recent tokens, and drops the middle.',
  paperUrl: 'https://arxiv.org/abs/2309.17453',
  params,
  decodeTime: true,
  needs: () => [],
  protect: (p) => ({ sinks: p.sinkTokens, window: 0 }),
  score(obs, p) {
    const n = obs.seqLen;
    const hkv = obs.numKvHeads;
    const sinks = Math.min(p.sinkTokens, n);
    const out = new Float32Array(hkv * n);
    for (let h = 0; h < hkv; h++) {
      const o = h * n;
      out.fill(Infinity, o, o + sinks);
      for (let j = sinks; j < n; j++) out[o + j] = j;
    }
    return f32([hkv, n], out);
  },
} as const satisfies ScorerDef<'streamingllm', StreamingLlmParams>;
