/**
 * The Layer profile's arithmetic, pure so the store and the tests use it
 * without React: a NIAH prompt of a rough length, every registry allocator
 * on a profile's numbers, and the method entry a custom allocation runs as.
 */
import type { LayerProfile, LayerStats } from '@kvlab/core';
import { ALLOCATORS, defaultParams, generateWorkload, getAllocator, SCORERS } from '@kvlab/core';

/**
 * A rough token counter for building prompts in the renderer: ~4 characters
 * per token (English BPE average). The renderer has no tokenizer (it lives in
 * the engine), so a "512-token" sample here is about 512 tokens; the profile
 * reports the exact count the model saw (promptTokens).
 */
export const roughCounter = { count: (text: string): number => Math.max(1, Math.ceil(text.length / 4)) };

/** A NIAH prompt of about `tokens` tokens with the needle at `depth` % (core's generator, filler haystack: no files needed). */
export function niahPrompt(tokens: number, depth: number, seed = 1): string {
  const [sample] = generateWorkload({ kind: 'niah', variant: 'single', contextLengths: [tokens], depths: [depth] }, { seed, counter: roughCounter });
  return sample?.prompt ?? '';
}

export interface AllocatorResult {
  readonly id: string;
  readonly label: string;
  /** Tokens per KV head per layer, or null when the allocator needs statistics the profile does not have. */
  readonly budgets: number[] | null;
  readonly error?: string;
}

/** The smallest budget a layer may get with the default scorer (SnapKV): its protected window + 1, as the pipeline computes it. */
export function defaultMinPerLayer(promptTokens: number): number {
  const snap = SCORERS.snapkv;
  const protect = snap.protect(defaultParams(snap));
  return Math.min(promptTokens, protect.sinks + protect.window + 1);
}

/**
 * Every registry allocator at its default parameters on the profile's
 * numbers: LMBA per layer (ZigZagKV), the prompt length, `total` tokens per
 * KV head summed over layers. CAKE needs per-layer attention entropy and
 * variance, which a profile does not measure: it comes back with an error.
 */
export function allocateAll(
  profile: Pick<LayerProfile, 'lmba' | 'promptTokens'>,
  total: number,
  minPerLayer = defaultMinPerLayer(profile.promptTokens),
): AllocatorResult[] {
  const stats: LayerStats = { numLayers: profile.lmba.length, seqLen: profile.promptTokens, minPerLayer, lmba: Float64Array.from(profile.lmba) };
  return Object.keys(ALLOCATORS).map((id) => {
    const a = getAllocator(id);
    try {
      return { id, label: a.label, budgets: Array.from(a.allocate(stats, total, defaultParams(a))) };
    } catch (e) {
      return { id, label: a.label, budgets: null, error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/**
 * The experiment method entry that runs a custom allocation: core's ZigZagKV
 * with `allocation: 'staticProfile'`, `staticLmba` = the custom budgets and
 * `boundRatio: 0` gives budget_l = total · b_l / Σb — exactly the custom
 * budgets at their own total and the same shape scaled at any other — so
 * the saved allocation runs as an ordinary method entry, no new allocator
 * needed.
 */
export function customMethodEntry(
  budgets: readonly number[],
  label = 'custom',
): {
  method: string;
  label: string;
  allocator: { allocation: 'staticProfile'; staticLmba: number[]; boundRatio: 0 };
} {
  return { method: 'snapkv/zigzagkv', label, allocator: { allocation: 'staticProfile', staticLmba: [...budgets], boundRatio: 0 } };
}
