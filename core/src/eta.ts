/**
 * The time left in a run, weighted by the work each cell stands for.
 *
 * Counting cells says a run is half done when half its cells are, but cells
 * are not alike: a sweep's plan runs its context lengths in ascending order,
 * and a 4K-token cell costs many times a 256-token one (its prefill alone is
 * 16 times the tokens, and every decode step attends over the longer cache).
 * A cell-count ETA taken after the short cells is therefore far too
 * optimistic. Weighting each cell by its prompt's tokens — known from the
 * plan before anything runs — makes the estimate "time per token so far ×
 * tokens left", which tracks the real cost much more closely (it still
 * under-counts attention's quadratic part, so long tails stay a little
 * optimistic).
 */

/**
 * Cell weights from planned prompt lengths (tokens). A length that is unknown
 * (0, negative or not finite: a sample whose size the plan does not state)
 * counts as the mean of the known ones, or 1 when none is known, so such a
 * cell neither vanishes from the estimate nor dominates it.
 */
export function cellWeights(lengths: readonly number[]): number[] {
  const known = lengths.filter((l) => Number.isFinite(l) && l > 0);
  const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  return lengths.map((l) => (Number.isFinite(l) && l > 0 ? l : fallback));
}

/**
 * Seconds left: the busy time so far scaled by the weight left over the
 * weight done (busySeconds × remaining / done). 0 when nothing is left; with
 * nothing done yet there is no rate to go on, and the answer is 0 (unknown)
 * rather than a guess.
 */
export function weightedEta(busySeconds: number, doneWeight: number, remainingWeight: number): number {
  if (!(remainingWeight > 0) || !(doneWeight > 0) || !(busySeconds >= 0)) return 0;
  return (busySeconds * remainingWeight) / doneWeight;
}
