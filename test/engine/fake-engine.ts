/**
 * A fake InferenceEngine for tests of the code above the engine (runner,
 * profile, generation): no model file, no onnxruntime, milliseconds per run.
 *
 * Its numbers are a formula of the token ids and positions, the same in
 * prefill and in decode steps: every (layer, head, token, position) has a
 * query, key and value vector of sines; attention is the real softmax of
 * q·k/√d over what the cache holds, so the statistics the compression methods
 * read are consistent with the K/V they keep, and a compressed cache changes
 * the logits (which read the last layer's attention output). A tokenizer of
 * one token per character keeps prompts short and decodable.
 */
import { f32 } from '@kvlab/core';
import type { KvModelShape, LayerObservation, WindowAttention } from '@kvlab/core';
import type {
  EngineInfo,
  EngineOpener,
  InferenceEngine,
  OpenedModel,
  PrefillOptions,
  PrefillResult,
  StepOptions,
  StepResult,
} from '../../electron/engine/inference-engine.ts';
import type { KvCache } from '../../electron/engine/kv-cache.ts';
import type { ModelConfig, Tokenizer } from '../../electron/engine/model.ts';

export interface FakeModelOptions {
  readonly layers?: number;
  readonly kvHeads?: number;
  /** Query heads: a multiple of kvHeads. */
  readonly heads?: number;
  readonly headDim?: number;
  readonly contextLength?: number;
  /** Changes every vector: two seeds are two different models. */
  readonly seed?: number;
}

const VOCAB = 96;
const BOS = 1;
const EOS = 2;

/** One token per character: printable ASCII maps to 3 … 97 (mod the vocab), BOS 1, EOS 2. */
export function fakeTokenizer(): Tokenizer {
  const id = (ch: number): number => 3 + ((((ch - 32) % (VOCAB - 3)) + (VOCAB - 3)) % (VOCAB - 3));
  const piece = (i: number): string => (i < 3 ? '' : String.fromCharCode(32 + i - 3));
  return {
    vocabSize: VOCAB,
    bosId: BOS,
    eosIds: [EOS],
    encode: (text, opts) => [...((opts?.addBos ?? true) ? [BOS] : []), ...[...text].map((c) => id(c.charCodeAt(0)))],
    decode: (ids) => ids.map(piece).join(''),
    piece,
  };
}

export function fakeConfig(o: FakeModelOptions = {}): ModelConfig {
  const heads = o.heads ?? 4;
  const headDim = o.headDim ?? 4;
  return {
    architecture: 'llama',
    name: `fake-${o.seed ?? 0}`,
    vocabSize: VOCAB,
    hiddenSize: heads * headDim,
    intermediateSize: 2 * heads * headDim,
    numLayers: o.layers ?? 3,
    numHeads: heads,
    numKvHeads: o.kvHeads ?? 2,
    headDim,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: 'interleaved',
    contextLength: o.contextLength ?? 1024,
    tiedEmbeddings: true,
    qkvBias: false,
  };
}

const INFO: EngineInfo = {
  requestedProvider: 'cpu',
  executionProvider: 'cpu',
  providerReason: 'fake engine (a formula of the token ids)',
  graphPath: '<fake>',
  graphCached: true,
};

/** What kind of vector: query, key or value. */
const Q = 0;
const K = 1;
const V = 2;

export class FakeEngine implements InferenceEngine {
  readonly info = INFO;
  readonly kvType = 'f32' as const;
  readonly tokenizer = fakeTokenizer();
  prefills = 0;
  steps = 0;
  /** Steps whose cache fed a prefill's own K/V arrays: a full cache that took them over (KvCache.adoptFull). */
  stepsOnPrefillArrays = 0;
  disposed = false;
  private readonly prefillBuffers = new WeakSet<ArrayBufferLike>();

  constructor(
    readonly config: ModelConfig,
    private readonly seed = 0,
  ) {}

  get shape(): KvModelShape {
    const c = this.config;
    return { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, dtype: 'float32' };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    return Promise.resolve();
  }

  /** The vector of `kind` for a token at a position, in layer l, head h. */
  private vec(kind: number, at: { l: number; h: number; tok: number; pos: number }): Float32Array {
    const d = this.config.headDim;
    const out = new Float32Array(d);
    for (let i = 0; i < d; i++) out[i] = Math.sin(this.seed * 0.37 + kind * 1.9 + at.l * 1.7 + at.h * 2.3 + at.tok * 0.61 + i * 0.89 + at.pos * 0.013);
    return out;
  }

  async prefill(tokens: readonly number[], opts: PrefillOptions = {}): Promise<PrefillResult> {
    const t0 = performance.now();
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    const n = tokens.length;
    if (n < 1) throw new RangeError('prefill needs at least one token');
    this.prefills++;
    const { numLayers: L, numKvHeads: Hkv, headDim: d } = this.config;
    const windows = [...new Set([1, ...(opts.windows ?? []).map((a) => Math.min(a, n))])].sort((a, b) => a - b);
    const keys = Array.from({ length: L }, () => new Float32Array(Hkv * n * d));
    const values = Array.from({ length: L }, () => new Float32Array(Hkv * n * d));
    for (let l = 0; l < L; l++)
      for (let h = 0; h < Hkv; h++)
        for (let t = 0; t < n; t++) {
          const at = { l, h, tok: tokens[t] ?? 0, pos: t };
          keys[l]?.set(this.vec(K, at), (h * n + t) * d);
          values[l]?.set(this.vec(V, at), (h * n + t) * d);
        }
    for (const k of keys) this.prefillBuffers.add(k.buffer);
    const layers = keys.map((k, l) => this.prefillLayer({ l, tokens, keys: k, values: values[l] ?? k, windows, opts }));
    const rows = opts.allLogits ? Array.from({ length: n }, (_, i) => i) : [n - 1];
    const logits = new Float32Array(rows.length * VOCAB);
    const last = layers[L - 1];
    rows.forEach((i, r) => logits.set(this.logits(tokens[i] ?? 0, last?.outputs[i] ?? []), r * VOCAB));
    // One chunk: the whole prompt at once.
    opts.onProgress?.(n, n);
    return {
      n,
      logits,
      keys,
      values,
      observations: layers.map((x) => x.observation),
      ...(opts.queries ? { queries: layers.map((x) => x.queries) } : {}),
      timings: { prefillMs: performance.now() - t0 },
    };
  }

  /** One layer of a prefill: every query's softmax row over the keys before it, folded into the statistics. */
  private prefillLayer(a: {
    l: number;
    tokens: readonly number[];
    keys: Float32Array;
    values: Float32Array;
    windows: readonly number[];
    opts: PrefillOptions;
  }): { observation: LayerObservation; outputs: Float32Array[][]; queries: Float32Array } {
    const { l, tokens, windows } = a;
    const n = tokens.length;
    const { numHeads: Hq, numKvHeads: Hkv, headDim: d } = this.config;
    const g = Hq / Hkv;
    const acc = new Float32Array(Hq * n);
    const ws = windows.map((size) => ({ size, sum: new Float32Array(Hq * n), sq: new Float32Array(Hq * n), ent: new Float32Array(Hq) }));
    const nq = a.opts.queries ?? 0;
    const queries = new Float32Array(Hq * nq * d);
    const outputs: Float32Array[][] = Array.from({ length: n }, () => []);
    const widest = Math.max(...windows, nq);
    const wantsOutput = (i: number): boolean => l === this.config.numLayers - 1 && (i === n - 1 || (a.opts.allLogits ?? false));
    for (let h = 0; h < Hq; h++) {
      const kv = Math.floor(h / g);
      for (let i = 0; i < n; i++) {
        // Rows no statistic, query or logit reads are skipped: only H2O's accumulation reads them all.
        if (!a.opts.accumulate && i < n - widest && !wantsOutput(i)) continue;
        const q = this.vec(Q, { l, h, tok: tokens[i] ?? 0, pos: i });
        if (i >= n - nq) queries.set(q, (h * nq + i - (n - nq)) * d);
        const p = attend(q, { keys: a.keys, base: kv * n * d, count: i + 1 });
        if (wantsOutput(i)) outputs[i]?.push(mix(p, a.values, { base: kv * n * d, d }));
        for (let j = 0; j <= i; j++) acc[h * n + j] = (acc[h * n + j] ?? 0) + (p[j] ?? 0);
        for (const w of ws) {
          if (i < n - w.size) continue;
          for (let j = 0; j <= i; j++) {
            w.sum[h * n + j] = (w.sum[h * n + j] ?? 0) + (p[j] ?? 0);
            w.sq[h * n + j] = (w.sq[h * n + j] ?? 0) + (p[j] ?? 0) ** 2;
          }
          w.ent[h] = (w.ent[h] ?? 0) + entropy(p) / w.size;
        }
      }
    }
    const windowStats: WindowAttention[] = ws.map((w) => ({ size: w.size, sum: f32([Hq, n], w.sum), sqSum: f32([Hq, n], w.sq), entropy: w.ent }));
    const observation: LayerObservation = {
      layer: l,
      seqLen: n,
      numQueryHeads: Hq,
      numKvHeads: Hkv,
      headDim: d,
      windows: windowStats,
      lastQuery: windowStats.find((w) => w.size === 1)?.sum ?? f32([Hq, n]),
      ...(a.opts.accumulate ? { accumulated: f32([Hq, n], acc) } : {}),
      keys: f32([Hkv, n, d], a.keys),
      values: f32([Hkv, n, d], a.values),
    };
    return { observation, outputs, queries };
  }

  async step(cache: KvCache, tokens: readonly number[], opts: StepOptions = {}): Promise<StepResult> {
    this.steps++;
    if (this.prefillBuffers.has(cache.feeds(0).keys.buffer)) this.stepsOnPrefillArrays++;
    const S = tokens.length;
    const start = cache.nextPosition;
    const { numLayers: L, numKvHeads: Hkv, headDim: d } = this.config;
    const attention: Float32Array[] = [];
    let outputs: Float32Array[][] = [];
    const fresh: { k: Float32Array; v: Float32Array }[] = [];
    for (let l = 0; l < L; l++) {
      const k = new Float32Array(S * Hkv * d);
      const v = new Float32Array(S * Hkv * d);
      for (let s = 0; s < S; s++)
        for (let h = 0; h < Hkv; h++) {
          const at = { l, h, tok: tokens[s] ?? 0, pos: start + s };
          k.set(this.vec(K, at), (s * Hkv + h) * d);
          v.set(this.vec(V, at), (s * Hkv + h) * d);
        }
      const r = this.stepLayer(cache, { l, tokens, start, k, v });
      attention.push(r.attention);
      outputs = r.outputs;
      fresh.push({ k, v });
    }
    if (opts.commit ?? true) {
      fresh.forEach((x, l) => cache.append(l, x.k, x.v, S));
      cache.advance(S);
    }
    const rows = opts.allLogits ? Array.from({ length: S }, (_, i) => i) : [S - 1];
    const logits = new Float32Array(rows.length * VOCAB);
    rows.forEach((s, r) => logits.set(this.logits(tokens[s] ?? 0, outputs[s] ?? []), r * VOCAB));
    return Promise.resolve({ logits, ...(opts.attention ? { attention } : {}) });
  }

  /** One layer of a decode step: each new token attends to the cache's live slots and the new tokens up to itself. */
  private stepLayer(
    cache: KvCache,
    a: { l: number; tokens: readonly number[]; start: number; k: Float32Array; v: Float32Array },
  ): { attention: Float32Array; outputs: Float32Array[][] } {
    const { l, tokens } = a;
    const S = tokens.length;
    const { numHeads: Hq, numKvHeads: Hkv, headDim: d } = this.config;
    const g = Hq / Hkv;
    const feed = cache.feeds(l);
    const cap = feed.slots;
    const P = cache.slots(l);
    const attention = new Float32Array(Hq * (P + S));
    const outputs: Float32Array[][] = Array.from({ length: S }, () => []);
    for (let h = 0; h < Hq; h++) {
      const kv = Math.floor(h / g);
      // This head's past slots, then the new tokens: [P + S, d].
      const keys = new Float32Array((P + S) * d);
      const values = new Float32Array((P + S) * d);
      keys.set((feed.keys as Float32Array).subarray(kv * cap * d, (kv * cap + P) * d));
      values.set((feed.values as Float32Array).subarray(kv * cap * d, (kv * cap + P) * d));
      for (let s = 0; s < S; s++) {
        keys.set(a.k.subarray((s * Hkv + kv) * d, (s * Hkv + kv + 1) * d), (P + s) * d);
        values.set(a.v.subarray((s * Hkv + kv) * d, (s * Hkv + kv + 1) * d), (P + s) * d);
      }
      const live = (j: number): boolean => j >= P || feed.mask[kv * cap + j] === 0;
      for (let s = 0; s < S; s++) {
        const q = this.vec(Q, { l, h, tok: tokens[s] ?? 0, pos: a.start + s });
        const p = attend(q, { keys, base: 0, count: P + s + 1, live });
        outputs[s]?.push(mix(p, values, { base: 0, d }));
        for (let j = 0; j < p.length; j++) attention[h * (P + S) + j] = (attention[h * (P + S) + j] ?? 0) + (p[j] ?? 0);
      }
    }
    return { attention, outputs };
  }

  /** Logits [V]: a function of the token, plus the last layer's attention output (so what the cache keeps matters). */
  private logits(tok: number, output: readonly Float32Array[]): Float32Array {
    const out = new Float32Array(VOCAB);
    for (let v = 0; v < VOCAB; v++) {
      let x = Math.sin(tok * 0.13 + v * 0.29 + this.seed);
      output.forEach((o, h) => o.forEach((y, i) => (x += 2 * y * Math.cos(v * 0.7 + h * 1.1 + i * 0.3))));
      out[v] = x;
    }
    return out;
  }
}

/**
 * A softmax row: q·k_j/√d over `count` keys laid out [count, d] from `base`
 * in `keys`; `live(j)` false gives a key no weight (an empty cache slot).
 */
function attend(q: Float32Array, at: { keys: Float32Array; base: number; count: number; live?: (j: number) => boolean }): Float64Array {
  const d = q.length;
  const p = new Float64Array(at.count);
  let m = -Infinity;
  for (let j = 0; j < at.count; j++) {
    if (at.live && !at.live(j)) {
      p[j] = -Infinity;
      continue;
    }
    let s = 0;
    for (let x = 0; x < d; x++) s += (q[x] ?? 0) * (at.keys[at.base + j * d + x] ?? 0);
    p[j] = s / Math.sqrt(d);
    m = Math.max(m, p[j] ?? 0);
  }
  let z = 0;
  for (let j = 0; j < at.count; j++) z += p[j] = (p[j] ?? 0) === -Infinity ? 0 : Math.exp((p[j] ?? 0) - m);
  for (let j = 0; j < at.count; j++) p[j] = (p[j] ?? 0) / z;
  return p;
}

function entropy(p: Float64Array): number {
  let s = 0;
  for (const v of p) if (v > 0) s -= v * Math.log(v);
  return s;
}

/** Σ_j p_j · v_j over values laid out [·, d] from `base`. */
function mix(p: Float64Array, values: Float32Array, at: { base: number; d: number }): Float32Array {
  const out = new Float32Array(at.d);
  for (let j = 0; j < p.length; j++) {
    const w = p[j] ?? 0;
    if (w === 0) continue;
    for (let x = 0; x < at.d; x++) out[x] = (out[x] ?? 0) + w * (values[at.base + j * at.d + x] ?? 0);
  }
  return out;
}

/** What a fake opener did: every path opened and every engine started, for tests to check. */
export interface FakeOpenerLog {
  readonly opened: string[];
  readonly engines: FakeEngine[];
}

/**
 * An EngineOpener whose models are fakes: any path (the runner hashes the
 * file, so it must exist) opens a model of `options`, seeded by its name.
 */
export function fakeOpener(options: FakeModelOptions = {}): EngineOpener & { readonly log: FakeOpenerLog } {
  const log: FakeOpenerLog = { opened: [], engines: [] };
  const open = (path: string): Promise<OpenedModel> => {
    log.opened.push(path);
    const config = fakeConfig(options);
    const model: OpenedModel = {
      path,
      config,
      tokenizer: fakeTokenizer(),
      weights: 'fake (no weights)',
      blockWeights: false,
      startEngine: () => {
        const e = new FakeEngine(config, options.seed ?? 0);
        log.engines.push(e);
        return Promise.resolve(e);
      },
    };
    return Promise.resolve(model);
  };
  return Object.assign(open, { log });
}
