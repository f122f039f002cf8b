/**
 * What the engine hands to core for ONE layer after prefill: the attention
 * statistics and K/V that token scorers and layer statistics are computed from.
 *
 * The engine aggregates attention inside the ONNX graph so that only [Hq, n]
 * rows cross into JS, never the [Hq, n, n] matrix (at 32K tokens and 32 heads
 * that matrix alone would be 128 GiB). `windowStats`
 * in analysis/attention.ts computes the same aggregates from raw Q/K in
 * TypeScript; tests use it to build observations from real attention.
 *
 * Shapes (row-major; Hq query heads, Hkv KV heads, n prompt tokens, d head dim):
 *   windows[i].sum       [Hq, n]  Σ over the last α queries of softmax(q·Kᵀ/√d)
 *                                 (causal: a window query gives 0 to later keys)
 *   windows[i].sqSum     [Hq, n]  Σ of the squared probabilities (optional; CAKE's variance)
 *   windows[i].entropy   [Hq]     mean over the α queries of each row's entropy (optional; CAKE)
 *   lastQuery            [Hq, n]  the last prompt token's attention row (TOVA)
 *   accumulated          [Hq, n]  Σ over ALL queries seen so far (H2O); grows during decoding
 *   keys, values         [Hkv, n, d] post-RoPE keys (RoPE is applied before caching)
 */
import { MissingInputError, ShapeError } from './errors.ts';
import type { Tensor } from './tensor.ts';
import { expectDims } from './tensor.ts';

export interface WindowAttention {
  /** α: how many trailing prompt queries were aggregated. */
  readonly size: number;
  readonly sum: Tensor<'float32'>;
  readonly sqSum?: Tensor<'float32'>;
  readonly entropy?: Float32Array;
}

export interface LayerObservation {
  readonly layer: number;
  readonly seqLen: number;
  readonly numQueryHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** One entry per observation-window size the engine aggregated (e.g. α = 8 and α = 64). */
  readonly windows: readonly WindowAttention[];
  readonly lastQuery?: Tensor<'float32'>;
  readonly accumulated?: Tensor<'float32'>;
  readonly keys?: Tensor<'float32'>;
  readonly values?: Tensor<'float32'>;
}

/** g = Hq / Hkv, checked. */
export function groupSize(obs: Pick<LayerObservation, 'numQueryHeads' | 'numKvHeads'>): number {
  const g = obs.numQueryHeads / obs.numKvHeads;
  if (!Number.isInteger(g) || g < 1) {
    throw new ShapeError('observation', `numQueryHeads (${obs.numQueryHeads}) must be a multiple of numKvHeads (${obs.numKvHeads})`);
  }
  return g;
}

/**
 * The observation window a method asking for α really gets on an n-token
 * prompt: min(α, n). A prompt shorter than the window is all window (every
 * prompt query observes it), so a method configured with α = 8 still runs on a
 * 1-token prompt. The engine aggregates this size and every lookup
 * (windowOf) asks for it, so requests and lookups cannot disagree.
 */
export function observedWindow(size: number, seqLen: number): number {
  return Math.max(1, Math.min(size, seqLen));
}

/**
 * The window statistics for window size `size` (clamped to the prompt,
 * observedWindow), or a MissingInputError naming the method.
 */
export function windowOf(obs: LayerObservation, size: number, method: string): WindowAttention {
  const a = observedWindow(size, obs.seqLen);
  const w = obs.windows.find((x) => x.size === a);
  if (!w) {
    const have = obs.windows.map((x) => x.size).join(', ') || 'none';
    const asked =
      a === size
        ? `the attention of the last ${a} prompt tokens (its observation window, α = ${a})`
        : `the attention of the last ${a} prompt tokens (its ${size}-token observation window, clamped to the ${obs.seqLen}-token prompt)`;
    throw new MissingInputError(
      method,
      asked,
      have === 'none'
        ? undefined
        : `Only windows of ${have} tokens were collected: set its windowSize to one of those, or run it from an experiment or the playground, which collect the window each method asks for.`,
    );
  }
  expectDims(`layer ${obs.layer} window α=${a} sum`, w.sum, [obs.numQueryHeads, obs.seqLen]);
  return w;
}

/** Returns `t` checked to be [Hq, n], or throws MissingInputError when absent. */
export function requireQueryRows(obs: LayerObservation, t: Tensor<'float32'> | undefined, name: string, method: string): Tensor<'float32'> {
  if (!t) throw new MissingInputError(method, name);
  expectDims(`layer ${obs.layer} ${name}`, t, [obs.numQueryHeads, obs.seqLen]);
  return t;
}

/** Returns keys or values checked to be [Hkv, n, d], or throws MissingInputError. */
export function requireKv(obs: LayerObservation, which: 'keys' | 'values', method: string): Tensor<'float32'> {
  const t = obs[which];
  if (!t) throw new MissingInputError(method, `the prompt's ${which}`);
  expectDims(`layer ${obs.layer} ${which}`, t, [obs.numKvHeads, obs.seqLen, obs.headDim]);
  return t;
}

/**
 * Averages [Hq, n] query-head rows into [Hkv, n] KV-head rows (mean over each
 * group of g = Hq/Hkv query heads, as kvpress does). Heads are grouped
 * contiguously: query head h belongs to KV head ⌊h / g⌋ (Llama/Mistral/Qwen).
 */
export function meanOverGroups(rows: Float32Array, numQueryHeads: number, numKvHeads: number, n: number): Float32Array {
  const g = numQueryHeads / numKvHeads;
  const out = new Float32Array(numKvHeads * n);
  for (let h = 0; h < numQueryHeads; h++) {
    const kv = Math.floor(h / g);
    const src = h * n;
    const dst = kv * n;
    for (let j = 0; j < n; j++) out[dst + j] = (out[dst + j] ?? 0) + (rows[src + j] ?? 0) / g;
  }
  return out;
}
