/**
 * What the code above the engine needs of it: the runner, the layer profile,
 * the generation loop and the host's playground see an engine only through
 * `InferenceEngine`, and open models only through an `EngineOpener`. The real
 * implementation is engine.ts (onnxruntime); tests run the same callers over
 * a fake whose numbers are a formula of the token ids, in milliseconds.
 */
import type { ExecutionProviderChoice, KvModelShape, LayerObservation } from '@kvlab/core';
import type { KvType } from './graph/decoder.ts';
import type { KvArray, KvCache } from './kv-cache.ts';
import type { FloatWeightForm, ModelConfig, Tokenizer } from './model.ts';
import type { ProviderInfo } from './providers.ts';

export interface PrefillOptions {
  /** Observation windows α to aggregate (one longer than the prompt is clamped to it: core's observedWindow); the last query's row is always returned. */
  readonly windows?: readonly number[];
  /** Also accumulate H2O's attention over every prompt query. */
  readonly accumulate?: boolean;
  /** Return logits for every prompt position (teacher forcing) instead of only the last. */
  readonly allLogits?: boolean;
  /** Return the last `queries` post-RoPE queries per layer (LMBO). */
  readonly queries?: number;
  readonly signal?: AbortSignal;
  /** Called after each chunk with the tokens prefilled so far and the prompt's length: a long prefill's progress (an 8B model's 32K prompt takes many minutes on a CPU). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface PrefillResult {
  readonly n: number;
  /** [K, V] logits: K = n with allLogits, else 1 (the last position). */
  readonly logits: Float32Array;
  /** Per layer [Hkv, n, d], head-major (the cache's layout; the observations share these buffers). */
  readonly keys: KvArray[];
  readonly values: KvArray[];
  /** Per layer statistics for core's scorers and allocators (keys/values in core's [Hkv, n, d]). */
  readonly observations: LayerObservation[];
  /** Per layer [Hq, q, d] post-RoPE window queries, when asked. */
  readonly queries?: Float32Array[];
  readonly timings: { readonly prefillMs: number };
}

export interface StepOptions {
  /** Also return each layer's attention rows of the new tokens, summed: [Hq, slots] (H2O's decode-time accumulation). */
  readonly attention?: boolean;
  /** Return every fed position's logits [S, V] (teacher forcing) instead of only the last. */
  readonly allLogits?: boolean;
  /**
   * Add the fed tokens' K/V to the cache (default true). False: they attend to the cache and to each
   * other, and the cache is left as it was, for a step over a cache that must not change (a view of a
   * prefill's own arrays, KvCache.view).
   */
  readonly commit?: boolean;
}

export interface StepResult {
  readonly logits: Float32Array;
  readonly attention?: Float32Array[];
}

/** The provider in use, why, and (on WebGPU) the adapter: see ProviderInfo. */
export interface EngineInfo extends ProviderInfo {
  readonly graphPath: string;
  readonly graphCached: boolean;
}

/** One model's decoder, ready to prefill prompts and decode against a KvCache. */
export interface InferenceEngine {
  readonly config: ModelConfig;
  /** The KV cache's shape: layers, KV heads, head size and element type. */
  readonly shape: KvModelShape;
  readonly kvType: KvType;
  readonly tokenizer: Tokenizer;
  readonly info: EngineInfo;
  /** Full-attention prefill of `tokens` (positions 0 … n−1) with the statistics asked for. */
  prefill(tokens: readonly number[], opts?: PrefillOptions): Promise<PrefillResult>;
  /** Feeds `tokens` at the cache's next positions, appends their K/V to it, returns the logits. */
  step(cache: KvCache, tokens: readonly number[], opts?: StepOptions): Promise<StepResult>;
  dispose(): Promise<void>;
}

/** How an engine runs a model (every field optional: the engine's defaults). */
export interface EngineOptions {
  /** Intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
  /** A provider by name, or 'auto' (providers.ts); default 'cpu'. */
  readonly executionProvider?: ExecutionProviderChoice;
  /** Where built graphs are cached (default ~/.cache/kvlab/graphs, or $KVLAB_CACHE/graphs). */
  readonly cacheDir?: string;
  /** Prefill chunk length (tokens per run); bounds the transient [Hq, S, T] attention. Default: autoPrefillChunk. */
  readonly prefillChunk?: number;
  /**
   * Multiply weight blocks (every quantised matrix) with float32 activations:
   * exact against the dequantised weights, but onnxruntime's kernels for it are
   * 2.4× slower per decode matmul for 4-bit blocks and ~100× for 8-bit ones
   * than the default, which quantises the activations to int8 per block as
   * llama.cpp's CPU path does. For tests, and for users who want exactness.
   */
  readonly exactMatmul?: boolean;
  /**
   * The KV cache's element type (default 'f32'). 'f16' holds and moves half
   * the bytes (llama.cpp's default); the graph computes in float32, casting
   * the past up where it reads it, which on the CPU costs a pass over the
   * cache per step. Budgets and "KV held" count the chosen type's bytes.
   */
  readonly kvType?: KvType;
  /**
   * Record onnxruntime's per-node profile of every run (kernel times, in execution order) and write it,
   * as JSON, to a file named with this prefix when the engine is disposed: where a step's time goes.
   */
  readonly ortProfilePrefix?: string;
}

/** A model as the runner sees it: its config and tokenizer, and how its weights are held (for provenance). */
export interface OpenedModel {
  readonly path: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** One line: how the weights are held ("Q4_K_M as stored", …). */
  readonly weights: string;
  /** Whether some matrix is held in blocks (then activations are int8 unless exactMatmul). */
  readonly blockWeights: boolean;
  /**
   * Starts an engine over this model; the caller disposes it. A model may
   * start several in turn (the runner samples text with default options
   * before it runs the experiment's engine).
   */
  startEngine(options: EngineOptions): Promise<InferenceEngine>;
}

/** Opens the model at `path` (a file or folder); starting engines is left to the returned model. */
export type EngineOpener = (path: string, options: { readonly floatWeights: FloatWeightForm | 'auto' }) => Promise<OpenedModel>;
