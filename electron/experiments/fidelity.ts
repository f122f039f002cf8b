/**
 * Fidelity of one compressed cell against the full cache on the same sample,
 * from teacher-forced logits (core/src/metrics/fidelity.ts does the maths).
 *
 * Where compression happens (once, after prefill): the first continuation token is
 * predicted by the uncompressed prefill, so position 0 is identical for every
 * method; positions 1 … M−1 are predicted from the compressed cache.
 */
import { fidelitySummary, greedyPrefixMatch } from '@kvlab/core';
import type { FidelityMetrics } from '@kvlab/core';

/** One cell's outputs and the full cache's, over the same continuation. */
export interface FidelityInputs {
  /** Teacher-forced logits [T, V] from the compressed cache. */
  readonly mine: Float32Array;
  /** The same from the full cache. */
  readonly full: Float32Array;
  /** The continuation's token ids (T). */
  readonly targets: readonly number[];
  readonly vocab: number;
  /** Greedy continuations from the compressed and the full cache. */
  readonly myGreedy: readonly number[];
  readonly fullGreedy: readonly number[];
}

export function fidelityFromLogits(x: FidelityInputs): FidelityMetrics {
  const T = x.targets.length;
  const s = fidelitySummary({ dims: [T, x.vocab], data: x.full }, { dims: [T, x.vocab], data: x.mine }, x.targets);
  return {
    nll: s.nllCompressed,
    ppl: s.perplexityCompressed,
    deltaNll: s.deltaNll,
    kl: s.kl,
    top1: s.top1Agreement,
    greedyPrefix: greedyPrefixMatch(x.myGreedy, x.fullGreedy),
  };
}
