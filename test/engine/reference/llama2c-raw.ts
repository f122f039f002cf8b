/**
 * A minimal llama2.c `.bin` parser for the reference tests, deliberately
 * independent of the engine's loader. Format (../shared/docs/data.md §1.1):
 * 7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len) — vocab_size > 0 means the classifier is tied — then
 * float32 arrays: token embedding [V×D], rms_att [L×D], wq [L×D×D],
 * wk [L×KV×D], wv [L×KV×D], wo [L×D×D], rms_ffn [L×D], w1 [L×F×D],
 * w2 [L×D×F], w3 [L×F×D], rms_final [D], freq_cis_real/imag [seq×hs/2 each,
 * unused], then wcls [V×D] only when untied. Every matrix is [out, in]
 * row-major (llama2.c's matmul reads w[i·n + j]); w1 = gate, w2 = down, w3 = up.
 * RoPE is adjacent pairs, θ = 10000, eps 1e-5 (llama2.c run.c).
 */
import type { ModelConfig, WeightTensor } from '../../../electron/engine/model.ts';

export function parseLlama2c(bytes: Uint8Array, name = 'llama2c'): { config: ModelConfig; weights: Map<string, WeightTensor> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 28) throw new Error(`${name}: ${bytes.byteLength} bytes, shorter than the 28-byte header`);
  const [D = 0, F = 0, L = 0, Hq = 0, Hkv = 0, vocabRaw = 0, seqLen = 0] = Array.from({ length: 7 }, (_, i) => view.getInt32(i * 4, true));
  const V = Math.abs(vocabRaw);
  const tied = vocabRaw > 0;
  const d = D / Hq;
  const kvDim = Hkv * d;

  let offset = 28;
  const take = (count: number): Float32Array => {
    if (offset + count * 4 > bytes.byteLength) throw new Error(`${name}: truncated at byte ${offset} (need ${count} floats)`);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + i * 4, true);
    offset += count * 4;
    return out;
  };
  const weights = new Map<string, WeightTensor>();
  const put = (key: string, dims: number[], data: Float32Array) => weights.set(key, { dims, data });
  /** Splits a [L × rows × cols] block into per-layer tensors. */
  const perLayer = (key: string, rows: number, cols: number) => {
    const all = take(L * rows * cols);
    for (let l = 0; l < L; l++) put(`layers.${l}.${key}`, cols === 1 ? [rows] : [rows, cols], all.slice(l * rows * cols, (l + 1) * rows * cols));
  };

  put('embed', [V, D], take(V * D));
  perLayer('attnNorm', D, 1);
  perLayer('wq', D, D);
  perLayer('wk', kvDim, D);
  perLayer('wv', kvDim, D);
  perLayer('wo', D, D);
  perLayer('ffnNorm', D, 1);
  perLayer('wGate', F, D);
  perLayer('wDown', D, F);
  perLayer('wUp', F, D);
  put('finalNorm', [D], take(D));
  take(seqLen * (d / 2) * 2); // freq_cis_real, freq_cis_imag
  if (!tied) put('lmHead', [V, D], take(V * D));
  if (offset !== bytes.byteLength) throw new Error(`${name}: ${bytes.byteLength - offset} unexpected trailing bytes`);

  const config: ModelConfig = {
    architecture: 'llama',
    name,
    vocabSize: V,
    hiddenSize: D,
    intermediateSize: F,
    numLayers: L,
    numHeads: Hq,
    numKvHeads: Hkv,
    headDim: d,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: 'interleaved',
    contextLength: seqLen,
    tiedEmbeddings: tied,
    qkvBias: false,
  };
  return { config, weights };
}
