/**
 * The engine's in-memory model: a normalised config, float32 weights under
 * canonical names, and a tokenizer — whatever file format they came from
 * (GGUF, llama2.c .bin, Hugging Face folder). The graph builder and the
 * reference forward pass read only this.
 *
 * Weight layout: every matrix is row-major [out, in] (PyTorch nn.Linear
 * `weight`). GGUF lists dims fastest-first, so a GGUF tensor with dims
 * [in, out] is already this layout. Canonical names:
 *   embed                  [vocab, hidden]
 *   layers.{i}.attnNorm    [hidden]
 *   layers.{i}.wq          [Hq·d, hidden]     layers.{i}.bq [Hq·d]   (qkvBias only)
 *   layers.{i}.wk          [Hkv·d, hidden]    layers.{i}.bk [Hkv·d]
 *   layers.{i}.wv          [Hkv·d, hidden]    layers.{i}.bv [Hkv·d]
 *   layers.{i}.wo          [hidden, Hq·d]
 *   layers.{i}.ffnNorm     [hidden]
 *   layers.{i}.wGate       [inter, hidden]
 *   layers.{i}.wUp         [inter, hidden]
 *   layers.{i}.wDown       [hidden, inter]
 *   finalNorm              [hidden]
 *   lmHead                 [vocab, hidden]    (absent when tiedEmbeddings)
 *
 * RoPE layout (`ropeLayout`): Q/K weights are kept as the file stores them,
 * and the config says how pairs are formed — 'interleaved' = adjacent pairs
 * (x[2i], x[2i+1]), as llama2.c and llama.cpp's Llama GGUFs (whose Q/K rows
 * the HF→GGUF converter permuted); 'halves' = rotate-half (x[i], x[i+d/2]),
 * as Hugging Face checkpoints and Qwen2 GGUFs (NEOX mode).
 */
import type { ModelFormatId } from '@kvlab/core';
import { LabError } from '@kvlab/core';

export type Architecture = 'llama' | 'mistral' | 'qwen2';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'mistral', 'qwen2'];

export type RopeScaling =
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    }
  | { readonly type: 'linear'; readonly factor: number };

export interface ModelConfig {
  readonly architecture: Architecture;
  readonly name: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling?: RopeScaling;
  readonly ropeLayout: 'interleaved' | 'halves';
  /** Context length the file declares (may exceed what the model was trained at; see the model card). */
  readonly contextLength: number;
  readonly tiedEmbeddings: boolean;
  readonly qkvBias: boolean;
}

/** How a tensor is stored in its file, for a graph that keeps it in that form. */
export interface StoredForm {
  /** ggml type name ('Q4_K', 'Q8_0', 'F16', 'BF16', 'F32'). */
  readonly type: string;
  /** The tensor's bytes as stored (ggml blocks, row after row), read from the file on each call; nothing is kept. */
  readonly bytes: () => Uint8Array;
}

export interface WeightTensor {
  /** Row-major dims, outermost first. */
  readonly dims: readonly number[];
  /**
   * The values as float32. For a tensor read from a file this is a getter that
   * reads and dequantises on each access and keeps nothing: a loaded model holds
   * no weights in JS, and the graph builder converts one tensor at a time.
   */
  readonly data: Float32Array;
  /** The stored form (non-enumerable, so equal weights compare equal whatever file they came from). */
  readonly stored?: StoredForm;
}

/**
 * A tensor read on demand from a file: `data` reads (and dequantises) each time
 * it is accessed, `stored` gives the file's own bytes.
 */
export function lazyTensor(dims: readonly number[], read: () => Float32Array, stored?: StoredForm): WeightTensor {
  const t = { dims } as { dims: readonly number[]; data: Float32Array };
  Object.defineProperty(t, 'data', { get: read, enumerable: true });
  if (stored) Object.defineProperty(t, 'stored', { value: stored, enumerable: false });
  return t;
}

/** Whether a tensor's values are held in memory (an in-memory model) rather than read from a file on access. */
export const isResident = (t: WeightTensor): boolean => {
  const d = Object.getOwnPropertyDescriptor(t, 'data');
  return d !== undefined && 'value' in d;
};

/**
 * How matrices stored as floats (F32/F16/BF16) are held in the graph: float32
 * (exact), or requantised at load to 8-bit (Q8_0-like, 32-element blocks) or
 * 4-bit (Q4_0-like) blocks. Quantised GGUF tensors always stay in their own blocks.
 */
export type FloatWeightForm = 'f32' | 'q8' | 'q4';
export const FLOAT_WEIGHT_FORMS: readonly FloatWeightForm[] = ['f32', 'q8', 'q4'];

export type Weights = ReadonlyMap<string, WeightTensor>;

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosIds: readonly number[];
  /** Token ids for `text`; a BOS is prepended when `addBos` (default: the tokenizer's own setting). */
  encode(text: string, opts?: { readonly addBos?: boolean }): number[];
  /** Text for ids; special tokens (BOS/EOS) are dropped. */
  decode(ids: readonly number[]): string;
  /** One token's text piece, for overlays. */
  piece(id: number): string;
}

/** The model formats are core's list (core/src/model-formats.ts). */
export type ModelFormat = ModelFormatId;

export interface LoadedModel {
  readonly path: string;
  readonly format: ModelFormat;
  readonly config: ModelConfig;
  /** The weights; a model loaded from a file reads them on demand (WeightTensor.data). */
  readonly weights: Weights;
  /**
   * Identity of the file(s) for the graph cache: size, mtime and a hash of the
   * header and tensor table. Absent for in-memory models, whose weights are hashed instead.
   */
  readonly identity?: string;
  /** How float-stored matrices are held (default 'f32'). */
  readonly floatWeights?: FloatWeightForm;
  readonly tokenizer: Tokenizer;
  /** Metadata worth showing (GGUF general.*, HF config fields). */
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
}

export type ModelErrorCode = 'E_MODEL_FILE' | 'E_MODEL_UNSUPPORTED' | 'E_MODEL_TOO_LARGE';

/**
 * A model file that cannot be used: names the file and the problem, e.g.
 *   "stories.gguf: tensor 'blk.0.attn_q.weight' data [14176, 30560) lies outside the file (20000 bytes)".
 */
export class ModelFileError extends LabError {
  readonly apiCode = 'E_MODEL' as const;
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly code: ModelErrorCode = 'E_MODEL_FILE',
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ModelFileError';
  }
  /** The file, and the finer code as `reason` (the UI words "unsupported" and "too large" differently). */
  override get apiDetails(): { file: string; reason: ModelErrorCode } {
    return { file: this.file, reason: this.code };
  }
}

/** Canonical weight name for layer `i`. */
export const layerWeight = (i: number, name: 'attnNorm' | 'wq' | 'wk' | 'wv' | 'wo' | 'bq' | 'bk' | 'bv' | 'ffnNorm' | 'wGate' | 'wUp' | 'wDown'): string =>
  `layers.${i}.${name}`;

/** Checks that every weight the config implies is present with the right dims; throws ModelFileError naming the first mismatch. */
export function checkWeights(file: string, config: ModelConfig, weights: Weights): void {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numHeads: Hq, numKvHeads: Hkv, headDim: d } = config;
  // Bound the layer count by what the file holds before looping over it: a corrupt count must not run away.
  if (!Number.isInteger(config.numLayers) || config.numLayers < 1 || config.numLayers * 9 + 2 > weights.size) {
    throw new ModelFileError(file, `the config declares ${config.numLayers} layers, but the file holds only ${weights.size} weights (each layer needs 9)`);
  }
  const want: [string, number[]][] = [
    ['embed', [V, D]],
    ['finalNorm', [D]],
  ];
  if (!config.tiedEmbeddings) want.push(['lmHead', [V, D]]);
  for (let i = 0; i < config.numLayers; i++) {
    want.push(
      [layerWeight(i, 'attnNorm'), [D]],
      [layerWeight(i, 'wq'), [Hq * d, D]],
      [layerWeight(i, 'wk'), [Hkv * d, D]],
      [layerWeight(i, 'wv'), [Hkv * d, D]],
      [layerWeight(i, 'wo'), [D, Hq * d]],
      [layerWeight(i, 'ffnNorm'), [D]],
      [layerWeight(i, 'wGate'), [F, D]],
      [layerWeight(i, 'wUp'), [F, D]],
      [layerWeight(i, 'wDown'), [D, F]],
    );
    if (config.qkvBias) want.push([layerWeight(i, 'bq'), [Hq * d]], [layerWeight(i, 'bk'), [Hkv * d]], [layerWeight(i, 'bv'), [Hkv * d]]);
  }
  for (const [name, dims] of want) {
    const w = weights.get(name);
    if (!w) throw new ModelFileError(file, `missing weight '${name}'`);
    if (w.dims.length !== dims.length || w.dims.some((x, k) => x !== dims[k])) {
      throw new ModelFileError(file, `weight '${name}' has dims [${w.dims.join(', ')}], expected [${dims.join(', ')}]`);
    }
    // A file-backed tensor's size was checked against its dims when the file's table was read; reading it here would load every weight.
    if (isResident(w) && w.data.length !== dims.reduce((a, b) => a * b, 1))
      throw new ModelFileError(file, `weight '${name}' has ${w.data.length} values for dims [${dims.join(', ')}]`);
  }
}
