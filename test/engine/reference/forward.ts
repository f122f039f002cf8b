/**
 * An independent float64 reference forward pass for the Llama family (Llama
 * 2/3/3.1, Mistral, Qwen2): deliberately simple and slow, written for clarity.
 * The engine's tests compare its ONNX graphs against this file.
 *
 * Independence rule: this file must never share code with the engine's graph
 * builder or loaders. It imports only *types* from electron/engine/model.ts
 * and reads the canonical weight names and [out, in] row-major layout
 * documented there.
 *
 * Per layer: x += Wo · attention(RoPE(Wq·n + bq), RoPE(Wk·n + bk), Wv·n + bv)
 * with n = RMSNorm(x)·attnNorm; then x += Wdown · (silu(Wgate·m) ⊙ Wup·m) with
 * m = RMSNorm(x)·ffnNorm. Logits = lmHead · RMSNorm(x)·finalNorm, lmHead =
 * embed when the embeddings are tied. Attention is causal softmax(q·k/√d)
 * with GQA: query head h reads KV head ⌊h / (Hq/Hkv)⌋.
 *
 * Two paths on purpose, so a test can check one against the other:
 * - `prefill` is the whole-sequence form: all tokens at once with an explicit
 *   causal mask (j ≤ i), starting from an empty cache;
 * - `step` / `decode` is the incremental form: one token attends to whatever
 *   entries the cache holds (per layer, per KV head — a test may remove some,
 *   giving ragged caches), then its own K/V is appended with its position.
 * K is cached AFTER RoPE, so kept keys keep their original rotation and a new
 * token only needs its own position (zigzagkv.md §6: positions continue from
 * the original prompt length after eviction).
 */
import type { ModelConfig, WeightTensor } from '../../../electron/engine/model.ts';

/** One cached token of one KV head in one layer. `k` is after RoPE. */
export interface KvEntry {
  readonly position: number;
  readonly k: Float64Array;
  readonly v: Float64Array;
}

/** cache[layer][kvHead] = entries, in any order and any subset (ragged across layers and heads). */
export type KvCache = KvEntry[][][];

export interface PrefillResult {
  /** [token] → logits [vocab]. */
  readonly logits: Float64Array[];
  /** [layer][kvHead][token] → key [headDim], after RoPE. */
  readonly keys: Float64Array[][][];
  /** [layer][kvHead][token] → value [headDim]. */
  readonly values: Float64Array[][][];
  /** Only with `{ attention: true }`: [layer][qHead][query i] → probabilities over keys 0..i (length i + 1). */
  readonly attention?: Float64Array[][][];
}

export interface StepResult {
  readonly logits: Float64Array;
  /** [layer][qHead] → probabilities over cache[layer][kvHead] in cache order, the new token last. */
  readonly attention: Float64Array[][];
}

export interface Reference {
  readonly config: ModelConfig;
  /** The KV cache `step`/`decode` read and append to. Mutate it or assign a new one freely. */
  cache: KvCache;
  /** Empties the cache. */
  reset(): void;
  /** Runs `tokens` at positions startPos, startPos+1, … from an EMPTY cache; the cache then holds exactly these tokens. */
  prefill(tokens: readonly number[], startPos?: number, opts?: { readonly attention?: boolean }): PrefillResult;
  /** One token at `pos`: attends to every cache entry plus itself, appends its K/V, returns the logits. */
  step(token: number, pos: number): Float64Array;
  /** `step` with the attention probabilities. */
  decode(token: number, pos: number): StepResult;
}

type Weights = ReadonlyMap<string, Pick<WeightTensor, 'dims' | 'data'>>;

/** Index of the largest value (the first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if ((x[i] ?? -Infinity) > (x[best] ?? -Infinity)) best = i;
  return best;
}

/**
 * RoPE inverse frequencies [headDim / 2]: θ^(−2i/d), then the config's scaling.
 * linear: divided by the factor (same as positions / factor).
 * llama3: Hugging Face `_compute_llama3_parameters` — wavelengths shorter than
 * original/highFreqFactor are kept, longer than original/lowFreqFactor are
 * divided by the factor, and the band between is interpolated smoothly.
 */
export function ropeInvFreq(config: ModelConfig): Float64Array {
  const d = config.headDim;
  const out = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) {
    const base = 1 / Math.pow(config.ropeTheta, (2 * i) / d);
    const s = config.ropeScaling;
    if (!s) out[i] = base;
    else if (s.type === 'linear') out[i] = base / s.factor;
    else {
      const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      const wavelen = (2 * Math.PI) / base;
      if (wavelen < highFreqWavelen) out[i] = base;
      else if (wavelen > lowFreqWavelen) out[i] = base / s.factor;
      else {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        out[i] = (1 - smooth) * (base / s.factor) + smooth * base;
      }
    }
  }
  return out;
}

/** Builds the reference for a model. Checks every weight's dims first. */
export function createReference(config: ModelConfig, weights: Weights): Reference {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numLayers: L, numHeads: Hq, numKvHeads: Hkv, headDim: d } = config;
  if (Hq % Hkv !== 0) throw new Error(`reference: ${Hq} query heads are not a multiple of ${Hkv} KV heads`);
  if (d % 2 !== 0) throw new Error(`reference: head dim ${d} is odd`);
  const group = Hq / Hkv;

  const w = (name: string, dims: readonly number[]): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new Error(`reference: missing weight '${name}'`);
    if (t.dims.length !== dims.length || t.dims.some((x, i) => x !== dims[i]) || t.data.length !== dims.reduce((a, b) => a * b, 1)) {
      throw new Error(`reference: weight '${name}' has dims [${t.dims.join(', ')}], expected [${dims.join(', ')}]`);
    }
    return t.data;
  };
  const embed = w('embed', [V, D]);
  const finalNorm = w('finalNorm', [D]);
  const lmHead = config.tiedEmbeddings ? embed : w('lmHead', [V, D]);
  const layers = Array.from({ length: L }, (_, i) => {
    const p = `layers.${i}.`;
    return {
      attnNorm: w(p + 'attnNorm', [D]),
      wq: w(p + 'wq', [Hq * d, D]),
      wk: w(p + 'wk', [Hkv * d, D]),
      wv: w(p + 'wv', [Hkv * d, D]),
      wo: w(p + 'wo', [D, Hq * d]),
      bq: config.qkvBias ? w(p + 'bq', [Hq * d]) : undefined,
      bk: config.qkvBias ? w(p + 'bk', [Hkv * d]) : undefined,
      bv: config.qkvBias ? w(p + 'bv', [Hkv * d]) : undefined,
      ffnNorm: w(p + 'ffnNorm', [D]),
      wGate: w(p + 'wGate', [F, D]),
      wUp: w(p + 'wUp', [F, D]),
      wDown: w(p + 'wDown', [D, F]),
    };
  });
  type Layer = (typeof layers)[number];
  const invFreq = ropeInvFreq(config);

  // ---- primitives -------------------------------------------------------

  /** y = W x (+ b), W row-major [rows, x.length]. */
  function matvec(W: Float32Array, x: Float64Array, b?: Float32Array): Float64Array {
    const cols = x.length;
    const rows = W.length / cols;
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = b ? (b[r] ?? 0) : 0;
      for (let c = 0; c < cols; c++) s += (W[r * cols + c] ?? 0) * (x[c] ?? 0);
      y[r] = s;
    }
    return y;
  }

  function rmsNorm(x: Float64Array, weight: Float32Array): Float64Array {
    let ss = 0;
    for (const v of x) ss += v * v;
    const scale = 1 / Math.sqrt(ss / x.length + config.rmsNormEps);
    return x.map((v, i) => v * scale * (weight[i] ?? 0));
  }

  /** Rotates one head vector (copy) to position `pos`, pairs formed per ropeLayout. */
  function rope(x: Float64Array, pos: number): Float64Array {
    const out = Float64Array.from(x);
    for (let i = 0; i < d / 2; i++) {
      const angle = pos * (invFreq[i] ?? 0);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const [a, b] = config.ropeLayout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + d / 2];
      const x0 = x[a] ?? 0;
      const x1 = x[b] ?? 0;
      out[a] = x0 * cos - x1 * sin;
      out[b] = x0 * sin + x1 * cos;
    }
    return out;
  }

  const head = (x: Float64Array, h: number): Float64Array => x.slice(h * d, (h + 1) * d);

  function dot(a: Float64Array, b: Float64Array): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
    return s;
  }

  function softmax(scores: Float64Array): Float64Array {
    let max = -Infinity;
    for (const s of scores) max = Math.max(max, s);
    const e = scores.map((s) => Math.exp(s - max));
    let sum = 0;
    for (const v of e) sum += v;
    return e.map((v) => v / sum);
  }

  /** Attention of one query head over (keys, values): returns [probabilities, output]. */
  function attend(q: Float64Array, keys: readonly Float64Array[], values: readonly Float64Array[]): [Float64Array, Float64Array] {
    const scale = 1 / Math.sqrt(d);
    const p = softmax(Float64Array.from(keys, (k) => dot(q, k) * scale));
    const out = new Float64Array(d);
    values.forEach((v, j) => {
      for (let c = 0; c < d; c++) out[c] = (out[c] ?? 0) + (p[j] ?? 0) * (v[c] ?? 0);
    });
    return [p, out];
  }

  function embedRow(token: number): Float64Array {
    if (!Number.isInteger(token) || token < 0 || token >= V) throw new Error(`reference: token ${token} outside the vocabulary [0, ${V})`);
    return Float64Array.from(embed.subarray(token * D, (token + 1) * D));
  }

  /** Q, K, V heads of one token at `pos`, Q and K rotated. */
  function qkv(ly: Layer, x: Float64Array, pos: number): { q: Float64Array[]; k: Float64Array[]; v: Float64Array[] } {
    const n = rmsNorm(x, ly.attnNorm);
    const q = matvec(ly.wq, n, ly.bq);
    const k = matvec(ly.wk, n, ly.bk);
    const v = matvec(ly.wv, n, ly.bv);
    return {
      q: Array.from({ length: Hq }, (_, h) => rope(head(q, h), pos)),
      k: Array.from({ length: Hkv }, (_, h) => rope(head(k, h), pos)),
      v: Array.from({ length: Hkv }, (_, h) => head(v, h)),
    };
  }

  /** x + Wo · concat(heads), then x + MLP. */
  function finishLayer(ly: Layer, x: Float64Array, heads: readonly Float64Array[]): Float64Array {
    const concat = new Float64Array(Hq * d);
    heads.forEach((o, h) => concat.set(o, h * d));
    const attnOut = matvec(ly.wo, concat);
    const x1 = x.map((v, i) => v + (attnOut[i] ?? 0));
    const m = rmsNorm(x1, ly.ffnNorm);
    const gate = matvec(ly.wGate, m);
    const up = matvec(ly.wUp, m);
    const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] ?? 0));
    const down = matvec(ly.wDown, act);
    return x1.map((v, i) => v + (down[i] ?? 0));
  }

  const logitsOf = (x: Float64Array): Float64Array => matvec(lmHead, rmsNorm(x, finalNorm));
  const emptyCache = (): KvCache => Array.from({ length: L }, () => Array.from({ length: Hkv }, () => []));

  // ---- the two forward paths ---------------------------------------------

  const ref: Reference = {
    config,
    cache: emptyCache(),

    reset() {
      ref.cache = emptyCache();
    },

    prefill(tokens, startPos = 0, opts = {}) {
      const n = tokens.length;
      let xs = tokens.map(embedRow);
      const keys: Float64Array[][][] = [];
      const values: Float64Array[][][] = [];
      const attention: Float64Array[][][] = [];
      for (const ly of layers) {
        const per = xs.map((x, i) => qkv(ly, x, startPos + i));
        // K/V as [kvHead][token]
        const K = Array.from({ length: Hkv }, (_, h) => per.map((t) => t.k[h] ?? new Float64Array(d)));
        const Vv = Array.from({ length: Hkv }, (_, h) => per.map((t) => t.v[h] ?? new Float64Array(d)));
        keys.push(K);
        values.push(Vv);
        const layerAttn: Float64Array[][] = Array.from({ length: Hq }, () => []);
        const outs: Float64Array[][] = per.map(() => []); // [token][qHead]
        for (let h = 0; h < Hq; h++) {
          const kvh = Math.floor(h / group);
          for (let i = 0; i < n; i++) {
            // causal mask: query i sees keys 0..i
            const [p, o] = attend(per[i]?.q[h] ?? new Float64Array(d), (K[kvh] ?? []).slice(0, i + 1), (Vv[kvh] ?? []).slice(0, i + 1));
            layerAttn[h]?.push(p);
            outs[i]?.push(o);
          }
        }
        attention.push(layerAttn);
        xs = xs.map((x, i) => finishLayer(ly, x, outs[i] ?? []));
      }
      ref.cache = keys.map((K, l) => K.map((ks, h) => ks.map((k, i) => ({ position: startPos + i, k, v: values[l]?.[h]?.[i] ?? new Float64Array(d) }))));
      return { logits: xs.map(logitsOf), keys, values, ...(opts.attention ? { attention } : {}) };
    },

    step(token, pos) {
      return ref.decode(token, pos).logits;
    },

    decode(token, pos) {
      let x = embedRow(token);
      const attention: Float64Array[][] = [];
      layers.forEach((ly, l) => {
        const t = qkv(ly, x, pos);
        const layerCache = ref.cache[l];
        if (!layerCache || layerCache.length !== Hkv) throw new Error(`reference: cache layer ${l} missing or without ${Hkv} KV heads`);
        for (let h = 0; h < Hkv; h++) layerCache[h]?.push({ position: pos, k: t.k[h] ?? new Float64Array(d), v: t.v[h] ?? new Float64Array(d) });
        const heads: Float64Array[] = [];
        const probs: Float64Array[] = [];
        for (let h = 0; h < Hq; h++) {
          const entries = layerCache[Math.floor(h / group)] ?? [];
          const [p, o] = attend(
            t.q[h] ?? new Float64Array(d),
            entries.map((e) => e.k),
            entries.map((e) => e.v),
          );
          probs.push(p);
          heads.push(o);
        }
        attention.push(probs);
        x = finishLayer(ly, x, heads);
      });
      return { logits: logitsOf(x), attention };
    },
  };
  return ref;
}
