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
import type { ResolvedBudget } from './budget.ts';
import { formatBudget, withTotalTokens } from './budget.ts';
import { ShapeError } from './errors.ts';
import type { LayerStats, Protected } from './method.ts';
import { parseParams } from './method.ts';
import { formatMethodSpec } from './method-spec.ts';
import type { LayerObservation } from './observation.ts';
import { observedWindow } from './observation.ts';
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
  /**
   * One line per adjustment the plan made, for people (CLI, result rows, UI):
   * today only a total below minimumTotal being raised to it. Empty when the
   * plan kept exactly what was asked.
   */
  readonly notices: readonly string[];
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

/**
 * The observation-window sizes a config needs the engine to aggregate. With
 * `seqLen`, each is clamped to the prompt (observedWindow), exactly as the
 * scorers and allocators look them up, so a prompt shorter than a window gets
 * the whole-prompt window instead of none.
 */
export function windowsNeeded(config: CompressionConfig, seqLen?: number): number[] {
  const scorer = getScorer(config.scorer.id);
  const sp = parseParams(scorer, config.scorer.params);
  const sizes = new Set<number>();
  const add = (a: number): void => void sizes.add(seqLen === undefined ? a : observedWindow(a, seqLen));
  for (const need of scorer.needs(sp)) if (need.windowSize) add(need.windowSize);
  const allocator = getAllocator(config.allocator.id);
  const ap = parseParams(allocator, inheritWindow(allocator.params, config.allocator.params, scorer.protect(sp).window)) as { windowSize?: unknown };
  if (typeof ap.windowSize === 'number') add(ap.windowSize);
  return [...sizes].sort((a, b) => a - b);
}

/** The smallest total (Σ_l tokens per KV head) a config can keep of a prompt, and why. */
export interface BudgetFloor {
  readonly tokens: number;
  /** Completes "the minimum is …", e.g. "45 (5 layers × 9: 8-token window + 1)". */
  readonly why: string;
}

/** "8-token window", "4 sinks + 1-token window": what the selector always keeps. */
function protectedText(p: Protected): string {
  const parts = [...(p.sinks > 0 ? [`${p.sinks} sink${p.sinks === 1 ? '' : 's'}`] : []), ...(p.window > 0 ? [`${p.window}-token window`] : [])];
  return parts.join(' + ') || 'nothing protected';
}

/**
 * The smallest total a config can compress an n-token prompt to: every layer
 * needs its protected tokens + 1 (minPerLayer), and an allocator may need more
 * (minTotal). Capped at L·n, the full cache: a prompt no longer than the
 * window is all protected, so the only budget that works keeps all of it.
 */
export function minimumTotal(config: CompressionConfig, numLayers: number, seqLen: number): BudgetFloor {
  const L = numLayers;
  const n = seqLen;
  const scorer = getScorer(config.scorer.id);
  const sp = parseParams(scorer, config.scorer.params);
  const protect = scorer.protect(sp);
  const allocator = getAllocator(config.allocator.id);
  const ap = parseParams(allocator, inheritWindow(allocator.params, config.allocator.params, protect.window));
  const need = protect.sinks + protect.window + 1;
  let floor: BudgetFloor = { tokens: L * need, why: `${L * need} (${L} layers × ${need}: ${protectedText(protect)} + 1)` };
  const own = allocator.minTotal?.({ numLayers: L, seqLen: n, minPerLayer: Math.min(n, need) }, ap);
  if (own && own.tokens > floor.tokens) floor = own;
  if (floor.tokens >= L * n) return { tokens: L * n, why: `the whole prompt, ${L * n} tokens (compressing it would need ${floor.why})` };
  return floor;
}

/** A prompt's shape: L layers of an n-token prompt. */
interface PromptShape {
  readonly L: number;
  readonly n: number;
}

/** The one-line notice for a total raised from `requested` to `floor`. */
function raiseNotice(what: string, requested: number, config: CompressionConfig, shape: PromptShape, floor: BudgetFloor): string {
  const { L, n } = shape;
  const to = floor.tokens >= L * n ? `kept the full cache (${floor.tokens} tokens)` : `raised to ${floor.tokens}`;
  return `budget ${what}= ${requested} token${requested === 1 ? '' : 's'} over ${L} layers is below what ${formatMethodSpec(config)} can keep of this ${n}-token prompt; the minimum is ${floor.why}: ${to}`;
}

/**
 * Raises a resolved budget that is below minimumTotal to it, recording the
 * notice in `adjusted`, so a too-small budget on a short prompt runs at the
 * smallest budget that works instead of failing. Every number in
 * the result is the raised budget, i.e. what is really kept. A budget that
 * already works is returned unchanged.
 */
export function fitBudget(resolved: ResolvedBudget, config: CompressionConfig): ResolvedBudget {
  if (!resolved.compress) return resolved;
  const L = resolved.numLayers;
  const n = resolved.seqLen;
  const floor = minimumTotal(config, L, n);
  if (resolved.totalTokens >= floor.tokens) return resolved;
  const notice = raiseNotice(`${formatBudget(resolved.spec)} `, resolved.totalTokens, config, { L, n }, floor);
  return withTotalTokens(resolved, floor.tokens, { requestedTokens: resolved.totalTokens, notice });
}

/**
 * Plans the compression of one prompt. `requestedTotal` is Σ over layers of
 * tokens kept per KV head (resolveBudget(...).totalTokens, best through
 * fitBudget); a total below minimumTotal is raised to it, with a line in
 * `plan.notices`, and `plan.totalTokens` is what the plan really keeps.
 */
export function planCompression(observations: readonly LayerObservation[], config: CompressionConfig, requestedTotal: number): CompressionPlan {
  const { n, Hkv } = checkObservations(observations);
  const L = observations.length;
  // Below the smallest total that works, keep that instead and say so (fitBudget does the same on a ResolvedBudget).
  const floor = minimumTotal(config, L, n);
  const raise = requestedTotal < L * n && requestedTotal < floor.tokens;
  const totalTokens = raise ? floor.tokens : requestedTotal;
  const notices = raise ? [raiseNotice('', requestedTotal, config, { L, n }, floor)] : [];
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
      notices,
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
  return { config: resolved, seqLen: n, numLayers: L, numKvHeads: Hkv, totalTokens, compress, protect, stats, layerBudgets, headBudgets, kept, notices };
}
