/**
 * Fidelity of one compressed cell against the full cache on the same sample,
 * from teacher-forced logits (core/src/metrics/fidelity.ts does the maths).
 *
 * Where compression happens (spec §6): the first continuation token is
 * predicted by the uncompressed prefill, so position 0 is identical for every
 * method; positions 1 … M−1 are predicted from the compressed cache.
 */
import { fidelitySummary, greedyPrefixMatch } from '@kvlab/core';
import type { FidelityMetrics } from '@kvlab/core';

// eslint-disable-next-line max-params -- SHAPE-TODO: split (or give the reason here)
export function fidelityFromLogits(
  mine: Float32Array,
  full: Float32Array,
  targets: readonly number[],
  vocab: number,
  myGreedy: readonly number[],
  fullGreedy: readonly number[],
): FidelityMetrics {
  const T = targets.length;
  const s = fidelitySummary({ dims: [T, vocab], data: full }, { dims: [T, vocab], data: mine }, targets);
  return {
    nll: s.nllCompressed,
    ppl: s.perplexityCompressed,
    deltaNll: s.deltaNll,
    kl: s.kl,
    top1: s.top1Agreement,
    greedyPrefix: greedyPrefixMatch(myGreedy, fullGreedy),
  };
}
