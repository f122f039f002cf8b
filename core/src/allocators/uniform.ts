/**
 * Uniform: every layer gets the same budget, B_avg = total / L.
 *
 * The allocation used by SnapKV, H2O, StreamingLLM and TOVA in their papers.
 * When total is not a multiple of L, largest remainder gives the first
 * (total mod L) layers one extra token, so the total is exact.
 *
 * Paper: SnapKV, https://arxiv.org/abs/2404.14469 (uniform budget across layers).
 * Params: none.
 * Output: Int32Array[L], tokens per KV head per layer.
 */
import type { AllocatorDef } from '../method.ts';
import { paramObject } from '../params.ts';
import { conserveTotal } from './conserve.ts';

const params = paramObject({});

export const uniform = {
  id: 'uniform',
  label: 'Uniform',
  summary: 'Every layer keeps the same number of tokens (the total divided by the number of layers).',
  paperUrl: 'https://arxiv.org/abs/2404.14469',
  params,
  allocate(stats, total) {
    const L = stats.numLayers;
    const raw = new Float64Array(L).fill(total / L);
    return conserveTotal('uniform', raw, total, { lo: stats.minPerLayer, hi: stats.seqLen, weights: new Float64Array(L).fill(1) });
  },
} as const satisfies AllocatorDef<'uniform', Record<string, never>>;
