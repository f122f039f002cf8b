/**
 * The compression pipeline for one prompt after prefill:
 *   observations → allocator statistics → per-layer budgets (allocator)
 *   → per-head budgets (uniform in the layer, or a head-wise method like Ada-KV)
 *   → scores (scorer) → kept indices (the one selector).
 *
 * Any scorer composes with any allocator and optionally one head-wise split
 * ("Ada + ZigZagKV"). Pure: returns a plan; the engine gathers K/V from it.
 *
 * Shapes: observations[L] (one per layer, same n/Hq/Hkv);
 *   plan.layerBudgets Int32Array[L]  tokens per KV head (the average when head-wise)
 *   plan.headBudgets  Int32Array[L][Hkv]
 *   plan.kept         [L][Hkv] ascending original positions
 */
import { ShapeError } from './errors.ts';
import type { LayerStats, Protected } from './method.ts';
import { parseParams } from './method.ts';
import type { LayerObservation } from './observation.ts';
import { getAllocator, getHeadwise, getScorer } from './registry.ts';
import type { KeptIndices } from './select.ts';
import { selectTokens } from './select.ts';

export interface MethodChoice {
  readonly id: string;
  readonly params?: unknown;
}

export interface CompressionConfig {
  readonly scorer: MethodChoice;
  readonly allocator: MethodChoice;
  readonly headwise?: MethodChoice;
}

export interface CompressionPlan {
  /** The config with every parameter filled in and validated. */
  readonly config: { readonly scorer: Required<MethodChoice>; readonly allocator: Required<MethodChoice>; readonly headwise?: Required<MethodChoice> };
  readonly seqLen: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly totalTokens: number;
  /** False when the budget keeps every token (then kept = everything). */
  readonly compress: boolean;
  readonly protect: Protected;
  readonly stats: LayerStats;
  readonly layerBudgets: Int32Array;
  readonly headBudgets: readonly Int32Array[];
  readonly kept: readonly KeptIndices[];
}

/** Checks that every observation describes the same prompt and model. */
export function checkObservations(observations: readonly LayerObservation[]): { n: number; Hq: number; Hkv: number } {
  const first = observations[0];
  if (!first) throw new ShapeError('observations', 'need at least one layer');
  observations.forEach((o, l) => {
    if (o.seqLen !== first.seqLen || o.numQueryHeads !== first.numQueryHeads || o.numKvHeads !== first.numKvHeads) {
      throw new ShapeError(
        'observations',
        `layer ${l} has n=${o.seqLen}, Hq=${o.numQueryHeads}, Hkv=${o.numKvHeads}; layer 0 has n=${first.seqLen}, Hq=${first.numQueryHeads}, Hkv=${first.numKvHeads}`,
      );
    }
  });
  return { n: first.seqLen, Hq: first.numQueryHeads, Hkv: first.numKvHeads };
}

/**
 * Allocators that read an observation window (PyramidKV's C = B_avg − α,
 * ZigZagKV's LMBA, CAKE's statistics) default their `windowSize` to the
 * scorer's protected window, so "SnapKV α=64 + PyramidKV" does not silently
 * mix two windows. An explicit allocator `windowSize` wins.
 */
export function inheritWindow(schema: unknown, raw: unknown, window: number): unknown {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  if (!shape || !('windowSize' in shape) || window < 1) return raw;
  const given = (raw ?? {}) as Record<string, unknown>;
  return 'windowSize' in given ? raw : { ...given, windowSize: window };
}

/** The observation-window sizes a config needs the engine to aggregate. */
export function windowsNeeded(config: CompressionConfig): number[] {
  const scorer = getScorer(config.scorer.id);
  const sp = parseParams(scorer, config.scorer.params);
  const sizes = new Set<number>();
  for (const need of scorer.needs(sp)) if (need.windowSize) sizes.add(need.windowSize);
  const allocator = getAllocator(config.allocator.id);
  const ap = parseParams(allocator, inheritWindow(allocator.params, config.allocator.params, scorer.protect(sp).window)) as { windowSize?: unknown };
  if (typeof ap.windowSize === 'number') sizes.add(ap.windowSize);
  return [...sizes].sort((a, b) => a - b);
}

/**
 * Plans the compression of one prompt. `totalTokens` is Σ over layers of
 * tokens kept per KV head (resolveBudget(...).totalTokens).
 */
export function planCompression(observations: readonly LayerObservation[], config: CompressionConfig, totalTokens: number): CompressionPlan {
  const { n, Hkv } = checkObservations(observations);
  const L = observations.length;
  const scorer = getScorer(config.scorer.id);
  const allocator = getAllocator(config.allocator.id);
  const headwise = config.headwise ? getHeadwise(config.headwise.id) : undefined;
  const sp = parseParams(scorer, config.scorer.params);
  const protect = scorer.protect(sp);
  const ap = parseParams(allocator, inheritWindow(allocator.params, config.allocator.params, protect.window));
  const hp = headwise ? parseParams(headwise, config.headwise?.params) : undefined;
  const resolved = {
    scorer: { id: scorer.id, params: sp },
    allocator: { id: allocator.id, params: ap },
    ...(headwise ? { headwise: { id: headwise.id, params: hp } } : {}),
  };
  const minPerLayer = Math.min(n, protect.sinks + protect.window + 1);
  const compress = totalTokens < L * n;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  if (!compress) {
    return {
      config: resolved,
      seqLen: n,
      numLayers: L,
      numKvHeads: Hkv,
      totalTokens: L * n,
      compress,
      protect,
      stats: { numLayers: L, seqLen: n, minPerLayer },
      layerBudgets: new Int32Array(L).fill(n),
      headBudgets: Array.from({ length: L }, () => new Int32Array(Hkv).fill(n)),
      kept: Array.from({ length: L }, () => Array.from({ length: Hkv }, () => all)),
    };
  }
  const stats: LayerStats = { ...(allocator.collect?.(observations, ap) ?? {}), numLayers: L, seqLen: n, minPerLayer };
  const layerBudgets = allocator.allocate(stats, totalTokens, ap);
  const headBudgets: Int32Array[] = [];
  const kept: KeptIndices[] = [];
  observations.forEach((obs, l) => {
    const scores = scorer.score(obs, sp);
    const b = layerBudgets[l] ?? 0;
    const hb = headwise && hp !== undefined ? headwise.split(scores, b, protect, hp) : new Int32Array(Hkv).fill(b);
    headBudgets.push(hb);
    kept.push(selectTokens(scores, hb, protect, scorer.id));
  });
  return { config: resolved, seqLen: n, numLayers: L, numKvHeads: Hkv, totalTokens, compress, protect, stats, layerBudgets, headBudgets, kept };
}
