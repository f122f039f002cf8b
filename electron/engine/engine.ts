/**
 * The inference engine: a model's decoder graph in an onnxruntime-node
 * session, chunked prefill that returns K/V and the attention statistics the
 * compression methods need, and single-token decode steps against a KvCache.
 * It implements InferenceEngine (inference-engine.ts), which is all the
 * runner, the profile and the generation loop see; `openModel` is the opener
 * they default to.
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
import type {
  EngineInfo,
  EngineOpener,
  EngineOptions,
  InferenceEngine,
  OpenedModel,
  PrefillOptions,
  PrefillResult,
  StepOptions,
  StepResult,
} from './inference-engine.ts';
import { describeWeights, hasBlockWeights, loadModel } from './load.ts';
import type { LoadedModel, ModelConfig, Tokenizer } from './model.ts';
import { openSession } from './providers.ts';
import { inverseFrequencies, ropeTables } from './rope.ts';

/** Bumped whenever the graph layout changes, so cached graphs are rebuilt. */
export const GRAPH_VERSION = 8;

/** The provider list lives in core (one list for the engine, the CLI, the schemas and the UI). */
export type { ExecutionProvider, ExecutionProviderChoice };

/** The engine's interface and its option and result types live with the interface (inference-engine.ts). */
export type { EngineInfo, EngineOptions, PrefillOptions, PrefillResult, StepOptions, StepResult } from './inference-engine.ts';

/** An engine setting the chosen provider or adapter cannot run, found when the session first runs it. */
export class EngineSetupError extends LabError {
  readonly apiCode = 'E_INVALID' as const;
  constructor(message: string) {
    super(message);
    this.name = 'EngineSetupError';
  }
}

/** The past one graph run attends to, per layer: K/V [Hkv, slots, d], and a mask that hides empty slots. */
interface PastFeed {
  readonly keys: KvArray;
  readonly values: KvArray;
  readonly mask: Float32Array;
  readonly slots: number;
}

/** One graph run over `tokens` at `positions`, against per-layer past K/V. */
interface GraphRun {
  readonly tokens: readonly number[];
  readonly positions: readonly number[];
  readonly past: (l: number) => PastFeed;
  /** [A, S]: row a weighs the queries whose attention statistic a sums (H2O's ones row, window rows). */
  readonly statRows: Float32Array;
  readonly statCount: number;
  /** The positions (of this run) whose logits come back. */
  readonly logitsIndex: readonly number[];
  readonly fetchStats: boolean;
  readonly fetchQueries: boolean;
}

/** What one prefill computes, fixed before its first chunk runs. */
interface PrefillPlan {
  readonly n: number;
  /** Observation windows, clamped to the prompt, ascending, always with α = 1 (the last query's row). */
  readonly windows: readonly number[];
  /** Chunk boundaries: 0, …, n. */
  readonly bounds: readonly number[];
  readonly accumulate: boolean;
  readonly allLogits: boolean;
  readonly queries: number;
}

/** The prefill's outputs, filled chunk by chunk. */
interface PrefillState {
  readonly keys: KvArray[];
  readonly values: KvArray[];
  /** Per layer [Hq, n]: H2O's attention summed over every prompt query. */
  readonly accumulated: Float32Array[] | undefined;
  readonly logitsAll: Float32Array | undefined;
  lastLogits: Float32Array;
  readonly observations: LayerObservation[];
  queries: Float32Array[] | undefined;
}

/** One prefill chunk: tokens start … end−1; the last chunk carries the window statistics. */
interface Chunk {
  readonly start: number;
  readonly end: number;
  readonly last: boolean;
  /** Past slots fed: the `start` tokens before it, or one masked slot for the first chunk. */
  readonly fedPast: number;
  /** Statistic rows: [ones (H2O)?, window α… (last chunk only)]. */
  readonly statCount: number;
}

export class Engine implements InferenceEngine {
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

  get tokenizer(): Tokenizer {
    return this.model.tokenizer;
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
      ...(opts.ortProfilePrefix ? { enableProfiling: true, profileFilePrefix: opts.ortProfilePrefix } : {}),
      ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    };
    const { session, info } = await openSession(graphPath, opts.executionProvider ?? 'cpu', base);
    return new Engine(model, session, { ...info, graphPath, graphCached: cached }, opts.prefillChunk, kvType);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /** Runs the graph once; records the bytes it moved (lastRunBytes). */
  private async run(r: GraphRun): Promise<ort.InferenceSession.OnnxValueMapType> {
    const feeds = this.feedsFor(r);
    const fetches = ['logits'];
    for (let l = 0; l < this.config.numLayers; l++) {
      fetches.push(`key_${l}`, `value_${l}`);
      if (r.fetchStats) fetches.push(`wsum_${l}`, `wsq_${l}`, `went_${l}`);
      if (r.fetchQueries) fetches.push(`query_${l}`);
    }
    const out = await this.session.run(feeds, fetches).catch((e: unknown) => {
      throw this.setupError(e) ?? e;
    });
    let uploaded = 0;
    for (const t of Object.values(feeds)) uploaded += (t.data as ArrayBufferView).byteLength;
    let downloaded = 0;
    for (const name of fetches) downloaded += (out[name]?.data as ArrayBufferView | undefined)?.byteLength ?? 0;
    this.lastRunBytes = { uploaded, downloaded };
    return out;
  }

  /** The graph's inputs for one run: ids, RoPE tables, masks, statistic weights, and every layer's past. */
  private feedsFor(r: GraphRun): Record<string, ort.Tensor> {
    const c = this.config;
    const S = r.tokens.length;
    const half = c.headDim / 2;
    const { cos, sin } = ropeTables(this.inv, r.positions);
    const causal = new Float32Array(S * S);
    for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) causal[i * S + j] = MASK_NEG;
    const A = r.statCount;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(r.tokens, (t) => BigInt(t)),
        [1, S],
      ),
      rope_cos: new ort.Tensor('float32', cos, [1, S, 1, half]),
      rope_sin: new ort.Tensor('float32', sin, [1, S, 1, half]),
      causal_mask: new ort.Tensor('float32', causal, [1, 1, 1, S, S]),
      stat_weights: new ort.Tensor('float32', r.statRows, [1, 1, 1, A, S]),
      ...windowRowFeeds(r.statRows, A, S),
      logits_index: new ort.Tensor(
        'int64',
        BigInt64Array.from(r.logitsIndex, (i) => BigInt(i)),
        [r.logitsIndex.length],
      ),
      new_from: new ort.Tensor('int64', BigInt64Array.of(BigInt(-S)), [1]),
    };
    for (let l = 0; l < c.numLayers; l++) {
      const p = r.past(l);
      feeds[`past_key_${l}`] = kvTensor(p.keys, [1, c.numKvHeads, 1, p.slots, c.headDim]);
      feeds[`past_value_${l}`] = kvTensor(p.values, [1, c.numKvHeads, 1, p.slots, c.headDim]);
      feeds[`past_mask_${l}`] = new ort.Tensor('float32', p.mask, [1, c.numKvHeads, 1, 1, p.slots]);
    }
    return feeds;
  }

  /**
   * onnxruntime's WebGPU provider compiles a kernel's shader on its first run; a float16 cache needs the
   * adapter's shader-f16 feature (software adapters such as SwiftShader lack it): that failure, said plainly.
   */
  private setupError(e: unknown): EngineSetupError | undefined {
    if (this.kvType !== 'f16' || !/requires f16 but the device does not support it/.test(String(e))) return undefined;
    return new EngineSetupError(
      `the f16 KV cache cannot run on this GPU adapter (${this.info.adapter?.name ?? this.info.executionProvider}): it has no shader-f16 support; use the f32 cache (--kv-type f32, "kvType": "f32") or the CPU`,
    );
  }

  /**
   * Full-attention prefill of `tokens` (positions 0 … n−1) in chunks. Returns
   * K/V per layer and the statistics for compression. Peak memory is linear in
   * n: the largest transient is [Hq, chunk, n].
   */
  async prefill(tokens: readonly number[], opts: PrefillOptions = {}): Promise<PrefillResult> {
    const t0 = performance.now();
    const plan = this.planPrefill(tokens.length, opts);
    const state = this.prefillState(plan);
    for (let b = 0; b + 1 < plan.bounds.length; b++) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      await this.prefillChunk(tokens, plan, state, b);
      opts.onProgress?.(plan.bounds[b + 1] ?? plan.n, plan.n);
    }
    return {
      n: plan.n,
      logits: state.logitsAll ?? state.lastLogits,
      keys: state.keys,
      values: state.values,
      observations: state.observations,
      ...(state.queries ? { queries: state.queries } : {}),
      timings: { prefillMs: performance.now() - t0 },
    };
  }

  /** The windows and chunk boundaries of an n-token prefill. */
  private planPrefill(n: number, opts: PrefillOptions): PrefillPlan {
    if (n < 1) throw new RangeError('prefill needs at least one token');
    // A window longer than the prompt observes every prompt query: α is clamped to n, as core's windowOf looks it up.
    const windows = [...new Set([1, ...(opts.windows ?? []).map((a) => Math.min(a, n))])].sort((a, b) => a - b);
    const queries = opts.queries ?? 0;
    const maxWindow = Math.max(...windows, queries);
    if (maxWindow > n) throw new RangeError(`${queries} window queries exceed the prompt (${n} tokens)`);
    // Chunk boundaries: fixed size, with the last chunk holding every window query.
    const bounds: number[] = [];
    const chunk = this.chunk ?? autoPrefillChunk(this.config.numHeads, n);
    for (let s = 0; s < n; s += chunk) bounds.push(s);
    while (bounds.length > 1 && n - (bounds[bounds.length - 1] ?? 0) < maxWindow) bounds.pop();
    bounds.push(n);
    return { n, windows, bounds, accumulate: opts.accumulate ?? false, allLogits: opts.allLogits ?? false, queries };
  }

  private prefillState(plan: PrefillPlan): PrefillState {
    const { numLayers: L, numKvHeads: Hkv, headDim: d, numHeads: Hq, vocabSize: V } = this.config;
    const size = plan.n * Hkv * d;
    return {
      keys: Array.from({ length: L }, () => kvArray(this.kvType, size)),
      values: Array.from({ length: L }, () => kvArray(this.kvType, size)),
      accumulated: plan.accumulate ? Array.from({ length: L }, () => new Float32Array(Hq * plan.n)) : undefined,
      logitsAll: plan.allLogits ? new Float32Array(plan.n * V) : undefined,
      lastLogits: new Float32Array(V),
      observations: [],
      queries: undefined,
    };
  }

  /** Runs chunk b of the prefill and folds its outputs into `state`. */
  private async prefillChunk(tokens: readonly number[], plan: PrefillPlan, state: PrefillState, b: number): Promise<void> {
    const start = plan.bounds[b] ?? 0;
    const end = plan.bounds[b + 1] ?? plan.n;
    const last = b + 2 === plan.bounds.length;
    const S = end - start;
    const stat = chunkStatRows(S, plan.accumulate, last ? plan.windows : []);
    const chunk: Chunk = { start, end, last, fedPast: Math.max(start, 1), statCount: stat.count };
    const out = await this.run({
      tokens: tokens.slice(start, end),
      positions: Array.from({ length: S }, (_, i) => start + i),
      past: this.chunkPast(state, start),
      statRows: stat.rows,
      statCount: stat.count,
      logitsIndex: plan.allLogits ? Array.from({ length: S }, (_, i) => i) : [S - 1],
      fetchStats: last || plan.accumulate,
      fetchQueries: last && plan.queries > 0,
    });
    const lg = out['logits']?.data as Float32Array;
    if (state.logitsAll) state.logitsAll.set(lg, start * this.config.vocabSize);
    else state.lastLogits = lg.slice(-this.config.vocabSize);
    for (let l = 0; l < this.config.numLayers; l++) this.foldLayer(out, l, { plan, state, chunk });
  }

  /**
   * keys[l]/values[l] hold the first `start` tokens head-major [Hkv, start, d] at their front:
   * exactly the past a chunk attends to, fed without a copy. The first chunk has no past; it is
   * fed one masked slot instead, which takes no attention (zero-size tensors are never fed, on any provider).
   */
  private chunkPast(state: PrefillState, start: number): (l: number) => PastFeed {
    const { numKvHeads: Hkv, headDim: d } = this.config;
    const row = Hkv * d;
    const mask = start > 0 ? new Float32Array(Hkv * start) : new Float32Array(Hkv).fill(MASK_NEG);
    const empty = kvArray(this.kvType, row);
    const slots = Math.max(start, 1);
    return (l) => ({
      keys: start > 0 ? (state.keys[l] ?? new Float32Array(0)).subarray(0, start * row) : empty,
      values: start > 0 ? (state.values[l] ?? new Float32Array(0)).subarray(0, start * row) : empty,
      mask,
      slots,
    });
  }

  /** One layer's chunk outputs: K/V appended, H2O's sum grown, and (last chunk) the layer's observation and queries. */
  private foldLayer(out: ort.InferenceSession.OnnxValueMapType, l: number, at: { plan: PrefillPlan; state: PrefillState; chunk: Chunk }): void {
    const { plan, state, chunk } = at;
    const { numKvHeads: Hkv, headDim: d, numHeads: Hq } = this.config;
    const layout = { start: chunk.start, count: chunk.end - chunk.start, heads: Hkv, headDim: d };
    appendHeadMajor(state.keys[l] ?? new Float32Array(0), out[`key_${l}`]?.data as KvArray, layout);
    appendHeadMajor(state.values[l] ?? new Float32Array(0), out[`value_${l}`]?.data as KvArray, layout);
    const stats: ChunkStats = {
      wsum: out[`wsum_${l}`]?.data as Float32Array | undefined,
      wsq: out[`wsq_${l}`]?.data as Float32Array | undefined,
      went: out[`went_${l}`]?.data as Float32Array | undefined,
      numHeads: Hq,
      chunk,
    };
    const acc = state.accumulated?.[l];
    if (acc && stats.wsum) accumulateChunk(acc, stats, plan.n);
    if (!chunk.last) return;
    const base = {
      layer: l,
      seqLen: plan.n,
      numQueryHeads: Hq,
      numKvHeads: Hkv,
      headDim: d,
      ...windowObservation(stats, plan),
      ...(acc ? { accumulated: f32([Hq, plan.n], acc) } : {}),
    };
    // The methods read float32; an f16 cache is converted only for a method that reads K or V.
    state.observations.push(withKv(base, [Hkv, plan.n, d], state.keys[l] ?? new Float32Array(0), state.values[l] ?? new Float32Array(0)));
    if (plan.queries > 0) {
      const q = out[`query_${l}`]?.data as Float32Array; // [S, Hq, d]
      const S = chunk.end - chunk.start;
      state.queries ??= [];
      state.queries.push(headMajor(q.subarray((S - plan.queries) * Hq * d), plan.queries, Hq, d));
    }
  }

  /**
   * Feeds `tokens` (usually one) at the cache's next positions, appends their
   * K/V to the cache, and returns the last position's logits [V] (with
   * `allLogits`, every position's: [S, V] — teacher forcing). With
   * `attention`, also returns each layer's attention rows of the new tokens
   * summed, [Hq, slots] (H2O's decode-time accumulation).
   */
  async step(cache: KvCache, tokens: readonly number[], opts: StepOptions = {}): Promise<StepResult> {
    const S = tokens.length;
    const start = cache.nextPosition;
    const L = this.config.numLayers;
    const fed = Array.from({ length: L }, (_, l) => ({ slots: cache.slots(l), cap: cache.feeds(l).slots }));
    const out = await this.run({
      tokens,
      positions: Array.from({ length: S }, (_, i) => start + i),
      past: (l) => cache.feeds(l),
      // No statistic rows unless asked: the graph then computes none (every statistic over the past is
      // empty), where one row would cost a log and a few passes over [Hq, P] per layer and step.
      statRows: new Float32Array(opts.attention ? S : 0).fill(1),
      statCount: opts.attention ? 1 : 0,
      logitsIndex: opts.allLogits ? Array.from({ length: S }, (_, i) => i) : [S - 1],
      fetchStats: opts.attention ?? false,
      fetchQueries: false,
    });
    const attention: Float32Array[] = [];
    const commit = opts.commit ?? true;
    for (let l = 0; l < L; l++) {
      if (commit) cache.append(l, out[`key_${l}`]?.data as KvArray, out[`value_${l}`]?.data as KvArray, S);
      if (opts.attention)
        attention.push(stepAttention(out[`wsum_${l}`]?.data as Float32Array, this.config.numHeads, { ...(fed[l] ?? { slots: 0, cap: 0 }), S }));
    }
    if (commit) cache.advance(S);
    return { logits: (out['logits']?.data as Float32Array).slice(), ...(opts.attention ? { attention } : {}) };
  }
}

/** The statistic weights of a prefill chunk, [A, S]: H2O's ones row (when accumulating), then one row per window. */
function chunkStatRows(S: number, accumulate: boolean, windows: readonly number[]): { rows: Float32Array; count: number } {
  const rows: Float32Array[] = [];
  if (accumulate) rows.push(new Float32Array(S).fill(1));
  for (const a of windows) rows.push(Float32Array.from({ length: S }, (_, s) => (s >= S - a ? 1 : 0)));
  if (rows.length === 0) rows.push(new Float32Array(S));
  const out = new Float32Array(rows.length * S);
  rows.forEach((r, i) => out.set(r, i * S));
  return { rows: out, count: rows.length };
}

/** One layer's statistic outputs of one chunk: [Hq, A, T] sums and squares, [Hq, A] entropies, T = fed past + new tokens. */
interface ChunkStats {
  readonly wsum: Float32Array | undefined;
  readonly wsq: Float32Array | undefined;
  readonly went: Float32Array | undefined;
  readonly numHeads: number;
  readonly chunk: Chunk;
}

/** Adds the chunk's ones row (row 0: Σ over its queries, head-major Hq = Hkv·g) to H2O's per-token sums [Hq, n]. */
function accumulateChunk(acc: Float32Array, st: ChunkStats, n: number): void {
  const { chunk, numHeads: Hq } = st;
  const wsum = st.wsum ?? new Float32Array(0);
  const A = chunk.statCount;
  const T = chunk.fedPast + (chunk.end - chunk.start);
  const skip = chunk.fedPast - chunk.start; // the masked slot of an empty past comes first; it is skipped
  for (let h = 0; h < Hq; h++) for (let t = 0; t < chunk.end; t++) acc[h * n + t] = (acc[h * n + t] ?? 0) + (wsum[(h * A + 0) * T + skip + t] ?? 0);
}

/** The last chunk's window rows as core's WindowAttention per window, and the last query's row. */
function windowObservation(st: ChunkStats, plan: PrefillPlan): Pick<LayerObservation, 'windows' | 'lastQuery'> {
  const { chunk, numHeads: Hq } = st;
  const { n } = plan;
  const wsum = st.wsum ?? new Float32Array(0);
  const wsq = st.wsq ?? new Float32Array(0);
  const went = st.went ?? new Float32Array(0);
  const A = chunk.statCount;
  const T = chunk.fedPast + (chunk.end - chunk.start);
  const skip = chunk.fedPast - chunk.start;
  const off = plan.accumulate ? 1 : 0;
  const windows: WindowAttention[] = plan.windows.map((a, i) => {
    const r = off + i;
    const sum = new Float32Array(Hq * n);
    const sq = new Float32Array(Hq * n);
    const ent = new Float32Array(Hq);
    for (let h = 0; h < Hq; h++) {
      sum.set(wsum.subarray((h * A + r) * T + skip, (h * A + r + 1) * T), h * n);
      sq.set(wsq.subarray((h * A + r) * T + skip, (h * A + r + 1) * T), h * n);
      ent[h] = (went[h * A + r] ?? 0) / a;
    }
    return { size: a, sum: f32([Hq, n], sum), sqSum: f32([Hq, n], sq), entropy: ent };
  });
  return { windows, lastQuery: windows.find((w) => w.size === 1)?.sum ?? f32([Hq, n]) };
}

/** A decode step's attention rows [Hq, P + S]: the graph's span the fed capacity then the new tokens; the caller's span the slots in use. */
function stepAttention(wsum: Float32Array, Hq: number, fed: { slots: number; cap: number; S: number }): Float32Array {
  const { slots: P, cap, S } = fed;
  const rows = new Float32Array(Hq * (P + S));
  for (let h = 0; h < Hq; h++) {
    rows.set(wsum.subarray(h * (cap + S), h * (cap + S) + P), h * (P + S));
    rows.set(wsum.subarray(h * (cap + S) + cap, (h + 1) * (cap + S)), h * (P + S) + P);
  }
  return rows;
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
  // No statistic rows (a decode step that wants none): no window rows either, so the graph's squared and
  // entropy statistics are empty rather than computed for one row.
  const W = A === 0 ? 0 : S - windowStart;
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
 * the graph transposing and concatenating it on every run. `count` tokens
 * of `heads` × `headDim` each.
 */
export function appendHeadMajor(
  buf: KvArray,
  src: KvArray,
  at: { readonly start: number; readonly count: number; readonly heads: number; readonly headDim: number },
): void {
  const { start, count: S, heads: H, headDim: d } = at;
  const end = start + S;
  for (let h = H - 1; h > 0; h--) buf.copyWithin(h * end * d, h * start * d, (h * start + start) * d);
  for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) buf.set(src.subarray((s * H + h) * d, (s * H + h + 1) * d), (h * end + start + s) * d);
}

/** An onnxruntime tensor over a cache buffer, float32 or float16 (raw bits) by its array type. */
function kvTensor(data: KvArray, dims: readonly number[]): ort.Tensor {
  return data instanceof Uint16Array ? new ort.Tensor('float16', data, dims) : new ort.Tensor('float32', data, dims);
}

/**
 * The observation with its keys/values as float32 tensors: shared as they are for an f32 cache,
 * converted on first read for f16. The getters are defined on the object itself, never spread into
 * a literal: a spread reads them, which converted every layer's K/V (2× the f16 cache in float32) in
 * each prefill, for methods that never read them.
 */
function withKv<T extends object>(base: T, dims: readonly number[], keys: KvArray, values: KvArray): T & Pick<LayerObservation, 'keys' | 'values'> {
  if (keys instanceof Float32Array && values instanceof Float32Array) return { ...base, keys: f32(dims, keys), values: f32(dims, values) };
  let k: Tensor<'float32'> | undefined;
  let v: Tensor<'float32'> | undefined;
  return Object.defineProperties(base, {
    keys: { enumerable: true, get: () => (k ??= toFloat32(tensor('float16', dims, keys as Uint16Array))) },
    values: { enumerable: true, get: () => (v ??= toFloat32(tensor('float16', dims, values as Uint16Array))) },
  }) as T & Pick<LayerObservation, 'keys' | 'values'>;
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

/** A loaded model as an OpenedModel: its engines are real ones (Engine.create). */
export function openedModel(model: LoadedModel): OpenedModel {
  return {
    path: model.path,
    config: model.config,
    tokenizer: model.tokenizer,
    weights: describeWeights(model),
    blockWeights: hasBlockWeights(model),
    startEngine: (options) => Engine.create(model, options),
  };
}

/** The real opener: loads the model's file(s) (load.ts); its engines run on onnxruntime. */
export const openModel: EngineOpener = async (path, options) => openedModel(await loadModel(path, options));
