/**
 * Seeded random-weight Llama-family models of any shape, for comparing the
 * engine against the reference forward pass, and the converter between the
 * two RoPE layouts of Q/K weights.
 *
 * Scales keep the logits well-conditioned (no saturated softmax): linear
 * weights N(0, 1/fan_in) (std 1/√fan_in), so every projection of a unit-RMS
 * vector stays O(1); embed N(0, 1/hidden), so logits through a tied or untied
 * head are O(1); norm weights 1 + N(0, 0.1²); q/k/v biases N(0, 0.2²).
 * Same options and seed → bit-identical weights on every platform.
 */
import { createRng } from '@kvlab/core';
import type { Architecture, ModelConfig, RopeScaling, WeightTensor } from '../../../electron/engine/model.ts';

export interface RandomModelOptions {
  readonly vocab: number;
  readonly hidden: number;
  readonly inter: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly qkvBias: boolean;
  readonly tied: boolean;
  readonly ropeLayout: 'interleaved' | 'halves';
  readonly ropeTheta: number;
  readonly ropeScaling?: RopeScaling;
  readonly seed: number;
  /** Default 1e-5. */
  readonly rmsNormEps?: number;
  /** Default 'qwen2' when qkvBias, else 'llama'. */
  readonly architecture?: Architecture;
  /** Default 4096. */
  readonly contextLength?: number;
  readonly name?: string;
}

export interface RandomModel {
  readonly config: ModelConfig;
  readonly weights: Map<string, WeightTensor>;
}

export function randomModel(o: RandomModelOptions): RandomModel {
  const rng = createRng(o.seed);
  const { vocab: V, hidden: D, inter: F, heads: Hq, kvHeads: Hkv, headDim: d } = o;
  const weights = new Map<string, WeightTensor>();
  const normal = (dims: number[], std: number, mean = 0) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.normal();
    return data;
  };
  const linear = (name: string, out: number, inp: number) => weights.set(name, { dims: [out, inp], data: normal([out, inp], 1 / Math.sqrt(inp)) });
  const norm = (name: string) => weights.set(name, { dims: [D], data: normal([D], 0.1, 1) });
  const bias = (name: string, n: number) => weights.set(name, { dims: [n], data: normal([n], 0.2) });

  weights.set('embed', { dims: [V, D], data: normal([V, D], 1 / Math.sqrt(D)) });
  for (let l = 0; l < o.layers; l++) {
    const p = `layers.${l}.`;
    norm(p + 'attnNorm');
    linear(p + 'wq', Hq * d, D);
    linear(p + 'wk', Hkv * d, D);
    linear(p + 'wv', Hkv * d, D);
    if (o.qkvBias) {
      bias(p + 'bq', Hq * d);
      bias(p + 'bk', Hkv * d);
      bias(p + 'bv', Hkv * d);
    }
    linear(p + 'wo', D, Hq * d);
    norm(p + 'ffnNorm');
    linear(p + 'wGate', F, D);
    linear(p + 'wUp', F, D);
    linear(p + 'wDown', D, F);
  }
  norm('finalNorm');
  if (!o.tied) linear('lmHead', V, D);

  const config: ModelConfig = {
    architecture: o.architecture ?? (o.qkvBias ? 'qwen2' : 'llama'),
    name: o.name ?? `random-${o.layers}L-${Hq}q${Hkv}kv-d${d}-seed${o.seed}`,
    vocabSize: V,
    hiddenSize: D,
    intermediateSize: F,
    numLayers: o.layers,
    numHeads: Hq,
    numKvHeads: Hkv,
    headDim: d,
    rmsNormEps: o.rmsNormEps ?? 1e-5,
    ropeTheta: o.ropeTheta,
    ...(o.ropeScaling ? { ropeScaling: o.ropeScaling } : {}),
    ropeLayout: o.ropeLayout,
    contextLength: o.contextLength ?? 4096,
    tiedEmbeddings: o.tied,
    qkvBias: o.qkvBias,
  };
  return { config, weights };
}

/**
 * HF ('halves', rotate-half) → GGUF ('interleaved', adjacent pairs) Q/K rows:
 * llama.cpp convert_hf_to_gguf.py `permute(weights, n_head, n_head_kv)`,
 * i.e. reshape(n_head, 2, d/2, …).swapaxes(1, 2).reshape(…). Within each head,
 * new row 2j + t = old row t·d/2 + j, so the interleaved pair (2j, 2j+1) is
 * the rotate-half pair (j, j + d/2), which has the same frequency θ^(−2j/d).
 * `rows` is [numHeads·headDim, cols] row-major (cols = 1 for a bias);
 * pass the KV head count for K.
 */
export function permuteForInterleaved(rows: Float32Array, numHeads: number, headDim: number): Float32Array {
  return permuteRows(rows, numHeads, headDim, (j, t) => [j * 2 + t, t * (headDim / 2) + j]);
}

/** Inverse of permuteForInterleaved: GGUF adjacent-pair rows back to HF rotate-half rows. */
export function permuteForHalves(rows: Float32Array, numHeads: number, headDim: number): Float32Array {
  return permuteRows(rows, numHeads, headDim, (j, t) => [t * (headDim / 2) + j, j * 2 + t]);
}

/** `map(j, t)` → [destination row, source row] within a head, for j < d/2, t ∈ {0, 1}. */
function permuteRows(rows: Float32Array, numHeads: number, headDim: number, map: (j: number, t: number) => [number, number]): Float32Array {
  if (headDim % 2 !== 0) throw new Error(`permute: head dim ${headDim} is odd`);
  const totalRows = numHeads * headDim;
  if (rows.length % totalRows !== 0) throw new Error(`permute: ${rows.length} values are not ${totalRows} rows`);
  const cols = rows.length / totalRows;
  const out = new Float32Array(rows.length);
  for (let h = 0; h < numHeads; h++) {
    for (let j = 0; j < headDim / 2; j++) {
      for (let t = 0; t < 2; t++) {
        const [dst, src] = map(j, t);
        const base = h * headDim;
        out.set(rows.subarray((base + src) * cols, (base + src + 1) * cols), (base + dst) * cols);
      }
    }
  }
  return out;
}

/**
 * The same model in the other RoPE layout: Q/K weights (and biases) permuted,
 * every other tensor shared. Logits are identical up to float64 rounding.
 */
export function convertRopeLayout(model: RandomModel, to: 'interleaved' | 'halves'): RandomModel {
  const { config } = model;
  if (config.ropeLayout === to) return model;
  const permute = to === 'interleaved' ? permuteForInterleaved : permuteForHalves;
  const weights = new Map(model.weights);
  for (let l = 0; l < config.numLayers; l++) {
    for (const [key, heads] of [
      ['wq', config.numHeads],
      ['wk', config.numKvHeads],
      ['bq', config.numHeads],
      ['bk', config.numKvHeads],
    ] as const) {
      const name = `layers.${l}.${key}`;
      const t = weights.get(name);
      if (t) weights.set(name, { dims: t.dims, data: permute(t.data, heads, config.headDim) });
    }
  }
  return { config: { ...config, ropeLayout: to }, weights };
}
