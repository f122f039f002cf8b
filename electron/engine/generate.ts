/**
 * The generation loop: prefill (full attention) → scores → per-layer budgets
 * (core) → gather K/V → decode, greedily or with seeded sampling.
 *
 * Compression happens once, at the end of prefill, as in the ZigZagKV paper: the
 * first generated token comes from the uncompressed prefill logits, every
 * later token from the compressed cache, at positions n + t.
 */
import type { BudgetSpec, CompressionConfig, CompressionPlan, ResolvedBudget } from '@kvlab/core';
import { createRng, fitBudget, getScorer, observedWindow, parseParams, planCompression, resolveBudget, windowsNeeded } from '@kvlab/core';
import { DecodeEvictor } from './decode-eviction.ts';
import type { InferenceEngine, PrefillOptions, PrefillResult } from './inference-engine.ts';
import type { CacheSize } from './kv-cache.ts';
import { KvCache } from './kv-cache.ts';

export type Method = 'full' | CompressionConfig;

export interface Sampling {
  /** 0 (default) = greedy argmax. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly seed?: number;
}

export interface GenerateOptions {
  readonly method?: Method;
  readonly budget?: BudgetSpec;
  readonly maxTokens: number;
  readonly sampling?: Sampling;
  /** Stop at the tokenizer's EOS (default true). */
  readonly stopAtEos?: boolean;
  readonly signal?: AbortSignal;
  readonly onToken?: (id: number) => void;
  /**
   * Keep every KV head at its post-prefill budget while decoding, evicting by
   * the scorer (H2O, StreamingLLM, TOVA, Knorm, Random). Default false: the
   * cache grows by one token per step, as methods that compress only the prompt do.
   */
  readonly evictDuringDecode?: boolean;
  /** More ids that end generation (e.g. the newline token for LongBench's samsum). */
  readonly stopIds?: readonly number[];
  /** Reuse this prefill of `prompt` (it must carry the statistics the method needs: prefillForMethods). */
  readonly prefill?: PrefillResult;
  /**
   * The given `prefill` is handed over: nothing reads its K/V after this call, so a full cache takes
   * them over instead of copying them, and once the cache exists the prefill is emptied of its K/V and
   * observations (its logits and timings stay): the prompt's K/V are held once, not twice, even while
   * the caller keeps the PrefillResult. Default false.
   */
  readonly lastUseOfPrefill?: boolean;
}

export interface GenerateResult {
  readonly tokens: number[];
  /** The budget really kept: raised above the stated one when `budget.adjusted` is set. */
  readonly budget?: ResolvedBudget;
  readonly plan?: CompressionPlan;
  /** One line per adjustment made to the request (a budget raised to what the method can keep). */
  readonly notices: readonly string[];
  /** What the cache actually held after compression (before decoding). */
  readonly heldAfterCompression: CacheSize;
  /** What it held at the end. */
  readonly heldAtEnd: CacheSize;
  readonly timings: { readonly prefillMs: number; readonly compressMs: number; readonly decodeMs: number; readonly decodeTokens: number };
  /** Tokens evicted during decoding (evictDuringDecode). */
  readonly decodeEvictions: number;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if ((x[i] ?? -Infinity) > (x[best] ?? -Infinity)) best = i;
  return best;
}

/** Picks the next token: argmax at temperature 0, else a seeded draw from softmax(logits / T) over the top-k. */
export function sampler(s: Sampling = {}): (logits: Float32Array) => number {
  const T = s.temperature ?? 0;
  if (T <= 0) return argmax;
  const rng = createRng(s.seed ?? 0);
  return (logits) => {
    const idx = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => (logits[b] ?? 0) - (logits[a] ?? 0));
    const k = Math.min(s.topK ?? logits.length, logits.length);
    const top = idx.slice(0, k);
    const m = logits[top[0] ?? 0] ?? 0;
    const p = top.map((i) => Math.exp(((logits[i] ?? 0) - m) / T));
    const z = p.reduce((a, b) => a + b, 0);
    let u = rng.next() * z;
    for (let j = 0; j < top.length; j++) {
      u -= p[j] ?? 0;
      if (u <= 0) return top[j] ?? 0;
    }
    return top[top.length - 1] ?? 0;
  };
}

/** What a prefill must compute for some methods: their observation windows (before clamping to a prompt) and H2O's accumulation. */
export interface PrefillNeeds {
  readonly windows: readonly number[];
  readonly accumulate: boolean;
}

/**
 * The statistics a prefill must compute so that every method given can be
 * planned from it: the union of their observation windows, and H2O's
 * accumulation if any needs it. Parses each method's parameters; callers that
 * prefill many prompts for the same methods compute this once.
 */
export function prefillNeeds(methods: readonly Method[]): PrefillNeeds {
  const windows = new Set<number>();
  let accumulate = false;
  for (const method of methods) {
    if (method === 'full') continue;
    for (const a of windowsNeeded(method)) windows.add(a);
    const scorer = getScorer(method.scorer.id);
    accumulate ||= scorer.needs(parseParams(scorer, method.scorer.params)).some((x) => x.input === 'accumulated');
  }
  return { windows: [...windows].sort((a, b) => a - b), accumulate };
}

/** The needs of several method sets together (the methods of a sample's cells). */
export function unionNeeds(needs: readonly PrefillNeeds[]): PrefillNeeds {
  const windows = new Set(needs.flatMap((x) => x.windows));
  return { windows: [...windows].sort((a, b) => a - b), accumulate: needs.some((x) => x.accumulate) };
}

/** One full-attention prefill of `prompt` with the statistics `needs` asks for. */
export async function prefillWith(
  engine: InferenceEngine,
  prompt: readonly number[],
  needs: PrefillNeeds,
  opts: Pick<PrefillOptions, 'signal' | 'onProgress'> = {},
): Promise<PrefillResult> {
  // Clamped to the prompt as the methods look them up: a 3-token prompt gets α = 3 for an α = 8 method.
  const windows = [...new Set(needs.windows.map((a) => observedWindow(a, prompt.length)))].sort((a, b) => a - b);
  return engine.prefill(prompt, { windows, accumulate: needs.accumulate, ...opts });
}

/** Runs the prefill a method needs (windows, H2O accumulation). */
export async function prefillFor(engine: InferenceEngine, prompt: readonly number[], method: Method, signal?: AbortSignal): Promise<PrefillResult> {
  return prefillForMethods(engine, prompt, [method], signal ? { signal } : {});
}

/**
 * One full-attention prefill whose statistics serve every method given (the
 * union of their observation windows; H2O's accumulation if any needs it), so
 * an experiment prefills each sample once for all its methods and budgets.
 */
export async function prefillForMethods(
  engine: InferenceEngine,
  prompt: readonly number[],
  methods: readonly Method[],
  opts: Pick<PrefillOptions, 'signal' | 'onProgress'> = {},
): Promise<PrefillResult> {
  return prefillWith(engine, prompt, prefillNeeds(methods), opts);
}

/** What compressing a prefill decided: no plan for the full cache. */
export interface Compression {
  readonly plan?: CompressionPlan;
  /** The budget really kept: raised above the stated one when `adjusted` is set. */
  readonly budget?: ResolvedBudget;
}

/**
 * Plans the compression of a prefill for a method and budget. A budget below
 * what the method can keep of this prompt is raised to the smallest that
 * works (fitBudget; `budget.adjusted` says so), so the returned budget is the
 * one the cache will really hold.
 */
export function compressionOf(engine: Pick<InferenceEngine, 'shape'>, pre: PrefillResult, method: Method, budget?: BudgetSpec): Compression {
  if (method === 'full' || !budget) return {};
  const resolved = fitBudget(resolveBudget(budget, engine.shape, pre.n), method);
  const plan = planCompression(pre.observations, method, resolved.totalTokens);
  return { plan, budget: resolved };
}

/**
 * The cache a compression keeps of a prefill, with capacity for `reserve`
 * generated tokens (kv-cache.ts). A prefill and its plan can build many
 * caches: each is independent of the others.
 */
export function cacheOf(engine: Pick<InferenceEngine, 'shape'>, pre: PrefillResult, compression: Compression, reserve?: number): KvCache {
  const { plan } = compression;
  if (!plan) return KvCache.full(engine.shape, pre.keys, pre.values, pre.n, reserve);
  return KvCache.fromKept(engine.shape, pre.keys, pre.values, pre.n, plan.kept, reserve);
}

/** compressionOf, then cacheOf: the (possibly compressed) cache from a prefill, which can be reused for many methods. */
export function compressPrefill(
  engine: Pick<InferenceEngine, 'shape'>,
  pre: PrefillResult,
  method: Method,
  budget?: BudgetSpec,
  reserve?: number,
): { cache: KvCache; plan?: CompressionPlan; budget?: ResolvedBudget } {
  const compression = compressionOf(engine, pre, method, budget);
  return { cache: cacheOf(engine, pre, compression, reserve), ...compression };
}

/** What a generation decodes from: its cache, compression and first logits. */
interface Start extends Compression {
  readonly cache: KvCache;
  readonly compressMs: number;
  readonly evictor: DecodeEvictor | undefined;
  readonly firstLogits: Float32Array;
  readonly prefillMs: number;
}

/**
 * Empties a handed-over prefill of its K/V: the per-layer arrays, and the observations, which share
 * them. Its caller still holds the PrefillResult (a runner reads its timings for the row), and through
 * it the prompt's K/V would stay alive beside the cache built from them — an adopted cache's first
 * growth, or a compressed copy — so the prompt would be held twice after all. Logits, queries and
 * timings stay.
 */
function releaseKv(pre: PrefillResult): void {
  pre.keys.length = 0;
  pre.values.length = 0;
  pre.observations.length = 0;
}

/**
 * The prefill (unless one is given) and the cache to decode from. A prefill made here, or one handed
 * over (`lastUseOfPrefill`), is used by nothing else, so a full cache takes over its K/V instead of
 * copying them (KvCache.adoptFull) and the prompt's K/V are held once; nothing here keeps the prefill
 * once the cache exists.
 */
async function startGeneration(engine: InferenceEngine, prompt: readonly number[], opts: GenerateOptions, method: Method): Promise<Start> {
  const pre = opts.prefill ?? (await prefillFor(engine, prompt, method, opts.signal));
  const t1 = performance.now();
  const compression = compressionOf(engine, pre, method, opts.budget);
  // Capacity for every token the run may generate: the cache never grows mid-run (an adopted one grows once, at its first step).
  const cache =
    (!opts.prefill || opts.lastUseOfPrefill === true) && !compression.plan
      ? KvCache.adoptFull(engine.shape, pre.keys, pre.values, pre.n, opts.maxTokens)
      : cacheOf(engine, pre, compression, opts.maxTokens);
  const compressMs = performance.now() - t1;
  const { plan } = compression;
  const evictor = opts.evictDuringDecode && plan?.compress ? new DecodeEvictor(cache, plan, pre, engine.config.numHeads) : undefined;
  const firstLogits = pre.logits.slice(pre.logits.length - engine.config.vocabSize);
  if (opts.prefill && opts.lastUseOfPrefill === true) releaseKv(opts.prefill);
  return { ...compression, cache, compressMs, evictor, firstLogits, prefillMs: pre.timings.prefillMs };
}

export async function generate(engine: InferenceEngine, prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const { cache, plan, budget, compressMs, evictor, firstLogits, prefillMs } = await startGeneration(engine, prompt, opts, opts.method ?? 'full');
  const heldAfterCompression = cache.size();
  const pick = sampler(opts.sampling);
  const eos = new Set([...engine.tokenizer.eosIds, ...(opts.stopIds ?? [])]);
  const tokens: number[] = [];
  let next = pick(firstLogits);
  const t2 = performance.now();
  let decodeTokens = 0;
  while (tokens.length < opts.maxTokens) {
    if ((opts.stopAtEos ?? true) && eos.has(next)) break;
    tokens.push(next);
    opts.onToken?.(next);
    if (tokens.length >= opts.maxTokens) break;
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    const r = await engine.step(cache, [next], { attention: evictor?.wantsAttention ?? false });
    evictor?.afterStep(r.attention);
    decodeTokens++;
    next = pick(r.logits);
  }
  return {
    tokens,
    ...(budget ? { budget } : {}),
    ...(plan ? { plan } : {}),
    notices: [...(budget?.adjusted ? [budget.adjusted.notice] : []), ...(plan?.notices ?? [])],
    heldAfterCompression,
    heldAtEnd: cache.size(),
    timings: { prefillMs, compressMs, decodeMs: performance.now() - t2, decodeTokens },
    decodeEvictions: evictor?.evictions ?? 0,
  };
}
