/**
 * Builds the ONNX decoder graph for a Llama-family model (Llama 2/3,
 * Mistral, Qwen2) from its weights: one graph serves chunked prefill and
 * decoding, with per-layer caches of independent lengths.
 *
 * Per run (S new tokens; P_l cached tokens in layer l; T_l = P_l + S):
 *   inputs   input_ids      int64 [1, S]
 *            rope_cos/sin   f32 [1, S, 1, d/2]   cos/sin of position·θ_i, computed in float64 by the
 *                                                caller (exact at large positions; carries RoPE scaling)
 *            causal_mask    f32 [1, 1, 1, S, S]  additive mask among the new tokens (0 / −1e30)
 *            stat_rows      int64 [W]            the query rows the squared/entropy statistics use (the windows)
 *            stat_weights_rows f32 [1, 1, 1, A, W] their weights (stat_weights restricted to stat_rows)
 *            stat_weights   f32 [1, 1, 1, A, S]  rows of query weights for the attention statistics:
 *                                                e.g. 1s on the last α queries (a window), all 1s (H2O)
 *            logits_index   int64 [K]            which of the S positions to return logits for
 *            past_key_l     f32 [1, P_l, Hkv, d] cached keys, post-RoPE, sequence-major so the
 *            past_value_l   f32 [1, P_l, Hkv, d] caller appends without copying
 *            past_mask_l    f32 [1, Hkv, 1, 1, P_l]  0 for a held entry, −1e30 for padding (a KV head
 *                                                that holds fewer tokens than the longest head: Ada-KV)
 *   outputs  logits         f32 [1, K, V]
 *            key_l, value_l f32 [1, S, Hkv, d]   the new tokens' K (post-RoPE) and V, to append
 *            query_l        f32 [1, S, Hq, d]    post-RoPE queries (LMBO analysis)
 *            wsum_l         f32 [1, Hkv, g, A, T_l]  Σ_s w[a,s]·p[s,t]   (window attention sums)
 *            wsq_l          f32 [1, Hkv, g, A, T_l]  Σ_{s ∈ stat_rows} w[a,s]·p[s,t]²
 *            went_l         f32 [1, Hkv, g, A, 1]    Σ_{s ∈ stat_rows} w[a,s]·H(p[s,·])  (row entropies)
 * The statistics are aggregated in the graph: only [Hq, A, T] crosses into
 * JS, never the [Hq, S, T] attention (issue #3). The caller bounds S so the
 * transient [Hq, S, T] tensor stays small; memory grows linearly with T.
 *
 * RoPE: weights with an 'interleaved' layout (llama.cpp / llama2.c Q/K) are
 * un-permuted into the 'halves' layout at build time, so the graph has one
 * rotate-half implementation. Attention is invariant under applying the same
 * permutation to q and k, so logits are unchanged; cached keys are stored in
 * the 'halves' order.
 *
 * GQA without repeating K/V: queries are reshaped to [1, Hkv, g, S, d] and
 * multiplied by keys [1, Hkv, 1, d, T] with MatMul broadcasting.
 */
import type { ModelConfig, Weights } from '../model.ts';
import { ModelFileError, layerWeight } from '../model.ts';
import { OnnxGraph } from './onnx-builder.ts';

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
 * Reorders the output rows of a Q/K projection from 'interleaved' RoPE pairs
 * (2i, 2i+1) to 'halves' pairs (i, i + d/2), per head: new row i ← old 2i,
 * new row i + d/2 ← old 2i + 1. Works for weights [H·d, in] and biases [H·d].
 */
export function interleavedToHalves(w: Float32Array, heads: number, headDim: number): Float32Array {
  const cols = w.length / (heads * headDim);
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      out.set(w.subarray((h * headDim + 2 * i) * cols, (h * headDim + 2 * i + 1) * cols), (h * headDim + i) * cols);
      out.set(w.subarray((h * headDim + 2 * i + 1) * cols, (h * headDim + 2 * i + 2) * cols), (h * headDim + half + i) * cols);
    }
  }
  return out;
}

export interface DecoderGraphOptions {
  /** Emit the attention-statistics outputs (wsum/wsq/went/query). A decode-only graph without them is faster. */
  readonly stats?: boolean;
}

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

export function buildDecoderGraph(
  config: ModelConfig,
  weights: Weights,
  externalFile: string,
  file = config.name,
  opts: DecoderGraphOptions = {},
): DecoderGraph {
  const stats = opts.stats ?? true;
  const { numLayers: L, numHeads: Hq, numKvHeads: Hkv, headDim: d, hiddenSize: D, vocabSize: V, intermediateSize: F } = config;
  if (d % 2 !== 0) throw new ModelFileError(file, `head dim ${d} is odd; RoPE needs an even head dim`, 'E_MODEL_UNSUPPORTED');
  const g = Hq / Hkv;
  const half = d / 2;
  const G = new OnnxGraph(externalFile);
  const w = (name: string): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new ModelFileError(file, `missing weight '${name}'`);
    return t.data;
  };
  const rope = (x: Float32Array, heads: number) => (config.ropeLayout === 'interleaved' ? interleavedToHalves(x, heads, d) : x);

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

  const embed = G.float('embed', [V, D], w('embed'));
  let x = G.op('Gather', [embed, ids], { axis: 0 }); // [1, S, D]

  const shapeHeads = (h: number) => G.int64([0, 0, h, d]);
  const shapeQ5 = G.int64([1, Hkv, g, -1, d]);
  const shapeMerge = G.int64([0, 0, -1]);
  const axes3 = G.int64([3]);
  const s0 = G.int64([0]);
  const sHalf = G.int64([half]);
  const sEnd = G.int64([d]);
  const axesLast = G.int64([-1]);
  const eps = G.scalar(1e-30);
  const scale = G.scalar(1 / Math.sqrt(d));

  const rotate = (t: string): string => {
    const x1 = G.op('Slice', [t, s0, sHalf, axes3]);
    const x2 = G.op('Slice', [t, sHalf, sEnd, axes3]);
    const r1 = G.op('Sub', [G.op('Mul', [x1, cos]), G.op('Mul', [x2, sin])]);
    const r2 = G.op('Add', [G.op('Mul', [x2, cos]), G.op('Mul', [x1, sin])]);
    return G.op('Concat', [r1, r2], { axis: 3 });
  };
  const linear = (inp: string, name: string, out: number, inDim: number, data: Float32Array, bias?: Float32Array): string => {
    const y = G.op('MatMul', [inp, G.float(name, [inDim, out], transpose(data, out, inDim))]);
    return bias ? G.op('Add', [y, G.float(`${name}.bias`, [out], bias)]) : y;
  };

  for (let l = 0; l < L; l++) {
    const pk = G.input(`past_key_${l}`, 'float', [1, `P_${l}`, Hkv, d]);
    const pv = G.input(`past_value_${l}`, 'float', [1, `P_${l}`, Hkv, d]);
    const pm = G.input(`past_mask_${l}`, 'float', [1, Hkv, 1, 1, `P_${l}`]);

    const h = G.op('SimplifiedLayerNormalization', [x, G.float(`l${l}.attn_norm`, [D], w(layerWeight(l, 'attnNorm')))], {
      axis: -1,
      epsilon: { float: config.rmsNormEps },
    });
    const bias = (n: 'bq' | 'bk' | 'bv', heads: number) =>
      config.qkvBias ? (n === 'bv' ? w(layerWeight(l, n)) : rope(w(layerWeight(l, n)), heads)) : undefined;
    const q = linear(h, `l${l}.wq`, Hq * d, D, rope(w(layerWeight(l, 'wq')), Hq), bias('bq', Hq));
    const k = linear(h, `l${l}.wk`, Hkv * d, D, rope(w(layerWeight(l, 'wk')), Hkv), bias('bk', Hkv));
    const v = linear(h, `l${l}.wv`, Hkv * d, D, w(layerWeight(l, 'wv')), bias('bv', Hkv));

    const qRot = G.op('Identity', [rotate(G.op('Reshape', [q, shapeHeads(Hq)]))], {}, { name: `query_${l}` }); // [1,S,Hq,d]
    const kNew = G.op('Identity', [rotate(G.op('Reshape', [k, shapeHeads(Hkv)]))], {}, { name: `key_${l}` }); // [1,S,Hkv,d]
    const vNew = G.op('Reshape', [v, shapeHeads(Hkv)], {}, { name: `value_${l}` });

    // Queries [1, Hkv, g, S, d], pre-scaled by 1/√d.
    const q5 = G.op('Reshape', [G.op('Transpose', [G.op('Mul', [qRot, scale])], { perm: [0, 2, 1, 3] }), shapeQ5]);
    const keysT = (t: string) => G.op('Unsqueeze', [G.op('Transpose', [t], { perm: [0, 2, 3, 1] }), G.int64([2])]); // [1,Hkv,1,d,·]
    const vals = (t: string) => G.op('Unsqueeze', [G.op('Transpose', [t], { perm: [0, 2, 1, 3] }), G.int64([2])]); // [1,Hkv,1,·,d]
    const scorePast = G.op('Add', [G.op('MatMul', [q5, keysT(pk)]), pm]); // [1,Hkv,g,S,P]
    const scoreNew = G.op('Add', [G.op('MatMul', [q5, keysT(kNew)]), causal]); // [1,Hkv,g,S,S]
    const probs = G.op('Softmax', [G.op('Concat', [scorePast, scoreNew], { axis: 4 })], { axis: -1 }); // [1,Hkv,g,S,T]
    const vAll = G.op('Concat', [vals(pv), vals(vNew)], { axis: 3 }); // [1,Hkv,1,T,d]
    const attn = G.op('MatMul', [probs, vAll]); // [1,Hkv,g,S,d]
    const merged = G.op('Reshape', [G.op('Transpose', [G.op('Reshape', [attn, G.int64([1, Hq, -1, d])])], { perm: [0, 2, 1, 3] }), shapeMerge]); // [1,S,Hq·d]
    x = G.op('Add', [x, linear(merged, `l${l}.wo`, D, Hq * d, w(layerWeight(l, 'wo')))]);

    if (stats) {
      // Attention statistics for the token scorers and LMBA (see header).
      G.op('MatMul', [statW, probs], {}, { name: `wsum_${l}` });
      const probsW = G.op('Gather', [probs, statRows], { axis: 3 }); // [1,Hkv,g,W,T]
      G.op('MatMul', [statWW, G.op('Mul', [probsW, probsW])], {}, { name: `wsq_${l}` });
      const rowEnt = G.op('Neg', [G.op('ReduceSum', [G.op('Mul', [probsW, G.op('Log', [G.op('Add', [probsW, eps])])]), axesLast], { keepdims: 1 })]);
      G.op('MatMul', [statWW, rowEnt], {}, { name: `went_${l}` });
    }

    const h2 = G.op('SimplifiedLayerNormalization', [x, G.float(`l${l}.ffn_norm`, [D], w(layerWeight(l, 'ffnNorm')))], {
      axis: -1,
      epsilon: { float: config.rmsNormEps },
    });
    const gate = linear(h2, `l${l}.w_gate`, F, D, w(layerWeight(l, 'wGate')));
    const up = linear(h2, `l${l}.w_up`, F, D, w(layerWeight(l, 'wUp')));
    const act = G.op('Mul', [G.op('Mul', [gate, G.op('Sigmoid', [gate])]), up]);
    x = G.op('Add', [x, linear(act, `l${l}.w_down`, D, F, w(layerWeight(l, 'wDown')))]);

    G.output(`key_${l}`, 'float', [1, 'S', Hkv, d]);
    G.output(`value_${l}`, 'float', [1, 'S', Hkv, d]);
    if (stats) {
      G.output(`query_${l}`, 'float', [1, 'S', Hq, d]);
      G.output(`wsum_${l}`, 'float', [1, Hkv, g, 'A', `T_${l}`]);
      G.output(`wsq_${l}`, 'float', [1, Hkv, g, 'A', `T_${l}`]);
      G.output(`went_${l}`, 'float', [1, Hkv, g, 'A', 1]);
    }
  }

  const xf = G.op('SimplifiedLayerNormalization', [x, G.float('final_norm', [D], w('finalNorm'))], { axis: -1, epsilon: { float: config.rmsNormEps } });
  const picked = G.op('Reshape', [G.op('Gather', [xf, logitsIndex], { axis: 1 }), G.int64([-1, D])]); // [K, D]
  const logits2 = config.tiedEmbeddings
    ? G.op('Gemm', [picked, embed], { transB: 1 })
    : G.op('Gemm', [picked, G.float('lm_head', [V, D], w('lmHead'))], { transB: 1 });
  G.op('Reshape', [logits2, G.int64([1, -1, V])], {}, { name: 'logits' });
  G.output('logits', 'float', [1, 'K', V]);

  return { ...G.serialize(`${config.architecture}-decoder`, OPSET), externalFile };
}
