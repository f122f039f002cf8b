/**
 * How many prompt tokens fit in a model's context with room for the answer. The runner cuts a longer generative
 * prompt in its middle (as LongBench's pred.py does), the builder warns about lengths that would be cut, and the
 * Playground offers only example lengths that fit; all three use this one rule so they agree on where "too long"
 * begins.
 */

/** Tokens kept free beyond the generation cap: the prompt is cut before the chat template and the BOS are added, which need room of their own. */
export const ANSWER_MARGIN = 32;

/** Prompt tokens that fit in `contextLength` while leaving `maxNewTokens` for the answer and {@link ANSWER_MARGIN} to spare (may be ≤ 0). */
export function promptRoom(contextLength: number, maxNewTokens: number): number {
  return contextLength - maxNewTokens - ANSWER_MARGIN;
}
