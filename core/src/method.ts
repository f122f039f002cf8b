/**
 * The contracts every method implements, and parameter validation.
 *
 * Three axes, composable with each other (any scorer with any allocator and
 * any head-wise split):
 *   ScorerDef     token importance per KV head:   score(obs, params) → [Hkv, n], higher = keep
 *   AllocatorDef  tokens per layer:               allocate(stats, total, params) → Int32Array[L]
 *   HeadwiseDef   tokens per KV head in a layer:  split(scores, layerBudget, …) → Int32Array[Hkv]
 * Scorers never do their own top-k: the one selector (select.ts) does.
 *
 * Functions are declared with method syntax on purpose: it lets the registry
 * hold every method as `ScorerDef<string, unknown>` (parameters are only ever
 * passed after `parseParams` has produced that method's own type).
 *
 * Parameters are zod schemas: the same object gives typed defaults, validation
 * with messages naming method and parameter, and a JSON Schema (ranges,
 * descriptions) for the UI pickers via `z.toJSONSchema`.
 */
import type { z } from 'zod';
import { ParamError } from './errors.ts';
import type { LayerObservation } from './observation.ts';
import type { Tensor } from './tensor.ts';

/** A strict object schema whose every field has a default, so `{}` parses. */
export type ParamSchema<P> = z.ZodType<P>;

/**
 * What every compression method's definition carries (scorer, allocator or
 * head-wise split): its id, its names and its parameter schema. The API's
 * serialisable view of it, with the schema as JSON Schema, is registry.ts's
 * `MethodInfo`.
 */
export interface CompressionMethodDef<Id extends string, P> {
  readonly id: Id;
  readonly label: string;
  /** One or two sentences: the idea. */
  readonly summary: string;
  readonly paperUrl: string;
  readonly params: ParamSchema<P>;
}

/** Tokens a selector must keep regardless of score (counted inside the budget). */
export interface Protected {
  /** The first `sinks` prompt tokens (attention sinks, StreamingLLM). */
  readonly sinks: number;
  /** The last `window` prompt tokens (observation window / recent tokens). */
  readonly window: number;
}

/** Which observation fields a scorer reads; the engine computes only what is asked. */
export type ObservationNeed = 'window' | 'windowVariance' | 'lastQuery' | 'accumulated' | 'keys' | 'values';

export interface ScorerDef<Id extends string = string, P = unknown> extends CompressionMethodDef<Id, P> {
  needs(params: P): readonly { readonly input: ObservationNeed; readonly windowSize?: number }[];
  /** True when the scorer can re-score during decoding (H2O, StreamingLLM). */
  readonly decodeTime: boolean;
  protect(params: P): Protected;
  /** Scores [Hkv, n], finite or ±Infinity, never NaN. Higher = keep. */
  score(obs: LayerObservation, params: P): Tensor<'float32'>;
}

/** Per-layer inputs to a layer allocator. */
export interface LayerStats {
  readonly numLayers: number;
  /** Tokens available in each layer (the prompt length n after prefill). */
  readonly seqLen: number;
  /**
   * The smallest budget any layer may get, from the token policy: protected
   * tokens + 1 (a layer must keep every protected token and at least one
   * scored one: ZigZagKV's floor lo ≥ α + 1). Allocators raise it with their own floors.
   */
  readonly minPerLayer: number;
  /** Per-layer LMBA (analysis/lmba.ts) — ZigZagKV. */
  readonly lmba?: Float64Array;
  /** Per-layer attention entropy and variance (analysis/layer-stats.ts) — CAKE. */
  readonly entropy?: Float64Array;
  readonly variance?: Float64Array;
}

export type LayerStatNeed = 'lmba' | 'cake';

export interface AllocatorDef<Id extends string = string, P = unknown> extends CompressionMethodDef<Id, P> {
  /**
   * Computes the allocator's statistics from per-layer observations (e.g.
   * ZigZagKV's LMBA at its τ). Omitted by allocators that need none.
   */
  collect?(observations: readonly LayerObservation[], params: P): Partial<LayerStats>;
  /**
   * Per-layer budgets in tokens per KV head. When `total < numLayers·seqLen`
   * the result sums to exactly `total` and every entry lies in
   * [max(floor, minPerLayer), seqLen]; otherwise every layer gets seqLen.
   */
  allocate(stats: LayerStats, total: number, params: P): Int32Array;
  /**
   * The smallest total this allocator can split on a prompt, when it needs
   * more than the pipeline's own floor of numLayers · minPerLayer (PyramidKV
   * and CAKE share out B_avg − α, so B_avg must exceed α). `why` completes
   * "the minimum is …" in the notice shown when a budget is raised to it.
   */
  minTotal?(stats: Pick<LayerStats, 'numLayers' | 'seqLen' | 'minPerLayer'>, params: P): { readonly tokens: number; readonly why: string };
}

export interface HeadwiseDef<Id extends string = string, P = unknown> extends CompressionMethodDef<Id, P> {
  /**
   * Splits one layer's budget (B_l tokens per head on average, H_kv·B_l in
   * all) across its KV heads from the layer's scores [Hkv, n]. Returns
   * Int32Array[Hkv] summing to H_kv·B_l (or n per head when B_l ≥ n).
   */
  split(scores: Tensor<'float32'>, layerBudget: number, protect: Protected, params: P): Int32Array;
}

/**
 * Validates raw parameters against a method's schema and fills defaults.
 * Throws ParamError naming the method and the first offending parameter.
 */
export function parseParams<P>(method: { readonly id: string; readonly params: ParamSchema<P> }, raw: unknown = {}): P {
  const r = method.params.safeParse(raw ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path.map(String).join('.') || '(params)';
  let got: unknown = raw;
  for (const k of issue?.path ?? []) got = got !== null && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
  const gotText = issue?.code === 'unrecognized_keys' ? '' : `, got ${JSON.stringify(got)}`;
  throw new ParamError(method.id, path, `${issue?.message ?? 'is invalid'}${gotText}`);
}

/** The defaults of a method: its schema parsed from `{}`. */
export function defaultParams<P>(method: { readonly id: string; readonly params: ParamSchema<P> }): P {
  return parseParams(method, {});
}
