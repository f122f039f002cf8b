/**
 * The inference engine: a model's decoder graph in an onnxruntime-node
 * session, chunked prefill that returns K/V and the attention statistics the
 * compression methods need, and single-token decode steps against a KvCache.
 *
 * Plain Node module (no electron import): the app's utility process, the CLI,
 * serve mode and the tests all use it.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { ExecutionProvider, ExecutionProviderChoice, KvModelShape, LayerObservation, Tensor, WindowAttention } from '@kvlab/core';
import { f32, LabError, tensor, toFloat32 } from '@kvlab/core';
import { buildDecoderGraph, MASK_NEG, type KvType } from './graph/decoder.ts';
import { kvArray, type KvArray, type KvCache } from './kv-cache.ts';
import type { LoadedModel, ModelConfig } from './model.ts';
import type { ProviderInfo } from './providers.ts';
import { openSession } from './providers.ts';
import { inverseFrequencies, ropeTables } from './rope.ts';

/** Bumped whenever the graph layout changes, so cached graphs are rebuilt. */
export const GRAPH_VERSION = 6;

/** The provider list lives in core (one list for the engine, the CLI, the schemas and the UI). */
export type { ExecutionProvider, ExecutionProviderChoice };

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
}

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

/** The provider in use, why, and (on WebGPU) the adapter: see ProviderInfo. */
export interface EngineInfo extends ProviderInfo {
  readonly graphPath: string;
  readonly graphCached: boolean;
}

/** An engine setting the chosen provider or adapter cannot run, found when the session first runs it. */
export class EngineSetupError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  constructor(message: string) {
    super(message);
    this.name = 'EngineSetupError';
  }
}

export class Engine {
  private readonly inv: Float64Array;
  /**
   * Bytes the last graph run moved between JS and the session: every input
   * uploaded and every fetched output downloaded. onnxruntime-node has no I/O
   * binding, so on a GPU provider each run copies all of it across the bus;
   * the past K/V dominate a decode step, which is where a compressed cache
   * pays twice (less to attend over, less to upload).
   */
  lastRunBytes: { readonly uploaded: number; readonly downloaded: number } = { uploaded: 0, downloaded: 0 };

  private constructor(
    readonly model: LoadedModel,
    private readonly session: ort.InferenceSession,
    readonly info: EngineInfo,
    /** The prefill chunk asked for; undefined: autoPrefillChunk. */
    private readonly chunk: number | undefined,
    readonly kvType: KvType,
  ) {
    this.inv = inverseFrequencies(model.config);
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  get shape(): KvModelShape {
    const c = this.model.config;
    return { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, dtype: this.kvType === 'f16' ? 'float16' : 'float32' };
  }

  static async create(model: LoadedModel, opts: EngineOptions = {}): Promise<Engine> {
    const kvType = opts.kvType ?? 'f32';
    const { path: graphPath, cached } = ensureGraph(model, opts.cacheDir, { exact: opts.exactMatmul ?? false, kvType });
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    };
    const { session, info } = await openSession(graphPath, opts.executionProvider ?? 'cpu', base);
    return new Engine(model, session, { ...info, graphPath, graphCached: cached }, opts.prefillChunk, kvType);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /** One graph run over `tokens` at `positions`, against per-layer past K/V. */
  // eslint-disable-next-line max-params -- SHAPE-TODO: split (or give the reason here)
  private async run(
    tokens: readonly number[],
    positions: readonly number[],
    past: (l: number) => { keys: KvArray; values: KvArray; mask: Float32Array; slots: number },
    statRows: Float32Array,
    A: number,
    logitsIndex: readonly number[],
    fetchStats: boolean,
    fetchQueries: boolean,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const c = this.config;
    const S = tokens.length;
    const half = c.headDim / 2;
    const { cos, sin } = ropeTables(this.inv, positions);
    const causal = new Float32Array(S * S);
    for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) causal[i * S + j] = MASK_NEG;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(tokens, (t) => BigInt(t)),
        [1, S],
      ),
      rope_cos: new ort.Tensor('float32', cos, [1, S, 1, half]),
      rope_sin: new ort.Tensor('float32', sin, [1, S, 1, half]),
      causal_mask: new ort.Tensor('float32', causal, [1, 1, 1, S, S]),
      stat_weights: new ort.Tensor('float32', statRows, [1, 1, 1, A, S]),
      ...windowRowFeeds(statRows, A, S),
      logits_index: new ort.Tensor(
        'int64',
        BigInt64Array.from(logitsIndex, (i) => BigInt(i)),
        [logitsIndex.length],
      ),
      new_from: new ort.Tensor('int64', BigInt64Array.of(BigInt(-S)), [1]),
    };
    const fetches = ['logits'];
    for (let l = 0; l < c.numLayers; l++) {
      const p = past(l);
      feeds[`past_key_${l}`] = kvTensor(p.keys, [1, c.numKvHeads, 1, p.slots, c.headDim]);
      feeds[`past_value_${l}`] = kvTensor(p.values, [1, c.numKvHeads, 1, p.slots, c.headDim]);
      feeds[`past_mask_${l}`] = new ort.Tensor('float32', p.mask, [1, c.numKvHeads, 1, 1, p.slots]);
      fetches.push(`key_${l}`, `value_${l}`);
      if (fetchStats) fetches.push(`wsum_${l}`, `wsq_${l}`, `went_${l}`);
      if (fetchQueries) fetches.push(`query_${l}`);
    }
    const out = await this.session.run(feeds, fetches).catch((e: unknown) => {
      // onnxruntime's WebGPU provider compiles a kernel's shader on its first run; a float16 cache needs the
      // adapter's shader-f16 feature (software adapters such as SwiftShader lack it).
      if (this.kvType === 'f16' && /requires f16 but the device does not support it/.test(String(e)))
        throw new EngineSetupError(
          `the f16 KV cache cannot run on this GPU adapter (${this.info.adapter?.name ?? this.info.executionProvider}): it has no shader-f16 support; use the f32 cache (--kv-type f32, "kvType": "f32") or the CPU`,
        );
      throw e;
    });
    let uploaded = 0;
    for (const t of Object.values(feeds)) uploaded += (t.data as ArrayBufferView).byteLength;
    let downloaded = 0;
    for (const name of fetches) downloaded += (out[name]?.data as ArrayBufferView | undefined)?.byteLength ?? 0;
    this.lastRunBytes = { uploaded, downloaded };
    return out;
  }

  /**
   * Full-attention prefill of `tokens` (positions 0 … n−1) in chunks. Returns
   * K/V per layer and the statistics for compression. Peak memory is linear in
   * n: the largest transient is [Hq, chunk, n].
   */
  // eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
  async prefill(tokens: readonly number[], opts: PrefillOptions = {}): Promise<PrefillResult> {
    const t0 = performance.now();
    const c = this.config;
    const n = tokens.length;
    if (n < 1) throw new RangeError('prefill needs at least one token');
    const { numLayers: L, numKvHeads: Hkv, headDim: d, numHeads: Hq } = c;
    const row = Hkv * d;
    // A window longer than the prompt observes every prompt query: α is clamped to n, as core's windowOf looks it up.
    const windows = [...new Set([1, ...(opts.windows ?? []).map((a) => Math.min(a, n))])].sort((a, b) => a - b);
    const maxWindow = Math.max(...windows, opts.queries ?? 0);
    if (maxWindow > n) throw new RangeError(`${opts.queries ?? 0} window queries exceed the prompt (${n} tokens)`);
    // Chunk boundaries: fixed size, with the last chunk holding every window query.
    const bounds: number[] = [];
    const chunk = this.chunk ?? autoPrefillChunk(Hq, n);
    for (let s = 0; s < n; s += chunk) bounds.push(s);
    while (bounds.length > 1 && n - (bounds[bounds.length - 1] ?? 0) < maxWindow) bounds.pop();
    bounds.push(n);

    const keys = Array.from({ length: L }, () => kvArray(this.kvType, n * row));
    const values = Array.from({ length: L }, () => kvArray(this.kvType, n * row));
    const accumulated = opts.accumulate ? Array.from({ length: L }, () => new Float32Array(Hq * n)) : undefined;
    const logitsAll = opts.allLogits ? new Float32Array(n * c.vocabSize) : undefined;
    let lastLogits = new Float32Array(c.vocabSize);
    const observations: LayerObservation[] = [];
    let queries: Float32Array[] | undefined;

    for (let b = 0; b + 1 < bounds.length; b++) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      const start = bounds[b] ?? 0;
      const end = bounds[b + 1] ?? n;
      const S = end - start;
      const last = b + 2 === bounds.length;
      // Stat rows: [ones (H2O)?, window α… (final chunk only)].
      const rows: Float32Array[] = [];
      if (accumulated) rows.push(new Float32Array(S).fill(1));
      if (last) for (const a of windows) rows.push(Float32Array.from({ length: S }, (_, s) => (s >= S - a ? 1 : 0)));
      if (rows.length === 0) rows.push(new Float32Array(S));
      const A = rows.length;
      const statRows = new Float32Array(A * S);
      rows.forEach((r, i) => statRows.set(r, i * S));
      // keys[l]/values[l] hold the first `start` tokens head-major [Hkv, start, d] at their front:
      // exactly the past this chunk attends to, fed without a copy. The first chunk has no past; it is
      // fed one masked slot instead, which takes no attention (zero-size tensors are never fed, on any provider).
      const fedPast = Math.max(start, 1);
      const pastMask = start > 0 ? new Float32Array(Hkv * start) : new Float32Array(Hkv).fill(MASK_NEG);
      const emptyPast = kvArray(this.kvType, row);
      const out = await this.run(
        tokens.slice(start, end),
        Array.from({ length: S }, (_, i) => start + i),
        (l) => ({
          keys: start > 0 ? (keys[l] ?? new Float32Array(0)).subarray(0, start * row) : emptyPast,
          values: start > 0 ? (values[l] ?? new Float32Array(0)).subarray(0, start * row) : emptyPast,
          mask: pastMask,
          slots: fedPast,
        }),
        statRows,
        A,
        opts.allLogits ? Array.from({ length: S }, (_, i) => i) : [S - 1],
        last || accumulated !== undefined,
        last && (opts.queries ?? 0) > 0,
      );
      const lg = out['logits']?.data as Float32Array;
      if (logitsAll) logitsAll.set(lg, start * c.vocabSize);
      else lastLogits = lg.slice(-c.vocabSize);
      for (let l = 0; l < L; l++) {
        appendHeadMajor(keys[l] ?? new Float32Array(0), out[`key_${l}`]?.data as KvArray, start, S, Hkv, d);
        appendHeadMajor(values[l] ?? new Float32Array(0), out[`value_${l}`]?.data as KvArray, start, S, Hkv, d);
        const wsum = out[`wsum_${l}`]?.data as Float32Array | undefined;
        const T = fedPast + S; // slots of this chunk's statistics: the fed past, then the new tokens
        const skip = fedPast - start; // the masked slot of an empty past comes first; it is skipped
        if (accumulated && wsum) {
          // Row 0 is the ones row: Σ over this chunk's queries, [Hq, A, T] with head-major Hq = Hkv·g.
          const acc = accumulated[l] ?? new Float32Array(0);
          for (let h = 0; h < Hq; h++) for (let t = 0; t < end; t++) acc[h * n + t] = (acc[h * n + t] ?? 0) + (wsum[(h * A + 0) * T + skip + t] ?? 0);
        }
        if (last) {
          const wsq = out[`wsq_${l}`]?.data as Float32Array;
          const went = out[`went_${l}`]?.data as Float32Array;
          const off = accumulated ? 1 : 0;
          const ws: WindowAttention[] = windows.map((a, i) => {
            const r = off + i;
            const sum = new Float32Array(Hq * n);
            const sq = new Float32Array(Hq * n);
            const ent = new Float32Array(Hq);
            for (let h = 0; h < Hq; h++) {
              sum.set((wsum ?? new Float32Array(0)).subarray((h * A + r) * T + skip, (h * A + r + 1) * T), h * n);
              sq.set(wsq.subarray((h * A + r) * T + skip, (h * A + r + 1) * T), h * n);
              ent[h] = (went[h * A + r] ?? 0) / a;
            }
            return { size: a, sum: f32([Hq, n], sum), sqSum: f32([Hq, n], sq), entropy: ent };
          });
          const lastQuery = ws.find((w) => w.size === 1)?.sum ?? f32([Hq, n]);
          observations.push({
            layer: l,
            seqLen: n,
            numQueryHeads: Hq,
            numKvHeads: Hkv,
            headDim: d,
            windows: ws,
            lastQuery,
            ...(accumulated ? { accumulated: f32([Hq, n], accumulated[l]) } : {}),
            // The methods read float32; an f16 cache is converted only for a method that reads K or V.
            ...lazyKv([Hkv, n, d], keys[l] ?? new Float32Array(0), values[l] ?? new Float32Array(0)),
          });
          if ((opts.queries ?? 0) > 0) {
            const q = out[`query_${l}`]?.data as Float32Array; // [S, Hq, d]
            const nq = opts.queries ?? 0;
            queries ??= [];
            queries.push(headMajor(q.subarray((S - nq) * Hq * d), nq, Hq, d));
          }
        }
      }
    }
    return {
      n,
      logits: logitsAll ?? lastLogits,
      keys,
      values,
      observations,
      ...(queries ? { queries } : {}),
      timings: { prefillMs: performance.now() - t0 },
    };
  }

  /**
   * Feeds `tokens` (usually one) at the cache's next positions, appends their
   * K/V to the cache, and returns the last position's logits [V] (with
   * `allLogits`, every position's: [S, V] — teacher forcing). With
   * `attention`, also returns each layer's attention rows of the new tokens
   * summed, [Hq, slots] (H2O's decode-time accumulation).
   */
  async step(
    cache: KvCache,
    tokens: readonly number[],
    opts: { readonly attention?: boolean; readonly allLogits?: boolean } = {},
  ): Promise<{ logits: Float32Array; attention?: Float32Array[] }> {
    const S = tokens.length;
    const start = cache.nextPosition;
    const L = this.config.numLayers;
    const fed = Array.from({ length: L }, (_, l) => ({ slots: cache.slots(l), cap: cache.feeds(l).slots }));
    const out = await this.run(
      tokens,
      Array.from({ length: S }, (_, i) => start + i),
      (l) => cache.feeds(l),
      new Float32Array(S).fill(1),
      1,
      opts.allLogits ? Array.from({ length: S }, (_, i) => i) : [S - 1],
      opts.attention ?? false,
      false,
    );
    const attention: Float32Array[] = [];
    for (let l = 0; l < L; l++) {
      cache.append(l, out[`key_${l}`]?.data as KvArray, out[`value_${l}`]?.data as KvArray, S);
      if (opts.attention) {
        // The graph's rows span the fed capacity then the new tokens; the caller's span the slots in use.
        const { slots: P, cap } = fed[l] ?? { slots: 0, cap: 0 };
        const wsum = out[`wsum_${l}`]?.data as Float32Array;
        const rows = new Float32Array(this.config.numHeads * (P + S));
        for (let h = 0; h < this.config.numHeads; h++) {
          rows.set(wsum.subarray(h * (cap + S), h * (cap + S) + P), h * (P + S));
          rows.set(wsum.subarray(h * (cap + S) + cap, (h + 1) * (cap + S)), h * (P + S) + P);
        }
        attention.push(rows);
      }
    }
    cache.advance(S);
    return { logits: (out['logits']?.data as Float32Array).slice(), ...(opts.attention ? { attention } : {}) };
  }
}

/**
 * The graph's squared/entropy statistics read only the query rows some window
 * weights (the last W rows, W = the widest window): their indices and the
 * weights restricted to them. Rows no weight touches are skipped.
 */
function windowRowFeeds(statRows: Float32Array, A: number, S: number): Record<string, ort.Tensor> {
  // The first row any window weights; a row of all ones (H2O's accumulation) only feeds wsum and is ignored here.
  let windowStart = S - 1;
  for (let a = 0; a < A; a++) {
    let used = 0;
    let lo = S;
    for (let s = 0; s < S; s++) {
      if ((statRows[a * S + s] ?? 0) !== 0) {
        used++;
        lo = Math.min(lo, s);
      }
    }
    if (used > 0 && !(used === S && S > 1)) windowStart = Math.min(windowStart, lo);
  }
  const W = S - windowStart;
  const rows = BigInt64Array.from({ length: W }, (_, i) => BigInt(windowStart + i));
  const w = new Float32Array(A * W);
  for (let a = 0; a < A; a++) for (let i = 0; i < W; i++) w[a * W + i] = statRows[a * S + windowStart + i] ?? 0;
  return { stat_rows: new ort.Tensor('int64', rows, [W]), stat_weights_rows: new ort.Tensor('float32', w, [1, 1, 1, A, W]) };
}

/** Bytes one transient attention tensor of a prefill chunk may take: see autoPrefillChunk. */
export const PREFILL_ATTENTION_BYTES = 32 * 2 ** 20;

/**
 * The prefill chunk for an n-token prompt: 128 tokens, halved until one
 * transient attention tensor [Hq, chunk, n] (float32) fits in 32 MiB, but not
 * below 16. A chunk's scores, probabilities and statistics are several such
 * tensors, and onnxruntime's CPU arena keeps the largest sizes it has served,
 * so they set the prefill's peak memory. Measured at 8K, 0.85B model (Hq 32):
 * chunk 128 peaked at 4.9 GiB, chunk 32 at 2.4 GiB, prefill 3 % slower; 125M
 * (Hq 12): 1.4 against 0.84 GiB. Short prompts keep 128 (fewest runs).
 */
export function autoPrefillChunk(numHeads: number, n: number): number {
  let chunk = 128;
  while (chunk > 16 && numHeads * chunk * n * 4 > PREFILL_ATTENTION_BYTES) chunk /= 2;
  return chunk;
}

/**
 * Appends S tokens, sequence-major [S, H, d] as the graph returns them, to a
 * head-major buffer that holds `start` tokens as [H, start, d] at its front,
 * leaving [H, start + S, d] there. The heads move up in place, last first
 * (each head's new place lies at or after its old one), so the buffer needs
 * no second copy; prefill pays one memmove of the past per chunk, instead of
 * the graph transposing and concatenating it on every run.
 */
// eslint-disable-next-line max-params -- SHAPE-TODO: split (or give the reason here)
export function appendHeadMajor(buf: KvArray, src: KvArray, start: number, S: number, H: number, d: number): void {
  const end = start + S;
  for (let h = H - 1; h > 0; h--) buf.copyWithin(h * end * d, h * start * d, (h * start + start) * d);
  for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) buf.set(src.subarray((s * H + h) * d, (s * H + h + 1) * d), (h * end + start + s) * d);
}

/** An onnxruntime tensor over a cache buffer, float32 or float16 (raw bits) by its array type. */
function kvTensor(data: KvArray, dims: readonly number[]): ort.Tensor {
  return data instanceof Uint16Array ? new ort.Tensor('float16', data, dims) : new ort.Tensor('float32', data, dims);
}

/** The observation's keys/values as float32 tensors: shared as they are for an f32 cache, converted on first read for f16. */
function lazyKv(dims: readonly number[], keys: KvArray, values: KvArray): Pick<LayerObservation, 'keys' | 'values'> {
  if (keys instanceof Float32Array && values instanceof Float32Array) return { keys: f32(dims, keys), values: f32(dims, values) };
  let k: Tensor<'float32'> | undefined;
  let v: Tensor<'float32'> | undefined;
  return {
    get keys() {
      return (k ??= toFloat32(tensor('float16', dims, keys as Uint16Array)));
    },
    get values() {
      return (v ??= toFloat32(tensor('float16', dims, values as Uint16Array)));
    },
  };
}

/** [n, H, d] sequence-major → [H, n, d] head-major. */
export function headMajor(src: Float32Array, n: number, H: number, d: number): Float32Array {
  const out = new Float32Array(n * H * d);
  for (let t = 0; t < n; t++) for (let h = 0; h < H; h++) out.set(src.subarray((t * H + h) * d, (t * H + h + 1) * d), (h * n + t) * d);
  return out;
}

/**
 * Cache key for a built graph: the graph version, the config, how float
 * weights are held, and the model's identity — for a file, its size, mtime and
 * a hash of its header and tensor table (LoadedModel.identity), so opening a
 * cached model reads no weights; for an in-memory model, its weights.
 */
function graphKey(model: LoadedModel, form: GraphForm): string {
  const h = createHash('sha256');
  // The f32 cache keeps the key it had before the cache type existed: its cached graphs stay valid.
  const kv = form.kvType === 'f32' ? {} : { kvType: form.kvType };
  h.update(JSON.stringify({ v: GRAPH_VERSION, config: model.config, floatWeights: model.floatWeights ?? 'f32', exact: form.exact, ...kv }));
  if (model.identity !== undefined) h.update(model.identity);
  else
    for (const [name, w] of [...model.weights.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      h.update(name);
      const data = w.data;
      h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  return h.digest('hex').slice(0, 32);
}

export function defaultCacheDir(): string {
  return join(process.env['KVLAB_CACHE'] ?? join(homedir(), '.cache', 'kvlab'), 'graphs');
}

/**
 * Builds (or reuses) the model's graph on disk: <cache>/<key>/decoder.onnx +
 * decoder.onnx.data. The builder streams: each converted tensor is written
 * where it belongs in the data file as soon as it exists, so the peak while
 * building stays near one tensor, not the model.
 */
/** What, besides the model, decides the graph: how blocks multiply, and the cache's element type. */
interface GraphForm {
  readonly exact: boolean;
  readonly kvType: KvType;
}

function ensureGraph(model: LoadedModel, cacheDir = defaultCacheDir(), form: GraphForm = { exact: false, kvType: 'f32' }): { path: string; cached: boolean } {
  const dir = join(cacheDir, graphKey(model, form));
  const path = join(dir, 'decoder.onnx');
  if (existsSync(path)) return { path, cached: true };
  mkdirSync(dir, { recursive: true });
  // Write to temporary names, then rename: a crash never leaves a half-written graph that looks cached.
  const tmpData = join(dir, `decoder.onnx.data.${process.pid}.tmp`);
  const fd = openSync(tmpData, 'w');
  let g: ReturnType<typeof buildDecoderGraph>;
  try {
    g = buildDecoderGraph(model.config, model.weights, 'decoder.onnx.data', model.path, {
      floatWeights: model.floatWeights ?? 'f32',
      exact: form.exact,
      kvType: form.kvType,
      sink: (ch) => {
        writeSync(fd, ch.bytes, 0, ch.bytes.byteLength, ch.offset);
      },
    });
  } catch (e) {
    // A weight the builder refuses (a corrupt tensor): leave nothing half-written in the cache.
    closeSync(fd);
    rmSync(tmpData, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmpData, join(dir, 'decoder.onnx.data'));
  const tmp = join(dir, `decoder.onnx.${process.pid}.tmp`);
  writeFileSync(tmp, g.model);
  renameSync(tmp, path);
  return { path, cached: false };
}
