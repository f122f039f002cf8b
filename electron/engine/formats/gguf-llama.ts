/**
 * GGUF (llama.cpp) → the engine's model: config from `<arch>.*` metadata and
 * canonical float32 weights (model.ts). Architectures: 'llama' (Llama 2/3/3.x
 * and, as llama.cpp writes them, Mistral), 'mistral' (accepted as an alias of
 * the same layout) and 'qwen2' (Qwen2/2.5: q/k/v biases, NEOX RoPE).
 *
 * Tensor names (llama.cpp `LLM_TENSOR_NAMES`):
 *   token_embd → embed · output_norm → finalNorm · output → lmHead (absent ⇒ tied)
 *   blk.N.attn_norm → attnNorm · attn_q/k/v (.weight/.bias) → wq/wk/wv, bq/bk/bv · attn_output → wo
 *   blk.N.ffn_norm → ffnNorm · ffn_gate → wGate · ffn_up → wUp · ffn_down → wDown
 *   rope_freqs (Llama 3.1+) → config.ropeScaling (type 'llama3', fitted to the per-frequency factors)
 * Any other tensor is refused (E_MODEL_UNSUPPORTED) rather than silently ignored.
 *
 * GGUF dims are fastest-first, so the canonical (row-major, outermost-first)
 * dims are the GGUF dims reversed and the data needs no transposition.
 * RoPE layout: 'interleaved' for llama (the HF→GGUF converter permuted Q/K
 * rows so adjacent pairs rotate), 'halves' for qwen2 (NEOX rotate-half).
 */

import { basename } from 'node:path';
import {
  checkWeights,
  lazyTensor,
  layerWeight,
  ModelFileError,
  SUPPORTED_ARCHITECTURES,
  type Architecture,
  type ModelConfig,
  type RopeScaling,
  type WeightTensor,
} from '../model.ts';
import { ggmlType, SUPPORTED_TYPE_NAMES } from './dequant.ts';
import { getNumber, getString, quoteName, readGgufHeader, readGgufTensor, readGgufTensorBytes, type GgufFile, type GgufValue } from './gguf.ts';

const ARCHITECTURES: Readonly<Record<string, Architecture>> = { llama: 'llama', mistral: 'mistral', qwen2: 'qwen2' };

const LAYER_TENSORS: Readonly<Record<string, Parameters<typeof layerWeight>[1]>> = {
  'attn_norm.weight': 'attnNorm',
  'attn_q.weight': 'wq',
  'attn_k.weight': 'wk',
  'attn_v.weight': 'wv',
  'attn_q.bias': 'bq',
  'attn_k.bias': 'bk',
  'attn_v.bias': 'bv',
  'attn_output.weight': 'wo',
  'ffn_norm.weight': 'ffnNorm',
  'ffn_gate.weight': 'wGate',
  'ffn_up.weight': 'wUp',
  'ffn_down.weight': 'wDown',
};
const GLOBAL_TENSORS: Readonly<Record<string, string>> = { 'token_embd.weight': 'embed', 'output_norm.weight': 'finalNorm', 'output.weight': 'lmHead' };
const ROPE_FREQS = 'rope_freqs.weight';

/** Throws a ModelFileError when `data` holds a NaN or infinity (a corrupt or broken model). */
export function assertFinite(path: string, tensor: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] ?? 0;
    if (v - v !== 0) throw new ModelFileError(path, `tensor ${quoteName(tensor)} holds ${v} at index ${i}: the weights are corrupt`);
  }
}

/** The shortest decimal that rounds to the same float32 (1e-5 rather than 9.99999974e-6); other numbers unchanged. */
export function tidyFloat32(x: number): number {
  if (Math.fround(x) !== x || !Number.isFinite(x)) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/** Canonical name for a GGUF tensor name; null for tensors consumed by the config; undefined if unknown. */
function canonicalName(name: string): { canon: string; layer?: number } | null | undefined {
  const g = GLOBAL_TENSORS[name];
  if (g) return { canon: g };
  if (name === ROPE_FREQS) return null;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const kind = m ? LAYER_TENSORS[m[2] ?? ''] : undefined;
  if (!m || !kind) return undefined;
  const layer = Number(m[1]);
  return { canon: layerWeight(layer, kind), layer };
}

function positiveInt(file: GgufFile, key: string, value: GgufValue | undefined): number {
  const v = typeof value === 'bigint' ? Number(value) : value;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
    throw new ModelFileError(file.path, `metadata key '${key}' is ${Array.isArray(v) ? 'an array' : String(v)}, expected a positive integer`);
  return v;
}

/** A per-model integer that llama.cpp may also store per layer (an array); per-layer values must all be equal here. */
function uniformInt(file: GgufFile, key: string, required: boolean): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (required) throw new ModelFileError(file.path, `metadata key '${key}' is missing`);
    return undefined;
  }
  if (!Array.isArray(v)) return positiveInt(file, key, v);
  const vals = v.map((x) => positiveInt(file, key, x));
  const first = vals[0];
  if (first === undefined) throw new ModelFileError(file.path, `metadata key '${key}' is an empty array`);
  if (vals.some((x) => x !== first))
    throw new ModelFileError(
      file.path,
      `metadata key '${key}' differs between layers (${[...new Set(vals)].join(', ')}); KV Lab needs the same value in every layer`,
      'E_MODEL_UNSUPPORTED',
    );
  return first;
}

/** Llama 3 RoPE scaling factor for one frequency (HF `_compute_llama3_parameters`, llama.cpp's rope_freqs). */
export function llama3RopeFactor(freq: number, s: Extract<RopeScaling, { type: 'llama3' }>): number {
  const wavelen = (2 * Math.PI) / freq;
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  if (wavelen < highWavelen) return 1;
  if (wavelen > lowWavelen) return s.factor;
  const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return 1 / ((1 - smooth) / s.factor + smooth);
}

type Llama3Scaling = Extract<RopeScaling, { type: 'llama3' }>;

/**
 * Llama 3 parameters that may reproduce `factors` (largest divisor F, frequencies `freqs`), most
 * likely first: the exact fit from two band points, Meta's defaults, then a search over the
 * original context.
 */
function llama3Candidates(factors: Float32Array, freqs: readonly number[], F: number): Llama3Scaling[] {
  const band: number[] = [];
  for (let i = 0; i < factors.length; i++) {
    const f = factors[i] ?? 1;
    if (f > 1 + 1e-4 && f < F * (1 - 1e-4)) band.push(i);
  }
  // Position of frequency i in the smooth band, from its stored factor.
  const s = (i: number): number => (1 / (factors[i] ?? 1) - 1 / F) / (1 - 1 / F);
  const tidyCtx = (c: number): number => (Math.abs(c - Math.round(c)) < 1e-3 * c ? Math.round(c) : c);
  const make = (high: number, ctx: number): Llama3Scaling => ({
    type: 'llama3',
    factor: tidyFloat32(F),
    lowFreqFactor: 1,
    highFreqFactor: Number(high.toPrecision(6)),
    originalMaxPositionEmbeddings: tidyCtx(ctx),
  });
  const candidates: Llama3Scaling[] = [];
  const i0 = band[0];
  const i1 = band[band.length - 1];
  if (i0 !== undefined && i1 !== undefined && i1 !== i0) {
    const f0 = freqs[i0] ?? 0;
    const a = (s(i1) - s(i0)) / ((freqs[i1] ?? 0) - f0);
    const b = s(i0) - a * f0;
    candidates.push(make(1 - 1 / b, (-2 * Math.PI * a) / b));
  }
  candidates.push(make(4, 8192));
  // Fewer than two band points leave a family of equivalent parameters: try original contexts (powers of two
  // first, then a fine grid), with highFreqFactor solved from the band point, s = (ctx·freq/2π − 1)/(high − 1),
  // or common values when the band is empty.
  const ctxs = [...Array.from({ length: 17 }, (_, k) => 2 ** (k + 8)), ...Array.from({ length: 400 }, (_, k) => 256 * 1.03 ** k)];
  for (const ctx of ctxs) {
    if (i0 !== undefined) {
      const f0 = freqs[i0] ?? 0;
      candidates.push(make(1 + ((ctx * f0) / (2 * Math.PI) - 1) / s(i0), ctx));
    } else {
      for (const high of [4, 2, 8, 1.5]) candidates.push(make(high, ctx));
    }
  }
  return candidates;
}

/**
 * Recovers Llama 3 scaling parameters from llama.cpp's `rope_freqs.weight`
 * (one divisor per frequency). factor = the largest divisor; in the smooth
 * band, s = (1/f − 1/factor)/(1 − 1/factor) is linear in the frequency,
 * s = a·freq + b, which fixes highFreqFactor and the original context when
 * lowFreqFactor = 1 (as in every Llama 3.x release) and two frequencies fall
 * in the band. Otherwise Meta's defaults (1, 4, 8192) are tried, then a
 * search over the original context. Any parameters that reproduce every
 * stored factor are equivalent for this head size, since only these
 * frequencies are ever used; if none does, the model is refused.
 */
export function fitLlama3RopeScaling(path: string, factors: Float32Array, theta: number, headDim: number): RopeScaling | undefined {
  const n = headDim / 2;
  if (factors.length !== n) throw new ModelFileError(path, `tensor '${ROPE_FREQS}' has ${factors.length} values, expected ${n} (head dim ${headDim} / 2)`);
  if (factors.every((f) => Math.abs(f - 1) < 1e-6)) return undefined;
  const freqs = Array.from({ length: n }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  let mismatch = '';
  for (const c of llama3Candidates(factors, freqs, Math.max(...factors))) {
    if (
      !(c.highFreqFactor > 1) ||
      !(c.originalMaxPositionEmbeddings > 0) ||
      !Number.isFinite(c.highFreqFactor) ||
      !Number.isFinite(c.originalMaxPositionEmbeddings)
    )
      continue;
    const bad = factors.findIndex((want, i) => Math.abs(llama3RopeFactor(freqs[i] ?? 0, c) - want) > 1e-3 * Math.max(1, Math.abs(want)));
    if (bad < 0) return c;
    if (!mismatch)
      mismatch = `frequency ${bad}: stored factor ${factors[bad]}, Llama 3 with factor ${c.factor}, high_freq_factor ${c.highFreqFactor}, original context ${c.originalMaxPositionEmbeddings} gives ${llama3RopeFactor(freqs[bad] ?? 0, c)}`;
  }
  throw new ModelFileError(
    path,
    `tensor '${ROPE_FREQS}' does not follow Llama 3 RoPE scaling (${mismatch || 'no consistent parameters'})`,
    'E_MODEL_UNSUPPORTED',
  );
}

/** A GGUF file being read as a model of architecture `archName`: `k` names its `<arch>.*` keys. */
interface ArchReader {
  readonly file: GgufFile;
  readonly path: string;
  readonly archName: string;
  readonly architecture: Architecture;
  readonly k: (s: string) => string;
  readonly unsupported: (problem: string) => never;
}

function archReader(file: GgufFile): ArchReader {
  const path = file.path;
  const archName = getString(file, 'general.architecture');
  const architecture = ARCHITECTURES[archName];
  if (!architecture)
    throw new ModelFileError(
      path,
      `architecture '${archName}' is not supported; KV Lab supports: ${SUPPORTED_ARCHITECTURES.join(', ')}`,
      'E_MODEL_UNSUPPORTED',
    );
  const unsupported = (p: string): never => {
    throw new ModelFileError(path, p, 'E_MODEL_UNSUPPORTED');
  };
  return { file, path, archName, architecture, k: (s) => `${archName}.${s}`, unsupported };
}

type GgufShape = Pick<ModelConfig, 'hiddenSize' | 'numLayers' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'contextLength' | 'headDim'>;

/** The model's sizes from `<arch>.*` metadata; refuses mixture-of-experts, unequal K/V head sizes and partial RoPE. */
function ggufShape({ file, path, k, unsupported }: ArchReader): GgufShape {
  const experts = getNumber(file, k('expert_count'), false);
  if (experts !== undefined && experts > 0) unsupported(`mixture-of-experts models (${k('expert_count')} = ${experts}) are not supported`);
  const hiddenSize = uniformInt(file, k('embedding_length'), true) ?? 0;
  const numLayers = uniformInt(file, k('block_count'), true) ?? 0;
  const intermediateSize = uniformInt(file, k('feed_forward_length'), true) ?? 0;
  const numHeads = uniformInt(file, k('attention.head_count'), true) ?? 0;
  const numKvHeads = uniformInt(file, k('attention.head_count_kv'), false) ?? numHeads;
  const contextLength = uniformInt(file, k('context_length'), true) ?? 0;
  const keyLength = uniformInt(file, k('attention.key_length'), false);
  const valueLength = uniformInt(file, k('attention.value_length'), false);
  if (keyLength === undefined && hiddenSize % numHeads !== 0)
    throw new ModelFileError(path, `${k('embedding_length')} ${hiddenSize} is not a multiple of ${k('attention.head_count')} ${numHeads}`);
  const headDim = keyLength ?? hiddenSize / numHeads;
  if (valueLength !== undefined && valueLength !== headDim) unsupported(`value head size ${valueLength} differs from key head size ${headDim}`);
  if (numHeads % numKvHeads !== 0)
    throw new ModelFileError(path, `${k('attention.head_count')} ${numHeads} is not a multiple of ${k('attention.head_count_kv')} ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new ModelFileError(path, `head size ${headDim} is odd, so RoPE pairs cannot be formed`);
  const ropeDim = uniformInt(file, k('rope.dimension_count'), false) ?? headDim;
  if (ropeDim !== headDim) unsupported(`partial RoPE (${k('rope.dimension_count')} ${ropeDim} < head size ${headDim}) is not supported`);
  return { hiddenSize, numLayers, intermediateSize, numHeads, numKvHeads, contextLength, headDim };
}

/** The RMSNorm epsilon and RoPE base, checked. */
function normAndTheta({ file, path, k }: ArchReader): { eps: number; ropeTheta: number } {
  const eps = getNumber(file, k('attention.layer_norm_rms_epsilon'));
  if (!(eps > 0 && eps < 1))
    throw new ModelFileError(path, `metadata key '${k('attention.layer_norm_rms_epsilon')}' is ${eps}, expected a small positive number`);
  const ropeTheta = getNumber(file, k('rope.freq_base'), false) ?? 10000;
  if (!(ropeTheta > 1) || !Number.isFinite(ropeTheta))
    throw new ModelFileError(path, `metadata key '${k('rope.freq_base')}' is ${ropeTheta}, expected a number > 1`);
  return { eps, ropeTheta };
}

/**
 * The tensor table by name: every tensor must be one we use, in a layer that exists, and every layer must be
 * there (checked before anything loops over numLayers, so a corrupt block_count cannot run away).
 */
function checkedTensorTable(r: ArchReader, numLayers: number): Map<string, GgufFile['tensors'][number]> {
  const { file, path, k } = r;
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  if (numLayers * 9 + 2 > file.tensors.length)
    throw new ModelFileError(path, `${k('block_count')} is ${numLayers}, but the file has only ${file.tensors.length} tensors (each layer needs 9)`);
  for (let i = 0; i < numLayers; i++)
    if (!byName.has(`blk.${i}.attn_q.weight`)) throw new ModelFileError(path, `missing tensor 'blk.${i}.attn_q.weight' (${k('block_count')} is ${numLayers})`);
  for (const t of file.tensors) {
    const c = canonicalName(t.name);
    if (c === undefined) r.unsupported(`tensor ${quoteName(t.name)} is not part of the ${r.archName} architecture as KV Lab implements it`);
    if (c?.layer !== undefined && c.layer >= numLayers)
      throw new ModelFileError(path, `tensor ${quoteName(t.name)} belongs to layer ${c.layer}, but ${k('block_count')} is ${numLayers}`);
  }
  return byName;
}

/** The vocabulary size: token_embd's second GGUF dim (its first must be the hidden size). */
function vocabSizeOf(path: string, byName: ReadonlyMap<string, GgufFile['tensors'][number]>, hiddenSize: number): number {
  const embed = byName.get('token_embd.weight');
  if (!embed) throw new ModelFileError(path, `missing tensor 'token_embd.weight'`);
  if (embed.dims.length !== 2 || embed.dims[0] !== hiddenSize)
    throw new ModelFileError(path, `tensor 'token_embd.weight' has dims [${embed.dims.join(', ')}], expected [${hiddenSize}, vocab]`);
  return embed.dims[1] ?? 0;
}

/** RoPE scaling: linear (metadata), Llama 3 (rope_freqs tensor); anything else is refused. */
function ggufRopeScaling(r: ArchReader, hasRopeFreqs: boolean, rope: { ropeTheta: number; headDim: number }): RopeScaling | undefined {
  const { file, path, k, unsupported } = r;
  const scalingType = getString(file, k('rope.scaling.type'), false);
  const scalingFactor = getNumber(file, k('rope.scaling.factor'), false) ?? getNumber(file, k('rope.scale_linear'), false);
  if (hasRopeFreqs) {
    if (r.architecture === 'qwen2') unsupported(`tensor '${ROPE_FREQS}' (per-frequency RoPE factors) is not supported for qwen2`);
    if (scalingType !== undefined && scalingType !== 'none' && scalingType !== 'llama3')
      unsupported(`RoPE scaling '${scalingType}' combined with '${ROPE_FREQS}' is not supported`);
    return fitLlama3RopeScaling(path, readGgufTensor(file, ROPE_FREQS), rope.ropeTheta, rope.headDim);
  }
  if (scalingType === 'linear' || (scalingType === undefined && scalingFactor !== undefined)) {
    if (scalingFactor === undefined || scalingFactor === 1) return undefined;
    if (!(scalingFactor > 0) || !Number.isFinite(scalingFactor))
      throw new ModelFileError(path, `RoPE scaling factor ${scalingFactor} is not a positive number`);
    return { type: 'linear', factor: tidyFloat32(scalingFactor) };
  }
  if (scalingType !== undefined && scalingType !== 'none')
    unsupported(`RoPE scaling '${scalingType}' is not supported (KV Lab supports linear and Llama 3 scaling)`);
  return undefined;
}

/** Reads the model config from GGUF metadata and the tensor table (reads no weights except the tiny rope_freqs). Refuses unsupported models. */
export function ggufModelConfig(file: GgufFile): ModelConfig {
  const r = archReader(file);
  const { path, architecture } = r;
  const shape = ggufShape(r);
  const { eps, ropeTheta } = normAndTheta(r);
  const byName = checkedTensorTable(r, shape.numLayers);
  const vocabSize = vocabSizeOf(path, byName, shape.hiddenSize);
  const ropeScaling = ggufRopeScaling(r, byName.has(ROPE_FREQS), { ropeTheta, headDim: shape.headDim });
  const name = getString(file, 'general.name', false) ?? basename(path).replace(/\.gguf$/i, '');
  const { hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, contextLength } = shape;
  return {
    architecture,
    name,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: tidyFloat32(eps),
    ropeTheta: tidyFloat32(ropeTheta),
    ...(ropeScaling ? { ropeScaling } : {}),
    ropeLayout: architecture === 'qwen2' ? 'halves' : 'interleaved',
    contextLength,
    tiedEmbeddings: !byName.has('output.weight'),
    qkvBias: byName.has('blk.0.attn_q.bias'),
  };
}

/**
 * Every weight of `file` under its canonical name, checked against `config`.
 * Nothing is read here: each tensor reads (and dequantises) its data on access
 * and offers its stored ggml bytes (model.ts lazyTensor), so the graph builder
 * can keep quantised blocks as they are.
 */
export function loadGgufWeights(file: GgufFile, config: ModelConfig): Map<string, WeightTensor> {
  const weights = new Map<string, WeightTensor>();
  for (const t of file.tensors) {
    const c = canonicalName(t.name);
    if (c === null) continue;
    if (c === undefined)
      throw new ModelFileError(file.path, `tensor ${quoteName(t.name)} is not part of the model as KV Lab implements it`, 'E_MODEL_UNSUPPORTED');
    const type = ggmlType(t.type);
    if (!type?.supported)
      throw new ModelFileError(
        file.path,
        `tensor ${quoteName(t.name)} has type ${t.typeName}, which KV Lab cannot read; supported: ${SUPPORTED_TYPE_NAMES.join(', ')}`,
        'E_MODEL_UNSUPPORTED',
      );
    const read = (): Float32Array => {
      const data = readGgufTensor(file, t.name);
      assertFinite(file.path, t.name, data);
      return data;
    };
    weights.set(c.canon, lazyTensor([...t.dims].reverse(), read, { type: t.typeName, bytes: () => readGgufTensorBytes(file, t.name) }));
  }
  checkWeights(file.path, config, weights);
  return weights;
}

/** Header + config + weights of a GGUF model. */
export function loadGgufModel(pathOrFile: string | GgufFile): { file: GgufFile; config: ModelConfig; weights: Map<string, WeightTensor> } {
  const file = typeof pathOrFile === 'string' ? readGgufHeader(pathOrFile) : pathOrFile;
  const config = ggufModelConfig(file);
  return { file, config, weights: loadGgufWeights(file, config) };
}
