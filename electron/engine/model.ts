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

export interface WeightTensor {
  /** Row-major dims, outermost first. */
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

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

export type ModelFormat = 'gguf' | 'llama2c' | 'hf';

export interface LoadedModel {
  readonly path: string;
  readonly format: ModelFormat;
  readonly config: ModelConfig;
  readonly weights: Weights;
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
    if (w.data.length !== dims.reduce((a, b) => a * b, 1))
      throw new ModelFileError(file, `weight '${name}' has ${w.data.length} values for dims [${dims.join(', ')}]`);
  }
}
