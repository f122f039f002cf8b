/**
 * The budget language: one place that converts between every way people state
 * a KV budget, so two methods are compared at the same memory.
 *
 * Why: the field's most common complaint is that "compression ratio 0.5"
 * (kvpress: fraction REMOVED) and "KV size 128" (KVCache-Factory: average
 * tokens per layer, window included) are not comparable, and each method
 * interprets its knob differently. Every
 * method in core takes its budget as `totalTokens` from `resolveBudget`.
 *
 * Units (for one prompt of n tokens, compressed once after prefill):
 *   tokensPerLayer  B_avg: average tokens kept per layer **per KV head**,
 *                   observation window included (KVCache-Factory's
 *                   `max_capacity_prompt`, ZigZagKV's B_avg).
 *   totalTokens     Σ_l budget_l = L·B_avg. An integer; what allocators conserve.
 *   keepRatio       totalTokens / (L·n): the share of the prompt's KV entries kept.
 *   compressionRatio 1 − keepRatio (kvpress's `compression_ratio`).
 *   bytes           KV bytes held for the prompt: totalTokens · 2 (K and V) ·
 *                   kvHeads · headDim · bytes(dtype).
 */
import { BudgetError, quoteInput } from './errors.ts';
import { DTYPE_BYTES } from './tensor.ts';

/** The shape facts a budget needs; read from the model file, never hard-coded. */
export interface KvModelShape {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Storage dtype of the cache. */
  readonly dtype: 'float32' | 'float16';
}

export type BudgetSpec =
  | { readonly kind: 'keepRatio'; readonly value: number }
  | { readonly kind: 'compressionRatio'; readonly value: number }
  | { readonly kind: 'tokensPerLayer'; readonly value: number }
  | { readonly kind: 'totalTokens'; readonly value: number }
  | { readonly kind: 'bytes'; readonly value: number };

export interface ResolvedBudget {
  readonly spec: BudgetSpec;
  readonly seqLen: number;
  readonly numLayers: number;
  /** False when the budget keeps the whole prompt (B_avg ≥ n): no compression runs. */
  readonly compress: boolean;
  /** Σ over layers of kept tokens per KV head; integer; equals L·n when !compress. */
  readonly totalTokens: number;
  /** totalTokens / L (may be fractional). */
  readonly tokensPerLayer: number;
  readonly keepRatio: number;
  readonly compressionRatio: number;
  /** Bytes of K and V held for the prompt at this budget. */
  readonly bytes: number;
  /** Bytes of the uncompressed prompt cache. */
  readonly fullBytes: number;
  /**
   * Set when the stated budget was below what the method can keep on this
   * prompt and was raised (fitBudget in pipeline.ts): every other field
   * describes the raised budget, i.e. what is really kept.
   */
  readonly adjusted?: BudgetAdjustment;
}

export interface BudgetAdjustment {
  /** The total the spec resolved to before it was raised. */
  readonly requestedTokens: number;
  /** One line for people: what was asked, why it could not be kept, what was kept instead. */
  readonly notice: string;
}

/** Bytes of K+V for ONE token in ONE layer (all KV heads). */
export function kvBytesPerTokenPerLayer(shape: KvModelShape): number {
  return 2 * shape.numKvHeads * shape.headDim * DTYPE_BYTES[shape.dtype];
}

/** Bytes of K+V for one token across all layers — the figure model cards quote. */
export function kvBytesPerToken(shape: KvModelShape): number {
  return shape.numLayers * kvBytesPerTokenPerLayer(shape);
}

/** Bytes held by a cache with `entries` (layer, KV head, token) entries. */
export function kvBytesForEntries(shape: KvModelShape, entries: number): number {
  return entries * shape.headDim * 2 * DTYPE_BYTES[shape.dtype];
}

function checkShape(shape: KvModelShape): void {
  for (const k of ['numLayers', 'numKvHeads', 'headDim'] as const) {
    const v = shape[k];
    if (!Number.isInteger(v) || v < 1) throw new BudgetError('budget', `model ${k} must be a positive integer, got ${v}`);
  }
}

/**
 * Converts any budget statement into every unit for a prompt of `seqLen`
 * tokens. Fractional token counts are rounded to the nearest whole total
 * (ties up), so `keepRatio 0.2` on L=32, n=1000 keeps 6400 entries per head.
 */
export function resolveBudget(spec: BudgetSpec, shape: KvModelShape, seqLen: number): ResolvedBudget {
  checkShape(shape);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new BudgetError('budget', `seqLen must be a positive integer, got ${seqLen}`);
  const L = shape.numLayers;
  const full = L * seqLen;
  const v = spec.value;
  if (!Number.isFinite(v)) throw new BudgetError('budget', `${spec.kind} must be a finite number, got ${v}`);
  let total: number;
  switch (spec.kind) {
    case 'keepRatio':
      if (!(v > 0 && v <= 1)) throw new BudgetError('budget', `keepRatio must be in (0, 1], got ${v}`);
      total = Math.round(v * full);
      break;
    case 'compressionRatio':
      if (!(v >= 0 && v < 1)) throw new BudgetError('budget', `compressionRatio must be in [0, 1), got ${v}`);
      total = Math.round((1 - v) * full);
      break;
    case 'tokensPerLayer':
      if (!(v > 0)) throw new BudgetError('budget', `tokensPerLayer must be > 0, got ${v}`);
      total = Math.round(v * L);
      break;
    case 'totalTokens':
      if (!(v > 0) || !Number.isInteger(v)) throw new BudgetError('budget', `totalTokens must be a positive integer, got ${v}`);
      total = v;
      break;
    case 'bytes': {
      if (!(v > 0)) throw new BudgetError('budget', `bytes must be > 0, got ${v}`);
      // Whole tokens only: never round a byte budget up past what was asked.
      total = Math.floor(v / kvBytesPerTokenPerLayer(shape));
      if (total < 1) throw new BudgetError('budget', `${v} bytes is less than one token in every layer (${kvBytesPerTokenPerLayer(shape)} B)`);
      break;
    }
  }
  total = Math.max(1, Math.min(total, full));
  const compress = total < full;
  const perTok = kvBytesPerTokenPerLayer(shape);
  return {
    spec,
    seqLen,
    numLayers: L,
    compress,
    totalTokens: total,
    tokensPerLayer: total / L,
    keepRatio: total / full,
    compressionRatio: 1 - total / full,
    bytes: total * perTok,
    fullBytes: full * perTok,
  };
}

/**
 * The same budget with a different total (every unit recomputed), recording
 * why. Used to raise a budget the method cannot keep; the spec stays the one
 * the user stated, so results still group under it.
 */
export function withTotalTokens(resolved: ResolvedBudget, totalTokens: number, adjusted: BudgetAdjustment): ResolvedBudget {
  const L = resolved.numLayers;
  const full = L * resolved.seqLen;
  if (!Number.isInteger(totalTokens) || totalTokens < 1 || totalTokens > full) {
    throw new BudgetError('budget', `totalTokens must be an integer in [1, ${full}], got ${totalTokens}`);
  }
  const perTok = resolved.fullBytes / full;
  return {
    spec: resolved.spec,
    seqLen: resolved.seqLen,
    numLayers: L,
    compress: totalTokens < full,
    totalTokens,
    tokensPerLayer: totalTokens / L,
    keepRatio: totalTokens / full,
    compressionRatio: 1 - totalTokens / full,
    bytes: totalTokens * perTok,
    fullBytes: resolved.fullBytes,
    adjusted,
  };
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/**
 * Parses the budget strings used by the CLI, experiment files and the UI:
 *   "20%"            keepRatio 0.2
 *   "keep:0.2"       keepRatio 0.2
 *   "cr:0.8"         compressionRatio 0.8 (kvpress convention)
 *   "128"            tokensPerLayer 128 (KVCache-Factory "KV size 128")
 *   "128/layer"      tokensPerLayer 128
 *   "4096 total"     totalTokens 4096
 *   "64MiB", "2.5 GB" bytes
 */
export function parseBudget(text: string): BudgetSpec {
  const spec = parseBudgetText(text);
  // The ranges that hold whatever the model and prompt, checked here so an experiment
  // file or the playground says so at once rather than a run failing later (resolveBudget checks again).
  const q = quoteInput(text.trim());
  const v = spec.value;
  if (!Number.isFinite(v)) throw new BudgetError('', `Budget ${q} is too large a number`);
  if (spec.kind === 'keepRatio' && !(v > 0 && v <= 1))
    throw new BudgetError('', `Budget ${q} is not a share of the cache: keep more than 0% and at most 100% (e.g. 20%)`);
  if (spec.kind === 'compressionRatio' && !(v >= 0 && v < 1))
    throw new BudgetError('', `Budget ${q} is not a compression ratio: cr: takes the share removed, from 0 up to but not including 1 (e.g. cr:0.8)`);
  if (spec.kind !== 'keepRatio' && spec.kind !== 'compressionRatio' && !(v > 0))
    throw new BudgetError('', `Budget ${q} keeps nothing: give more than 0 ${spec.kind === 'bytes' ? 'bytes' : 'tokens'}`);
  return spec;
}

function parseBudgetText(text: string): BudgetSpec {
  const s = text.trim().toLowerCase();
  let m: RegExpMatchArray | null;
  const num = (x: string | undefined): number => Number(x);
  if ((m = /^(\d+(?:\.\d+)?)\s*%$/.exec(s))) return { kind: 'keepRatio', value: num(m[1]) / 100 };
  if ((m = /^keep\s*:\s*(\d*\.?\d+)$/.exec(s))) return { kind: 'keepRatio', value: num(m[1]) };
  if ((m = /^cr\s*:\s*(\d*\.?\d+)$/.exec(s))) return { kind: 'compressionRatio', value: num(m[1]) };
  if ((m = /^(\d+(?:\.\d+)?)\s*(?:\/\s*layer|tok(?:ens)?\/layer)?$/.exec(s))) return { kind: 'tokensPerLayer', value: num(m[1]) };
  if ((m = /^(\d+)\s*total$/.exec(s))) return { kind: 'totalTokens', value: num(m[1]) };
  if ((m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)$/.exec(s))) return { kind: 'bytes', value: num(m[1]) * (UNITS[m[2] ?? 'b'] ?? 1) };
  throw new BudgetError(
    '',
    `Budget ${quoteInput(text.trim())} is not understood: write a share of the cache (20%), tokens per layer (128), a compression ratio (cr:0.8), a total (4096 total) or a size (64MiB)`,
  );
}

/** The canonical string for a spec; `parseBudget(formatBudget(s))` round-trips. */
export function formatBudget(spec: BudgetSpec): string {
  switch (spec.kind) {
    case 'keepRatio':
      return `${+(spec.value * 100).toPrecision(12)}%`;
    case 'compressionRatio':
      return `cr:${spec.value}`;
    case 'tokensPerLayer':
      return `${spec.value}/layer`;
    case 'totalTokens':
      return `${spec.value} total`;
    case 'bytes':
      return `${spec.value}b`;
  }
}
