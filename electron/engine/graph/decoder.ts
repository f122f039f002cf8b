/**
 * Builds the ONNX decoder graph for a Llama-family model (Llama 2/3,
 * Mistral, Qwen2) from its weights: one graph serves chunked prefill and
 * decoding, with per-layer caches of independent lengths.
 *
 * Per run (S new tokens; P_l cache slots fed for layer l; T_l = P_l + S):
 *   inputs   input_ids      int64 [1, S]
 *            rope_cos/sin   f32 [1, S, 1, d/2]   cos/sin of position·θ_i, computed in float64 by the
 *                                                caller (exact at large positions; carries RoPE scaling)
 *            causal_mask    f32 [1, 1, 1, S, S]  additive mask among the new tokens (0 / −1e30)
 *            stat_rows      int64 [W]            the query rows the squared/entropy statistics use (the windows)
 *            stat_weights_rows f32 [1, 1, 1, A, W] their weights (stat_weights restricted to stat_rows)
 *            stat_weights   f32 [1, 1, 1, A, S]  rows of query weights for the attention statistics:
 *                                                e.g. 1s on the last α queries (a window), all 1s (H2O)
 *            logits_index   int64 [K]            which of the S positions to return logits for
 *            new_from       int64 [1]            −S: the new tokens' slots, counted from the end of T_l
 *            past_key_l     kv  [1, Hkv, 1, P_l, d]  cached keys, post-RoPE, head-major: the cache's own
 *            past_value_l   kv  [1, Hkv, 1, P_l, d]  buffers, fed as they lie (P_l ≥ 1 is its capacity);
 *                                                kv = f32, or f16 (KvType)
 *            past_mask_l    f32 [1, Hkv, 1, 1, P_l]  0 for a held entry, −1e30 for any other slot (unused
 *                                                capacity, or a KV head that holds fewer tokens than
 *                                                the longest head: Ada-KV, decode-time eviction)
 *   outputs  logits         f32 [1, K, V]
 *            key_l, value_l kv  [1, S, Hkv, d]   the new tokens' K (post-RoPE) and V, to append
 *            query_l        f32 [1, S, Hq, d]    post-RoPE queries (LMBO analysis)
 *            wsum_l         f32 [1, Hkv, g, A, T_l]  Σ_s w[a,s]·p[s,t]   (window attention sums; t < P_l
 *                                                are the past slots, then the S new tokens)
 *            wsq_l          f32 [1, Hkv, g, A, T_l]  Σ_{s ∈ stat_rows} w[a,s]·p[s,t]²
 *            went_l         f32 [1, Hkv, g, A, 1]    Σ_{s ∈ stat_rows} w[a,s]·H(p[s,·])  (row entropies)
 * The statistics are aggregated in the graph: only [Hq, A, T] crosses into
 * JS, never the [Hq, S, T] attention, which for a long prompt would not fit
 * in memory. The caller bounds S so the
 * transient [Hq, S, T] tensor stays small; memory grows linearly with T.
 *
 * RoPE: weights with an 'interleaved' layout (llama.cpp / llama2.c Q/K) are
 * un-permuted into the 'halves' layout at build time, so the graph has one
 * rotate-half implementation. Attention is invariant under applying the same
 * permutation to q and k, so logits are unchanged; cached keys are stored in
 * the 'halves' order.
 *
 * GQA without repeating K/V: the g query heads sharing a KV head are the g·S
 * rows of one matrix [1, Hkv, 1, g·S, d] against that head's keys and values
 * [1, Hkv, 1, P, d], so each KV head is read once per step. The past is
 * read where it lies and the S new tokens are attended separately and added
 * (split past/new attention): a step never copies the past.
 *
 * Weights stay in their stored form (graph/nbits.ts): a matrix in ggml blocks
 * becomes com.microsoft.MatMulNBits (plus a small float MatMul of the input's
 * block sums for types with a block minimum), a quantised token embedding
 * com.microsoft.GatherBlockQuantized; float-stored matrices are float32 MatMuls
 * or, with `floatWeights` 'q8'/'q4', requantised to Q8_0/Q4_0 blocks. Blocks
 * multiply activations quantised to int8 per block (accuracy_level 4), as
 * llama.cpp's CPU path does for every quantised type: onnxruntime's float32
 * path is 2.4× slower per decode matmul for 4-bit blocks and ~100× for 8-bit
 * ones. `exact` selects float32 activations (accuracy_level 1) anyway: exact
 * against the dequantised weights, for tests and for users who ask.
 * Initializers go to the external data file through `sink` one tensor at a
 * time, so building never holds more than one converted tensor.
 */
import { quantizeQ4_0, quantizeQ8_0 } from '../formats/dequant.ts';
import type { FloatWeightForm, ModelConfig, WeightTensor, Weights } from '../model.ts';
import { ModelFileError, layerWeight } from '../model.ts';
import { isNBitsType, toNBits, type NBitsWeight } from './nbits.ts';
import { ELEM, OnnxGraph, type ExternalSink } from './onnx-builder.ts';

export const OPSET = 17;
export const MASK_NEG = -1e30;

export interface DecoderGraph {
  readonly model: Uint8Array;
  readonly external: readonly { readonly offset: number; readonly bytes: Uint8Array }[];
  readonly externalSize: number;
  readonly externalFile: string;
}

/** [out, in] row-major → [in, out] row-major (MatMul's right operand). */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] ?? 0;
  return t;
}

/**
 * The output-row order that turns 'interleaved' RoPE pairs (2i, 2i+1) into
 * 'halves' pairs (i, i + d/2), per head: perm[new] = old, with new row i ← old
 * 2i and new row i + d/2 ← old 2i + 1.
 */
export function ropeRowPermutation(heads: number, headDim: number): Int32Array {
  const perm = new Int32Array(heads * headDim);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) {
      perm[h * headDim + i] = h * headDim + 2 * i;
      perm[h * headDim + half + i] = h * headDim + 2 * i + 1;
    }
  return perm;
}

/** Rows of a row-major array (rowLength elements each) reordered: out row r = in row perm[r]. */
export function permuteRows<T extends Float32Array | Uint8Array>(a: T, rowLength: number, perm: Int32Array): T {
  const out = new (a.constructor as new (n: number) => T)(a.length);
  for (let r = 0; r < perm.length; r++) {
    const from = perm[r] ?? 0;
    out.set(a.subarray(from * rowLength, (from + 1) * rowLength), r * rowLength);
  }
  return out;
}

/**
 * Reorders the output rows of a Q/K projection from 'interleaved' RoPE pairs
 * (2i, 2i+1) to 'halves' pairs (i, i + d/2), per head: new row i ← old 2i,
 * new row i + d/2 ← old 2i + 1. Works for weights [H·d, in] and biases [H·d].
 */
export function interleavedToHalves(w: Float32Array, heads: number, headDim: number): Float32Array {
  return permuteRows(w, w.length / (heads * headDim), ropeRowPermutation(heads, headDim));
}

export interface DecoderGraphOptions {
  /** Emit the attention-statistics outputs (wsum/wsq/went/query). A decode-only graph without them is faster. */
  readonly stats?: boolean;
  /** How float-stored matrices are held (default 'f32'). */
  readonly floatWeights?: FloatWeightForm;
  /** Multiply weight blocks with float32 activations (exact; 2.4× slower for 4-bit, ~100× for 8-bit on the CPU) instead of int8 ones. */
  readonly exact?: boolean;
  /** Where external data goes as it is produced; without one it is returned in `external`. */
  readonly sink?: ExternalSink;
  /** Element type of the cache the graph reads and returns (default 'f32'); see KvType. */
  readonly kvType?: KvType;
}

/**
 * The KV cache's element type. With 'f16' the graph takes the past K/V and
 * returns the new tokens' K/V as float16 — half the bytes held and, without
 * I/O binding, half the bytes moved per step — and computes in float32: the
 * past is cast up where it is read, and the new tokens attend to their own
 * K/V before rounding (the rounding happens when they join the past).
 */
export type KvType = 'f32' | 'f16';

/** A matrix [N, K] as the graph holds it. */
type MatrixForm = { readonly kind: 'f32'; readonly data: Float32Array } | { readonly kind: 'nbits'; readonly w: NBitsWeight };

/** What every part of the graph reads: the graph being built, the model, its weights and the options. */
interface Builder {
  readonly G: OnnxGraph;
  readonly config: ModelConfig;
  /** The model's file, named in errors. */
  readonly file: string;
  readonly floatWeights: FloatWeightForm;
  readonly exact: boolean;
  readonly stats: boolean;
  /** The cache's element type in the graph. */
  readonly kvElem: 'float' | 'float16';
  readonly tensor: (name: string) => WeightTensor;
  readonly w: (name: string) => Float32Array;
  /** Block sums already computed, by input and block size (see blockSumsOf). */
  readonly blockSums: Map<string, string>;
}

/**
 * The form weight `name` [N, K] takes in the graph: ggml blocks as they are stored;
 * float-stored weights as float32, or requantised to Q8_0/Q4_0 blocks when
 * asked (and when K is whole 32-element blocks; otherwise float32). Rows are
 * reordered by `perm` (RoPE layout). Checks that every value is finite.
 */
function matrixForm(b: Builder, name: string, N: number, K: number, perm?: Int32Array): MatrixForm {
  const t = b.tensor(name);
  const stored = t.stored;
  let w: NBitsWeight | undefined;
  if (stored && isNBitsType(stored.type)) w = toNBits(stored.type, stored.bytes(), N, K);
  else if (b.floatWeights !== 'f32' && K % 32 === 0) {
    const data = t.data;
    w = b.floatWeights === 'q8' ? toNBits('Q8_0', quantizeQ8_0(data), N, K) : toNBits('Q4_0', quantizeQ4_0(data), N, K);
  }
  if (!w) return { kind: 'f32', data: perm ? permuteRows(t.data, K, perm) : t.data };
  checkFiniteBlocks(b.file, name, w);
  if (!perm) return { kind: 'nbits', w };
  const kb = K / w.blockSize;
  return {
    kind: 'nbits',
    w: {
      ...w,
      codes: permuteRows(w.codes, (K * w.bits) / 8, perm),
      scales: permuteRows(w.scales, kb, perm),
      ...(w.mins ? { mins: permuteRows(w.mins, kb, perm) } : {}),
    },
  };
}

/** Throws a ModelFileError when a block scale or minimum of weight `name` is not finite. */
function checkFiniteBlocks(file: string, name: string, w: NBitsWeight): void {
  for (const [what, a] of [
    ['scale', w.scales],
    ['block minimum', w.mins],
  ] as const) {
    const i = a ? a.findIndex((x) => !Number.isFinite(x)) : -1;
    if (a && i >= 0) throw new ModelFileError(file, `weight '${name}' has a non-finite ${what} (${a[i]}) in block ${i}: the weights are corrupt`);
  }
}

const bytesOf = (a: Float32Array | Uint8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The inverse of interleavedToHalves: llama.cpp's `permute` of HF Q/K rows (convert_hf_to_gguf.py). */
export function halvesToInterleaved(w: Float32Array, heads: number, headDim: number): Float32Array {
  const cols = w.length / (heads * headDim);
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      out.set(w.subarray((h * headDim + i) * cols, (h * headDim + i + 1) * cols), (h * headDim + 2 * i) * cols);
      out.set(w.subarray((h * headDim + half + i) * cols, (h * headDim + half + i + 1) * cols), (h * headDim + 2 * i + 1) * cols);
    }
  }
  return out;
}

/** The graph's inputs other than the per-layer caches (see the header). */
interface GraphInputs {
  readonly ids: string;
  readonly cos: string;
  readonly sin: string;
  readonly causal: string;
  readonly statW: string;
  readonly statRows: string;
  readonly statWW: string;
  readonly logitsIndex: string;
  readonly newFrom: string;
}

function declareInputs(G: OnnxGraph, stats: boolean, half: number): GraphInputs {
  const ids = G.input('input_ids', 'int64', [1, 'S']);
  const cos = G.input('rope_cos', 'float', [1, 'S', 1, half]);
  const sin = G.input('rope_sin', 'float', [1, 'S', 1, half]);
  const causal = G.input('causal_mask', 'float', [1, 1, 1, 'S', 'S']);
  const statW = stats ? G.input('stat_weights', 'float', [1, 1, 1, 'A', 'S']) : '';
  // The squared and entropy statistics only ever weight the last W query rows (the
  // observation windows), so they are computed on those rows alone, not on all S.
  const statRows = stats ? G.input('stat_rows', 'int64', ['W']) : '';
  const statWW = stats ? G.input('stat_weights_rows', 'float', [1, 1, 1, 'A', 'W']) : '';
  const logitsIndex = G.input('logits_index', 'int64', ['K']);
  const newFrom = G.input('new_from', 'int64', [1]); // [−S]: where the new tokens' slots start, from the end
  return { ids, cos, sin, causal, statW, statRows, statWW, logitsIndex, newFrom };
}

/** The embedded tokens [1, S, D], the embedding's form and, when float32, its initializer (for a tied head). */
interface Embedded {
  readonly x: string;
  readonly form: MatrixForm;
  readonly embed: string;
}

/**
 * Token embedding: a float32 Gather, or GatherBlockQuantized on the stored blocks (plus the block
 * minimum, gathered and broadcast over its block). Its codes and scales are shared with a tied LM head.
 */
function embedTokens(b: Builder, ids: string): Embedded {
  const { G } = b;
  const { vocabSize: V, hiddenSize: D } = b.config;
  const form = matrixForm(b, 'embed', V, D);
  if (form.kind === 'f32') {
    const embed = G.float('embed', [V, D], form.data);
    return { x: G.op('Gather', [embed, ids], { axis: 0 }), form, embed }; // [1, S, D]
  }
  const e = form.w;
  const kb = D / e.blockSize;
  const codes = G.tensor('embed.q', 'uint8', [V, (D * e.bits) / 8], e.codes, 'embed.codes');
  const scales = G.tensor('embed.scales', 'float', [V, kb], bytesOf(e.scales), 'embed.scales');
  let x = G.op(
    'GatherBlockQuantized',
    [codes, ids, scales],
    { gather_axis: 0, quantize_axis: 1, block_size: e.blockSize, bits: e.bits },
    { domain: 'com.microsoft' },
  );
  if (e.mins) {
    const mins = G.op('Unsqueeze', [G.op('Gather', [G.float('embed.mins', [V, kb], e.mins), ids], { axis: 0 }), G.int64([3])]); // [1,S,kb,1]
    x = G.op('Reshape', [G.op('Add', [G.op('Reshape', [x, G.int64([0, 0, kb, e.blockSize])]), mins]), G.int64([0, 0, D])]);
  }
  return { x, form, embed: '' };
}

/** Shape and axis constants every layer shares, created once. */
interface Constants {
  readonly shapeMerge: string;
  readonly axes3: string;
  readonly s0: string;
  readonly sHalf: string;
  readonly sEnd: string;
  readonly axesLast: string;
  readonly axes4: string;
  readonly sMax: string;
  readonly eps: string;
  readonly scale: string;
  readonly toRows: string;
  readonly qRowsShape: string;
  readonly fromRows: string;
}

function declareConstants(G: OnnxGraph, config: ModelConfig): Constants {
  const { numHeads: Hq, numKvHeads: Hkv, headDim: d } = config;
  // [1, Hkv, g, S, X] ⇄ [1, Hkv, 1, g·S, X]: the same memory; see attention().
  const toRows = G.int64([0, 0, 1, -1, 0]);
  const qRowsShape = G.int64([1, Hkv, 1, -1, d]); // [1, Hq, S, d] → [1, Hkv, 1, g·S, d]
  const fromRows = G.int64([0, 0, Hq / Hkv, -1, 0]);
  const shapeMerge = G.int64([0, 0, -1]);
  const axes3 = G.int64([3]);
  const s0 = G.int64([0]);
  const sHalf = G.int64([d / 2]);
  const sEnd = G.int64([d]);
  const axesLast = G.int64([-1]);
  const axes4 = G.int64([4]);
  const sMax = G.int64([Number.MAX_SAFE_INTEGER]);
  const eps = G.scalar(1e-30);
  const scale = G.scalar(1 / Math.sqrt(d));
  return { qRowsShape, toRows, fromRows, shapeMerge, axes3, s0, sHalf, sEnd, axesLast, axes4, sMax, eps, scale };
}

/** Everything a layer reads besides its own weights. */
interface LayerInputs {
  readonly b: Builder;
  readonly inp: GraphInputs;
  readonly c: Constants;
}

/** Rotate-half RoPE of t [1, S, H, d] by the cos/sin inputs. */
function rotate(li: LayerInputs, t: string): string {
  const { G } = li.b;
  const { cos, sin } = li.inp;
  const { s0, sHalf, sEnd, axes3 } = li.c;
  const x1 = G.op('Slice', [t, s0, sHalf, axes3]);
  const x2 = G.op('Slice', [t, sHalf, sEnd, axes3]);
  const r1 = G.op('Sub', [G.op('Mul', [x1, cos]), G.op('Mul', [x2, sin])]);
  const r2 = G.op('Add', [G.op('Mul', [x2, cos]), G.op('Mul', [x1, sin])]);
  return G.op('Concat', [r1, r2], { axis: 3 });
}

/**
 * Block sums of an input, Σ_{k∈b} x[k] per kernel block [.., K/bs]: the min term of block-minimum types.
 * Projections that share an input and a block size (q/k/v, gate/up) share them.
 */
function blockSumsOf(b: Builder, inp: string, K: number, bs: number, rank: 2 | 3): string {
  const key = `${inp}|${bs}`;
  let s = b.blockSums.get(key);
  if (!s) {
    const shape = rank === 3 ? [0, 0, K / bs, bs] : [0, K / bs, bs];
    s = b.G.op('ReduceSum', [b.G.op('Reshape', [inp, b.G.int64(shape)]), b.G.int64([-1])], { keepdims: 0 });
    b.blockSums.set(key, s);
  }
  return s;
}

/** A matrix product's weight: its initializers' name prefix, shape [N, K] and form. */
interface MatmulWeight {
  readonly name: string;
  readonly N: number;
  readonly K: number;
  readonly m: MatrixForm;
  /** The input's rank (3: [1, S, K]; 2: [K', K]). Default 3. */
  readonly rank?: 2 | 3;
  /** Names stored ranges a second reader (a tied head) reuses. */
  readonly share?: string;
}

/** x · Wᵀ for a matrix in either form. */
function matmul(b: Builder, inp: string, mw: MatmulWeight): string {
  const { G } = b;
  const { name, N, K, m, rank = 3, share } = mw;
  if (m.kind === 'f32') return G.op('MatMul', [inp, G.float(name, [K, N], transpose(m.data, N, K))]);
  const q = m.w;
  const kb = K / q.blockSize;
  let y = G.op(
    'MatMulNBits',
    [
      inp,
      G.tensor(`${name}.q`, 'uint8', [N, kb, (q.blockSize * q.bits) / 8], q.codes, share && `${share}.codes`),
      G.tensor(`${name}.scales`, 'float', [N * kb], bytesOf(q.scales), share && `${share}.scales`),
    ],
    { K, N, bits: q.bits, block_size: q.blockSize, accuracy_level: b.exact ? 1 : 4 },
    { domain: 'com.microsoft' },
  );
  if (q.mins) y = G.op('Add', [y, G.op('MatMul', [blockSumsOf(b, inp, K, q.blockSize, rank), G.float(`${name}.mins`, [kb, N], transpose(q.mins, N, kb))])]);
  return y;
}

/** A linear layer: weight `weight` [out, in] (rows reordered by `perm`), initializers named `name`, optional bias. */
interface LinearLayer {
  readonly name: string;
  readonly out: number;
  readonly inDim: number;
  readonly weight: string;
  readonly perm?: Int32Array | undefined;
  readonly bias?: Float32Array | undefined;
}

function linear(b: Builder, inp: string, ll: LinearLayer): string {
  const { name, out, inDim, weight, perm, bias } = ll;
  const y = matmul(b, inp, { name, N: out, K: inDim, m: matrixForm(b, weight, out, inDim, perm) });
  return bias ? b.G.op('Add', [y, b.G.float(`${name}.bias`, [out], bias)]) : y;
}

/** RMSNorm of x by the norm weight `weight`, its initializer named `name`. */
function rmsNorm(b: Builder, x: string, name: string, weight: string): string {
  return b.G.op('SimplifiedLayerNormalization', [x, b.G.float(name, [b.config.hiddenSize], b.w(weight))], {
    axis: -1,
    epsilon: { float: b.config.rmsNormEps },
  });
}

/** Layer l's post-RoPE queries [1, S, Hq, d] (an output, `query_l`) and new keys and values [1, S, Hkv, d]. */
function projectQkv(li: LayerInputs, l: number, h: string): { qRot: string; kNew: string; vNew: string } {
  const { b } = li;
  const { G, config } = b;
  const { numHeads: Hq, numKvHeads: Hkv, headDim: d, hiddenSize: D } = config;
  const interleaved = config.ropeLayout === 'interleaved';
  const rope = (x: Float32Array, heads: number) => (interleaved ? interleavedToHalves(x, heads, d) : x);
  const ropePerm = (heads: number) => (interleaved ? ropeRowPermutation(heads, d) : undefined);
  const bias = (n: 'bq' | 'bk' | 'bv', heads: number) =>
    config.qkvBias ? (n === 'bv' ? b.w(layerWeight(l, n)) : rope(b.w(layerWeight(l, n)), heads)) : undefined;
  const q = linear(b, h, { name: `l${l}.wq`, out: Hq * d, inDim: D, weight: layerWeight(l, 'wq'), perm: ropePerm(Hq), bias: bias('bq', Hq) });
  const k = linear(b, h, { name: `l${l}.wk`, out: Hkv * d, inDim: D, weight: layerWeight(l, 'wk'), perm: ropePerm(Hkv), bias: bias('bk', Hkv) });
  const v = linear(b, h, { name: `l${l}.wv`, out: Hkv * d, inDim: D, weight: layerWeight(l, 'wv'), perm: undefined, bias: bias('bv', Hkv) });
  const shapeHeads = (heads: number) => G.int64([0, 0, heads, d]);
  const qRot = G.op('Identity', [rotate(li, G.op('Reshape', [q, shapeHeads(Hq)]))], {}, { name: `query_${l}` }); // [1,S,Hq,d]
  const kNew = rotate(li, G.op('Reshape', [k, shapeHeads(Hkv)])); // [1,S,Hkv,d]
  const vNew = G.op('Reshape', [v, shapeHeads(Hkv)]);
  return { qRot, kNew, vNew };
}

/**
 * Layer l's attention over its past (read where it lies, head-major [Hkv, C, d], never concatenated
 * with the new tokens) and the new tokens: returns the residual stream after it and the attention
 * probabilities [1, Hkv, g, S, C+S] for the statistics.
 */
function attention(li: LayerInputs, l: number, x: string): { x: string; probs: string } {
  const { b, inp, c } = li;
  const { G, config, kvElem } = b;
  const { numHeads: Hq, numKvHeads: Hkv, headDim: d, hiddenSize: D } = config;
  const toFloat = (t: string) => (kvElem === 'float' ? t : G.op('Cast', [t], { to: ELEM.float }));
  const pk = toFloat(G.input(`past_key_${l}`, kvElem, [1, Hkv, 1, `P_${l}`, d]));
  const pv = toFloat(G.input(`past_value_${l}`, kvElem, [1, Hkv, 1, `P_${l}`, d]));
  const pm = G.input(`past_mask_${l}`, 'float', [1, Hkv, 1, 1, `P_${l}`]);
  const { qRot, kNew, vNew } = projectQkv(li, l, rmsNorm(b, x, `l${l}.attn_norm`, layerWeight(l, 'attnNorm')));
  // The new tokens' K/V as the cache holds them.
  G.op(kvElem === 'float' ? 'Identity' : 'Cast', [kNew], kvElem === 'float' ? {} : { to: ELEM.float16 }, { name: `key_${l}` });
  G.op(kvElem === 'float' ? 'Identity' : 'Cast', [vNew], kvElem === 'float' ? {} : { to: ELEM.float16 }, { name: `value_${l}` });

  // Queries pre-scaled by 1/√d, as the rows of one matrix per KV head, [1, Hkv, 1, g·S, d]: each KV
  // head's keys and values are then read by one matmul with g·S rows. As [1, Hkv, g, S, d] against
  // [1, Hkv, 1, …] MatMul broadcasting runs g matmuls of S rows, each reading the whole past again:
  // a decode step read the cache g times (4 on Llama-3-8B).
  const qRows = G.op('Reshape', [G.op('Transpose', [G.op('Mul', [qRot, c.scale])], { perm: [0, 2, 1, 3] }), c.qRowsShape]);
  const grouped = (t: string) => G.op('Reshape', [t, c.fromRows]); // [1,Hkv,1,g·S,X] → [1,Hkv,g,S,X]
  // Q·Kᵀ is written as a MatMul of the transposed keys: onnxruntime's CPU optimiser fuses the two into
  // one FusedMatMul that reads the keys in place (a transposed operand, no copy); a GPU transposes
  // in its own memory.
  const scorePast = G.op('Add', [grouped(G.op('MatMul', [qRows, G.op('Transpose', [pk], { perm: [0, 1, 2, 4, 3] })])), pm]); // [1,Hkv,g,S,C]
  const kNewT = G.op('Unsqueeze', [G.op('Transpose', [kNew], { perm: [0, 2, 3, 1] }), G.int64([2])]); // [1,Hkv,1,d,S]
  const scoreNew = G.op('Add', [grouped(G.op('MatMul', [qRows, kNewT])), inp.causal]); // [1,Hkv,g,S,S]
  const probs = G.op('Softmax', [G.op('Concat', [scorePast, scoreNew], { axis: 4 })], { axis: -1 }); // [1,Hkv,g,S,C+S]
  // Split at −S (a graph input: slicing by a length computed in the graph would put that arithmetic
  // on the CPU provider): Σ_t p·v over the past slots where they lie, plus over the new tokens.
  const probsPast = G.op('Slice', [probs, c.s0, inp.newFrom, c.axes4]); // [1,Hkv,g,S,C]
  const probsNew = G.op('Slice', [probs, inp.newFrom, c.sMax, c.axes4]); // [1,Hkv,g,S,S]
  const rows = (t: string) => G.op('Reshape', [t, c.toRows]); // [1,Hkv,g,S,X] → [1,Hkv,1,g·S,X]
  const attnPast = G.op('MatMul', [rows(probsPast), pv]); // [1,Hkv,1,g·S,d]
  const vNewH = G.op('Unsqueeze', [G.op('Transpose', [vNew], { perm: [0, 2, 1, 3] }), G.int64([2])]); // [1,Hkv,1,S,d]
  const attn = G.op('Add', [attnPast, G.op('MatMul', [rows(probsNew), vNewH])]); // [1,Hkv,1,g·S,d] = [1,Hq,S,d] in memory
  const merged = G.op('Reshape', [G.op('Transpose', [G.op('Reshape', [attn, G.int64([1, Hq, -1, d])])], { perm: [0, 2, 1, 3] }), c.shapeMerge]); // [1,S,Hq·d]
  return { x: G.op('Add', [x, linear(b, merged, { name: `l${l}.wo`, out: D, inDim: Hq * d, weight: layerWeight(l, 'wo') })]), probs };
}

/** Attention statistics for the token scorers and LMBA (see header), over past then new slots. */
function attentionStats(li: LayerInputs, l: number, probs: string): void {
  const { G } = li.b;
  const { statW, statRows, statWW } = li.inp;
  G.op('MatMul', [statW, probs], {}, { name: `wsum_${l}` });
  const probsW = G.op('Gather', [probs, statRows], { axis: 3 }); // [1,Hkv,g,W,T]
  G.op('MatMul', [statWW, G.op('Mul', [probsW, probsW])], {}, { name: `wsq_${l}` });
  const rowEnt = G.op('Neg', [G.op('ReduceSum', [G.op('Mul', [probsW, G.op('Log', [G.op('Add', [probsW, li.c.eps])])]), li.c.axesLast], { keepdims: 1 })]);
  G.op('MatMul', [statWW, rowEnt], {}, { name: `went_${l}` });
}

/** Layer l's SwiGLU feed-forward block: the residual stream after it. */
function feedForward(b: Builder, l: number, x: string): string {
  const { G } = b;
  const { hiddenSize: D, intermediateSize: F } = b.config;
  const h2 = rmsNorm(b, x, `l${l}.ffn_norm`, layerWeight(l, 'ffnNorm'));
  const gate = linear(b, h2, { name: `l${l}.w_gate`, out: F, inDim: D, weight: layerWeight(l, 'wGate') });
  const up = linear(b, h2, { name: `l${l}.w_up`, out: F, inDim: D, weight: layerWeight(l, 'wUp') });
  const act = G.op('Mul', [G.op('Mul', [gate, G.op('Sigmoid', [gate])]), up]);
  return G.op('Add', [x, linear(b, act, { name: `l${l}.w_down`, out: D, inDim: F, weight: layerWeight(l, 'wDown') })]);
}

/** Declares layer l's outputs: its new K/V and, with statistics, its queries and attention statistics. */
function layerOutputs(b: Builder, l: number): void {
  const { G, config, kvElem } = b;
  const { numHeads: Hq, numKvHeads: Hkv, headDim: d } = config;
  const g = Hq / Hkv;
  G.output(`key_${l}`, kvElem, [1, 'S', Hkv, d]);
  G.output(`value_${l}`, kvElem, [1, 'S', Hkv, d]);
  if (b.stats) {
    G.output(`query_${l}`, 'float', [1, 'S', Hq, d]);
    G.output(`wsum_${l}`, 'float', [1, Hkv, g, 'A', `T_${l}`]);
    G.output(`wsq_${l}`, 'float', [1, Hkv, g, 'A', `T_${l}`]);
    G.output(`went_${l}`, 'float', [1, Hkv, g, 'A', 1]);
  }
}

/** Final norm and the LM head on the positions logits_index picks: the `logits` output [1, K, V]. */
function lmHead(b: Builder, x: string, logitsIndex: string, embedded: Embedded): void {
  const { G, config } = b;
  const { vocabSize: V, hiddenSize: D } = config;
  const xf = G.op('SimplifiedLayerNormalization', [x, G.float('final_norm', [D], b.w('finalNorm'))], { axis: -1, epsilon: { float: config.rmsNormEps } });
  const picked = G.op('Reshape', [G.op('Gather', [xf, logitsIndex], { axis: 1 }), G.int64([-1, D])]); // [K, D]
  let logits2: string;
  if (!config.tiedEmbeddings) logits2 = matmul(b, picked, { name: 'lm_head', N: V, K: D, m: matrixForm(b, 'lmHead', V, D), rank: 2 });
  else if (embedded.form.kind === 'f32') logits2 = G.op('Gemm', [picked, embedded.embed], { transB: 1 });
  else logits2 = matmul(b, picked, { name: 'lm_head', N: V, K: D, m: embedded.form, rank: 2, share: 'embed' });
  G.op('Reshape', [logits2, G.int64([1, -1, V])], {}, { name: 'logits' });
  G.output('logits', 'float', [1, 'K', V]);
}

export function buildDecoderGraph(
  config: ModelConfig,
  weights: Weights,
  externalFile: string,
  file = config.name,
  opts: DecoderGraphOptions = {},
): DecoderGraph {
  const stats = opts.stats ?? true;
  if (config.headDim % 2 !== 0) throw new ModelFileError(file, `head dim ${config.headDim} is odd; RoPE needs an even head dim`, 'E_MODEL_UNSUPPORTED');
  const G = new OnnxGraph(externalFile, 1024, opts.sink);
  const tensor = (name: string): WeightTensor => {
    const t = weights.get(name);
    if (!t) throw new ModelFileError(file, `missing weight '${name}'`);
    return t;
  };
  const b: Builder = {
    G,
    config,
    file,
    floatWeights: opts.floatWeights ?? 'f32',
    exact: opts.exact ?? false,
    stats,
    kvElem: opts.kvType === 'f16' ? 'float16' : 'float',
    tensor,
    w: (name) => tensor(name).data,
    blockSums: new Map(),
  };
  const inp = declareInputs(G, stats, config.headDim / 2);
  const embedded = embedTokens(b, inp.ids);
  const li: LayerInputs = { b, inp, c: declareConstants(G, config) };
  let x = embedded.x;
  const probs: string[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const att = attention(li, l, x);
    probs.push(att.probs);
    x = feedForward(b, l, att.x);
    layerOutputs(b, l);
  }
  lmHead(b, x, inp.logitsIndex, embedded);
  // The statistics' nodes come last, layer 0's at the very end. onnxruntime orders a graph by a depth-first
  // walk back from its output nodes, taking the last-added first: added with their layer, they were walked
  // after the logits', i.e. run after the last layer, and every layer's attention probabilities [Hq, S, P]
  // stayed alive until then: 16 × 32 MiB for a 0.85B model's 32-token prefill chunk at 8K, kept by the CPU
  // arena for good. Walked first, layer l's run right after its attention, and each layer's probabilities
  // are freed before the next layer's are made.
  if (stats) for (const [l, p] of [...probs.entries()].reverse()) attentionStats(li, l, p);
  return { ...G.serialize(`${config.architecture}-decoder`, OPSET), externalFile };
}
