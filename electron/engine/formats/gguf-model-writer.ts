/**
 * Writes an in-memory model as a llama.cpp-style GGUF: `<arch>.*` metadata,
 * llama.cpp tensor names, Q/K rows permuted into llama.cpp's interleaved
 * RoPE order for Llama (Qwen2 keeps rotate-half, as llama.cpp does), and a
 * small SentencePiece vocabulary so the file loads like any other GGUF.
 *
 * Used by the tests (the same random model as HF folder and as GGUF must
 * give the same logits) and by `npm run bench:engine` (random-weight
 * Llama-shaped models of ~100M and ~1B parameters, also fed to llama.cpp).
 */
import { halvesToInterleaved } from '../graph/decoder.ts';
import type { ModelConfig, Weights } from '../model.ts';
import { ModelFileError, layerWeight } from '../model.ts';
import type { GgufMetadataEntry, GgufWriteTensor } from './gguf-writer.ts';
import { writeGguf } from './gguf-writer.ts';

export type WeightType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

export interface GgufModelOptions {
  /** Storage type of the 2-D weight matrices (norms and biases stay F32, as llama.cpp does). Default F32. */
  readonly type?: WeightType;
  readonly description?: string;
  /** The SentencePiece vocabulary to store (default: `syntheticVocab` of the model's size). */
  readonly vocab?: { readonly tokens: readonly string[]; readonly scores: readonly number[]; readonly types: readonly number[] };
  /** More metadata entries (`general.license`, …), written after the standard ones. */
  readonly metadata?: readonly GgufMetadataEntry[];
  /**
   * Stores a matrix as given ggml blocks instead of `type` (any ggml type, e.g.
   * random Q4_K blocks): called with the GGUF tensor name and the row-major
   * [out, in] shape; undefined keeps the default. Q/K rows are written as given.
   */
  readonly raw?: (name: string, out: number, inp: number) => { readonly type: string; readonly raw: Uint8Array } | undefined;
}

/** A byte-fallback SentencePiece vocabulary of `size` tokens: <unk>, <s>, </s>, then <0x00>…, then filler pieces. */
export function syntheticVocab(size: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256 && tokens.length < size; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (let i = 0; tokens.length < size; i++) {
    tokens.push(`▁t${i}`);
    types.push(1);
  }
  return { tokens, scores: tokens.map((_, i) => -i), types };
}

type Model = { readonly config: ModelConfig; readonly weights: Weights };

/** Turns the model's weights into GGUF tensors: names, GGUF dims, storage type and Q/K layout. */
interface TensorMaker {
  /** A weight's values by canonical name (ModelFileError when missing). */
  readonly get: (name: string) => Float32Array;
  /** Q/K rows (or biases) in the layout llama.cpp stores for the architecture. */
  readonly qk: (data: Float32Array, heads: number) => Float32Array;
  /** A matrix [out, inp] in the storage type (or the raw blocks `opts.raw` gives). */
  readonly mat: (name: string, out: number, inp: number, data: Float32Array) => GgufWriteTensor;
  /** A vector, always F32. */
  readonly vec: (name: string, data: Float32Array) => GgufWriteTensor;
}

function tensorMaker(path: string, model: Model, opts: GgufModelOptions, arch: 'llama' | 'qwen2'): TensorMaker {
  const c = model.config;
  const type = opts.type ?? 'F32';
  const get = (name: string): Float32Array => {
    const w = model.weights.get(name);
    if (!w) throw new ModelFileError(path, `missing weight '${name}'`);
    return w.data;
  };
  // llama.cpp stores Llama Q/K interleaved; Qwen2 (NEOX RoPE) keeps rotate-half.
  const wantInterleaved = arch === 'llama';
  const qk = (data: Float32Array, heads: number) =>
    wantInterleaved && c.ropeLayout === 'halves'
      ? halvesToInterleaved(data, heads, c.headDim)
      : !wantInterleaved && c.ropeLayout === 'interleaved'
        ? badLayout(path)
        : data;
  const mat = (name: string, out: number, inp: number, data: Float32Array): GgufWriteTensor => {
    const r = opts.raw?.(name, out, inp);
    return r ? { name, dims: [inp, out], type: r.type, raw: r.raw } : { name, dims: [inp, out], type, data };
  };
  const vec = (name: string, data: Float32Array): GgufWriteTensor => ({ name, dims: [data.length], type: 'F32', data });
  return { get, qk, mat, vec };
}

/** Layer i's tensors under llama.cpp's names. */
function layerTensors(m: TensorMaker, c: ModelConfig, i: number): GgufWriteTensor[] {
  const { get, qk, mat, vec } = m;
  const { hiddenSize: D, intermediateSize: F, numHeads: Hq, numKvHeads: Hkv, headDim: d } = c;
  const b = `blk.${i}.`;
  const tensors = [
    vec(`${b}attn_norm.weight`, get(layerWeight(i, 'attnNorm'))),
    mat(`${b}attn_q.weight`, Hq * d, D, qk(get(layerWeight(i, 'wq')), Hq)),
    mat(`${b}attn_k.weight`, Hkv * d, D, qk(get(layerWeight(i, 'wk')), Hkv)),
    mat(`${b}attn_v.weight`, Hkv * d, D, get(layerWeight(i, 'wv'))),
    mat(`${b}attn_output.weight`, D, Hq * d, get(layerWeight(i, 'wo'))),
    vec(`${b}ffn_norm.weight`, get(layerWeight(i, 'ffnNorm'))),
    mat(`${b}ffn_gate.weight`, F, D, get(layerWeight(i, 'wGate'))),
    mat(`${b}ffn_up.weight`, F, D, get(layerWeight(i, 'wUp'))),
    mat(`${b}ffn_down.weight`, D, F, get(layerWeight(i, 'wDown'))),
  ];
  if (c.qkvBias) {
    tensors.push(
      vec(`${b}attn_q.bias`, qk(get(layerWeight(i, 'bq')), Hq)),
      vec(`${b}attn_k.bias`, qk(get(layerWeight(i, 'bk')), Hkv)),
      vec(`${b}attn_v.bias`, get(layerWeight(i, 'bv'))),
    );
  }
  return tensors;
}

/** The `<arch>.*` and tokenizer metadata llama.cpp reads, then `opts.metadata`. */
function modelMetadata(c: ModelConfig, arch: 'llama' | 'qwen2', vocab: NonNullable<GgufModelOptions['vocab']>, opts: GgufModelOptions): GgufMetadataEntry[] {
  const metadata: GgufMetadataEntry[] = [
    ['general.architecture', 'string', arch],
    ['general.name', 'string', c.name],
    ['general.description', 'string', opts.description ?? 'Random-weight model written by KV Lab for tests and benchmarks.'],
    [`${arch}.context_length`, 'uint32', c.contextLength],
    [`${arch}.embedding_length`, 'uint32', c.hiddenSize],
    [`${arch}.feed_forward_length`, 'uint32', c.intermediateSize],
    [`${arch}.block_count`, 'uint32', c.numLayers],
    [`${arch}.attention.head_count`, 'uint32', c.numHeads],
    [`${arch}.attention.head_count_kv`, 'uint32', c.numKvHeads],
    [`${arch}.attention.key_length`, 'uint32', c.headDim],
    [`${arch}.attention.value_length`, 'uint32', c.headDim],
    [`${arch}.rope.dimension_count`, 'uint32', c.headDim],
    [`${arch}.rope.freq_base`, 'float32', c.ropeTheta],
    [`${arch}.attention.layer_norm_rms_epsilon`, 'float32', c.rmsNormEps],
    ['tokenizer.ggml.model', 'string', 'llama'],
    ['tokenizer.ggml.tokens', 'string[]', [...vocab.tokens]],
    ['tokenizer.ggml.scores', 'float32[]', [...vocab.scores]],
    ['tokenizer.ggml.token_type', 'int32[]', [...vocab.types]],
    ['tokenizer.ggml.bos_token_id', 'uint32', 1],
    ['tokenizer.ggml.eos_token_id', 'uint32', 2],
    ['tokenizer.ggml.unknown_token_id', 'uint32', 0],
  ];
  if (c.ropeScaling?.type === 'linear')
    metadata.push([`${arch}.rope.scaling.type`, 'string', 'linear'], [`${arch}.rope.scaling.factor`, 'float32', c.ropeScaling.factor]);
  metadata.push(...(opts.metadata ?? []));
  return metadata;
}

export function writeGgufModel(path: string, model: Model, opts: GgufModelOptions = {}): void {
  const c = model.config;
  if (c.ropeScaling?.type === 'llama3') throw new ModelFileError(path, 'writing Llama 3 RoPE scaling (rope_freqs) is not implemented', 'E_MODEL_UNSUPPORTED');
  const arch = c.architecture === 'qwen2' ? 'qwen2' : 'llama';
  const m = tensorMaker(path, model, opts, arch);
  const { hiddenSize: D, vocabSize: V } = c;
  const tensors: GgufWriteTensor[] = [m.mat('token_embd.weight', V, D, m.get('embed'))];
  for (let i = 0; i < c.numLayers; i++) tensors.push(...layerTensors(m, c, i));
  tensors.push(m.vec('output_norm.weight', m.get('finalNorm')));
  if (!c.tiedEmbeddings) tensors.push(m.mat('output.weight', V, D, m.get('lmHead')));

  const vocab = opts.vocab ?? syntheticVocab(V);
  if (vocab.tokens.length !== V) throw new ModelFileError(path, `the vocabulary has ${vocab.tokens.length} tokens, the model ${V}`);
  writeGguf(path, { metadata: modelMetadata(c, arch, vocab, opts), tensors });
}

function badLayout(path: string): never {
  throw new ModelFileError(path, "a qwen2 model with 'interleaved' Q/K cannot be written as a llama.cpp GGUF", 'E_MODEL_UNSUPPORTED');
}
