/**
 * Hugging Face model folders → the engine's model (model.ts): `config.json`
 * for the config, `model.safetensors` or sharded `model-0000i-of-0000n.safetensors`
 * + `model.safetensors.index.json` for the weights (F32/F16/BF16 → float32).
 * The tokenizer (tokenizer.json) is loaded by tokenizers/hf.ts; see load.ts.
 *
 * config.json (transformers' LlamaConfig / MistralConfig / Qwen2Config):
 *   model_type llama | mistral | qwen2 (anything else: E_MODEL_UNSUPPORTED, listing what is supported)
 *   hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size   required
 *   num_key_value_heads      default num_attention_heads
 *   head_dim                 default hidden_size / num_attention_heads (null counts as absent)
 *   rms_norm_eps             default 1e-6 (transformers' default for all three)
 *   rope_theta               default 10000; transformers ≥ 5 `rope_parameters` { rope_theta, rope_type, … } also read
 *   rope_scaling             null / rope_type (or legacy `type`) 'default' → none; 'llama3' (factor, low_freq_factor,
 *                            high_freq_factor, original_max_position_embeddings); 'linear' (factor; 1 → none); others refused
 *   max_position_embeddings  → contextLength; default as transformers (llama 2048, mistral 131072, qwen2 32768).
 *                            Capped at `sliding_window` when the model uses one (Mistral 7B v0.1: 4096; Qwen2 with
 *                            use_sliding_window): KV Lab runs full attention, which equals sliding-window attention
 *                            only up to the window.
 *   tie_word_embeddings      true → tied (an lm_head.weight in the file is ignored, as transformers ties it);
 *                            false → lm_head.weight required; absent → tied exactly when lm_head.weight is absent
 *   qkvBias                  qwen2 → true; llama → attention_bias (an o_proj.bias, which llama adds with it, is refused);
 *                            mistral → false
 *   hidden_act must be silu; llama's mlp_bias and partial_rotary_factor ≠ 1 are refused.
 * RoPE layout is always 'halves' (rotate-half): HF checkpoints are not permuted.
 *
 * Weight names (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM):
 *   model.embed_tokens.weight → embed · model.norm.weight → finalNorm · lm_head.weight → lmHead
 *   model.layers.N.input_layernorm.weight → attnNorm · post_attention_layernorm.weight → ffnNorm
 *   model.layers.N.self_attn.{q,k,v,o}_proj.weight → wq/wk/wv/wo · {q,k,v}_proj.bias → bq/bk/bv
 *   model.layers.N.mlp.{gate,up,down}_proj.weight → wGate/wUp/wDown
 *   model.layers.N.self_attn.rotary_emb.inv_freq (old checkpoints) is skipped; any other tensor is refused.
 *
 * `writeHfFolder` writes a model back in this form (tests: the same random
 * model as an HF folder and as a GGUF must give the same logits).
 */

import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
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
  type Weights,
} from '../model.ts';
import { assertFinite } from './gguf-llama.ts';
import {
  openSafetensorsModel,
  READABLE_DTYPES,
  readSafetensorsBytes,
  readSafetensorsData,
  writeShardedSafetensors,
  type SafetensorsFloatDtype,
  type SafetensorsModel,
  type SafetensorsWriteTensor,
} from './safetensors.ts';

export const CONFIG_FILE = 'config.json';

const ARCHITECTURES: Readonly<Record<string, Architecture>> = { llama: 'llama', mistral: 'mistral', qwen2: 'qwen2' };
const CAUSAL_LM: Readonly<Record<Architecture, string>> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };
/** transformers' max_position_embeddings defaults. */
const DEFAULT_CONTEXT: Readonly<Record<Architecture, number>> = { llama: 2048, mistral: 4096 * 32, qwen2: 32768 };

type LayerKind = Parameters<typeof layerWeight>[1];
const LAYER_TENSORS: Readonly<Record<string, LayerKind>> = {
  'input_layernorm.weight': 'attnNorm',
  'self_attn.q_proj.weight': 'wq',
  'self_attn.k_proj.weight': 'wk',
  'self_attn.v_proj.weight': 'wv',
  'self_attn.q_proj.bias': 'bq',
  'self_attn.k_proj.bias': 'bk',
  'self_attn.v_proj.bias': 'bv',
  'self_attn.o_proj.weight': 'wo',
  'post_attention_layernorm.weight': 'ffnNorm',
  'mlp.gate_proj.weight': 'wGate',
  'mlp.up_proj.weight': 'wUp',
  'mlp.down_proj.weight': 'wDown',
};
const GLOBAL_TENSORS: Readonly<Record<string, string>> = { 'model.embed_tokens.weight': 'embed', 'model.norm.weight': 'finalNorm', 'lm_head.weight': 'lmHead' };
const SKIPPED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;
const LM_HEAD = 'lm_head.weight';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'missing' : (JSON.stringify(v) ?? String(v)));

/** Canonical name of an HF tensor; null for tensors that are skipped; undefined if unknown. */
export function hfCanonicalName(name: string): { canon: string; layer?: number } | null | undefined {
  const g = GLOBAL_TENSORS[name];
  if (g) return { canon: g };
  if (SKIPPED.test(name)) return null;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  const kind = m ? LAYER_TENSORS[m[2] ?? ''] : undefined;
  if (!m || !kind) return undefined;
  const layer = Number(m[1]);
  return { canon: layerWeight(layer, kind), layer };
}

/** Flat metadata worth showing: config.json's scalar fields, `architectures` joined. */
function configMetadata(json: Json): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(json)) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
  }
  const arch = json['architectures'];
  if (Array.isArray(arch) && arch.every((a) => typeof a === 'string')) out['architectures'] = arch.join(', ');
  return out;
}

type FailCode = 'E_MODEL_FILE' | 'E_MODEL_UNSUPPORTED';

/** Typed reads of config.json's fields, failing with a ModelFileError that names the file and the field. */
interface ConfigReader {
  readonly c: Json;
  readonly fail: (problem: string, code?: FailCode) => never;
  /** Whether field `k` is set (not undefined or null). */
  readonly present: (k: string) => boolean;
  /** A positive integer field, or `fallback` when it is not set. */
  readonly int: (k: string, fallback?: number) => number;
  /** A finite number field `k` of `obj` (named `where` + k), or `fallback` when it is missing. */
  readonly num: (obj: Json, k: string, where: string, fallback?: number) => number;
}

function configReader(c: Json, file: string): ConfigReader {
  const fail = (problem: string, code: FailCode = 'E_MODEL_FILE'): never => {
    throw new ModelFileError(file, problem, code);
  };
  const present = (k: string): boolean => c[k] !== undefined && c[k] !== null;
  const int = (k: string, fallback?: number): number => {
    const v = present(k) ? c[k] : fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return fail(`'${k}' is ${show(c[k])}, expected a positive integer`);
    return v;
  };
  const num = (obj: Json, k: string, where: string, fallback?: number): number => {
    const v = obj[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(`'${where}${k}' is ${show(obj[k])}, expected a number`);
    return v;
  };
  return { c, fail, present, int, num };
}

/** Refuses what the graph does not implement: another activation, MLP biases, partial RoPE. */
function checkSupported({ c, fail }: ConfigReader): void {
  const act = c['hidden_act'] ?? c['hidden_activation'];
  if (act !== undefined && act !== 'silu' && act !== 'swish')
    fail(`hidden_act ${show(act)} is not supported (KV Lab implements SwiGLU with silu)`, 'E_MODEL_UNSUPPORTED');
  if (c['mlp_bias'] === true) fail('mlp_bias: true (biases on the MLP projections) is not supported', 'E_MODEL_UNSUPPORTED');
  const partial = c['partial_rotary_factor'];
  if (partial !== undefined && partial !== null && partial !== 1)
    fail(`partial_rotary_factor ${show(partial)} (partial RoPE) is not supported`, 'E_MODEL_UNSUPPORTED');
}

type ModelShape = Pick<ModelConfig, 'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'>;

function modelShape({ fail, present, int }: ConfigReader): ModelShape {
  const hiddenSize = int('hidden_size');
  const intermediateSize = int('intermediate_size');
  const numLayers = int('num_hidden_layers');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const vocabSize = int('vocab_size');
  if (numHeads % numKvHeads !== 0) fail(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (!present('head_dim') && hiddenSize % numHeads !== 0)
    fail(`hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads} (and there is no head_dim)`);
  const headDim = int('head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) fail(`head size ${headDim} is odd, so RoPE pairs cannot be formed`);
  return { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim };
}

/** RoPE: rope_theta + rope_scaling (transformers ≤ 4), or rope_parameters (transformers 5). */
function ropeOf(r: ConfigReader): { ropeTheta: number; ropeScaling: RopeScaling | undefined } {
  const { c, fail, num } = r;
  const params = isObject(c['rope_parameters']) ? c['rope_parameters'] : undefined;
  const ropeTheta = params && params['rope_theta'] !== undefined ? num(params, 'rope_theta', 'rope_parameters.') : num(c, 'rope_theta', '', 10000);
  if (!(ropeTheta > 1)) fail(`'rope_theta' is ${ropeTheta}, expected a number > 1`);
  const scalingRaw = c['rope_scaling'] ?? params;
  if (scalingRaw === undefined || scalingRaw === null) return { ropeTheta, ropeScaling: undefined };
  if (!isObject(scalingRaw)) return fail(`'rope_scaling' is ${show(scalingRaw)}, expected an object or null`);
  const where = c['rope_scaling'] !== undefined && c['rope_scaling'] !== null ? 'rope_scaling.' : 'rope_parameters.';
  return { ropeTheta, ropeScaling: ropeScalingOf(r, scalingRaw, where) };
}

/** The scaling object `s` (named `where`): llama3, linear (none at factor 1) or default (none). */
function ropeScalingOf({ fail, num }: ConfigReader, s: Json, where: string): RopeScaling | undefined {
  const type = s['rope_type'] ?? s['type'] ?? 'default';
  const positive = (k: string): number => {
    const v = num(s, k, where);
    if (!(v > 0)) fail(`'${where}${k}' is ${v}, expected a positive number`);
    return v;
  };
  if (type === 'llama3') {
    const r = {
      type: 'llama3' as const,
      factor: positive('factor'),
      lowFreqFactor: positive('low_freq_factor'),
      highFreqFactor: positive('high_freq_factor'),
      originalMaxPositionEmbeddings: positive('original_max_position_embeddings'),
    };
    if (!(r.highFreqFactor > r.lowFreqFactor)) fail(`'${where}high_freq_factor' ${r.highFreqFactor} must exceed low_freq_factor ${r.lowFreqFactor}`);
    return r;
  }
  if (type === 'linear') {
    const factor = positive('factor');
    return factor !== 1 ? { type: 'linear', factor } : undefined;
  }
  if (type !== 'default') fail(`RoPE scaling ${show(type)} is not supported (KV Lab supports linear and llama3)`, 'E_MODEL_UNSUPPORTED');
  return undefined;
}

/** max_position_embeddings, capped by the sliding window where the architecture uses one. */
function contextLengthOf({ c, fail, int }: ConfigReader, architecture: Architecture): number {
  const contextLength = int('max_position_embeddings', DEFAULT_CONTEXT[architecture]);
  const window = c['sliding_window'];
  const usesWindow = architecture === 'mistral' || (architecture === 'qwen2' && c['use_sliding_window'] === true);
  if (!usesWindow || window === undefined || window === null) return contextLength;
  if (typeof window !== 'number' || !Number.isSafeInteger(window) || window <= 0)
    fail(`'sliding_window' is ${show(window)}, expected a positive integer or null`);
  return Math.min(contextLength, window as number);
}

/** tie_word_embeddings, else tied exactly when the weights hold no lm_head. */
function tiedEmbeddingsOf({ c, fail }: ConfigReader, hasLmHead: boolean): boolean {
  const tie = c['tie_word_embeddings'];
  if (tie !== undefined && tie !== null && typeof tie !== 'boolean') fail(`'tie_word_embeddings' is ${show(tie)}, expected a boolean`);
  if (tie === false && !hasLmHead) fail(`tie_word_embeddings is false but the weights have no '${LM_HEAD}'`);
  return typeof tie === 'boolean' ? tie : !hasLmHead;
}

/** Q/K/V biases: always for Qwen2, attention_bias for Llama, never for Mistral. */
function qkvBiasOf({ c, fail }: ConfigReader, architecture: Architecture): boolean {
  const attnBias = c['attention_bias'];
  if (attnBias !== undefined && attnBias !== null && typeof attnBias !== 'boolean') fail(`'attention_bias' is ${show(attnBias)}, expected a boolean`);
  return architecture === 'qwen2' ? true : architecture === 'llama' ? attnBias === true : false;
}

/**
 * ModelConfig from the parsed contents of config.json. `file` names it in
 * errors; `name` is the model's display name; `hasLmHead` says whether the
 * weights hold lm_head.weight (decides tying when the config does not say).
 */
export function hfModelConfig(json: unknown, file: string, name: string, hasLmHead: boolean): ModelConfig {
  if (!isObject(json)) throw new ModelFileError(file, 'is not a JSON object', 'E_MODEL_FILE');
  const r = configReader(json, file);
  const modelType = json['model_type'];
  const architecture = typeof modelType === 'string' ? ARCHITECTURES[modelType] : undefined;
  if (!architecture) {
    return r.fail(`model_type ${show(modelType)} is not supported; KV Lab supports: ${SUPPORTED_ARCHITECTURES.join(', ')}`, 'E_MODEL_UNSUPPORTED');
  }
  checkSupported(r);
  const shape = modelShape(r);
  const rmsNormEps = r.num(json, 'rms_norm_eps', '', 1e-6);
  if (!(rmsNormEps > 0 && rmsNormEps < 1)) r.fail(`'rms_norm_eps' is ${rmsNormEps}, expected a small positive number`);
  const { ropeTheta, ropeScaling } = ropeOf(r);
  const contextLength = contextLengthOf(r, architecture);
  const tiedEmbeddings = tiedEmbeddingsOf(r, hasLmHead);
  const qkvBias = qkvBiasOf(r, architecture);
  const { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim } = shape;
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
    rmsNormEps,
    ropeTheta,
    ...(ropeScaling ? { ropeScaling } : {}),
    ropeLayout: 'halves',
    contextLength,
    tiedEmbeddings,
    qkvBias,
  };
}

function readJsonFile(path: string, what: string): unknown {
  if (!existsSync(path)) throw new ModelFileError(path, `missing: ${what}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new ModelFileError(path, `cannot read as JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The display name: the last part of config.json's `_name_or_path` ("meta-llama/Llama-3.2-1B" → "Llama-3.2-1B"), else the folder's name. */
function modelName(json: unknown, dir: string): string {
  const p = isObject(json) ? json['_name_or_path'] : undefined;
  const last =
    typeof p === 'string'
      ? p
          .split(/[\\/]/)
          .filter((s) => s !== '' && s !== '.' && s !== '..')
          .pop()
      : undefined;
  return last ?? basename(resolve(dir));
}

export interface HfModelHeader {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
  /** Headers of the weight files (no tensor data read). */
  readonly safetensors: SafetensorsModel;
}

/**
 * Reads config.json and the safetensors headers of an HF folder (no weights):
 * the config, and a check that every tensor is one KV Lab knows, in a layer that exists.
 */
export function readHfModelHeader(dir: string): HfModelHeader {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ModelFileError(dir, 'not found');
  }
  if (!isDir) throw new ModelFileError(dir, 'is not a folder (a Hugging Face model is a folder with config.json and *.safetensors)');
  const configPath = join(dir, CONFIG_FILE);
  const json = readJsonFile(configPath, 'a Hugging Face model folder needs config.json');
  const safetensors = openSafetensorsModel(dir);
  const config = hfModelConfig(json, configPath, modelName(json, dir), safetensors.tensors.has(LM_HEAD));
  for (const [name, info] of safetensors.tensors) {
    const c = hfCanonicalName(name);
    if (c === undefined)
      throw new ModelFileError(
        info.file,
        `tensor '${name}' is not part of the ${config.architecture} architecture as KV Lab implements it`,
        'E_MODEL_UNSUPPORTED',
      );
    if (c?.layer !== undefined && c.layer >= config.numLayers)
      throw new ModelFileError(info.file, `tensor '${name}' belongs to layer ${c.layer}, but num_hidden_layers is ${config.numLayers}`);
    if (c && /^layers\.\d+\.b[qkv]$/.test(c.canon) && !config.qkvBias) {
      throw new ModelFileError(
        info.file,
        `tensor '${name}' is a q/k/v bias, but config.json says the model has none (model_type ${config.architecture}, attention_bias not true)`,
      );
    }
  }
  return Object.freeze({ dir, config, metadata: Object.freeze(configMetadata(json as Json)), safetensors });
}

/**
 * Every weight of an HF folder under its canonical name, checked against the
 * config; each reads its data (as float32) on access, so nothing is held here.
 */
export function loadHfWeights(header: HfModelHeader): Map<string, WeightTensor> {
  const { config, safetensors } = header;
  const weights = new Map<string, WeightTensor>();
  for (const [name, info] of safetensors.tensors) {
    const c = hfCanonicalName(name);
    if (!c) continue; // skipped (validated in readHfModelHeader)
    if (c.canon === 'lmHead' && config.tiedEmbeddings) continue; // transformers ties it to the embedding
    if (!(READABLE_DTYPES as readonly string[]).includes(info.dtype))
      throw new ModelFileError(
        info.file,
        `tensor '${name}' has dtype ${info.dtype}, which KV Lab cannot read; supported: ${READABLE_DTYPES.join(', ')}`,
        'E_MODEL_UNSUPPORTED',
      );
    const read = (): Float32Array => {
      const data = readSafetensorsData(info);
      assertFinite(info.file, name, data);
      return data;
    };
    weights.set(c.canon, lazyTensor([...info.dims], read, { type: info.dtype, bytes: () => readSafetensorsBytes(info) }));
  }
  checkWeights(safetensors.path, config, weights);
  return weights;
}

/** Config, weights and metadata of a Hugging Face model folder. */
export function loadHfModel(dir: string): {
  config: ModelConfig;
  weights: Map<string, WeightTensor>;
  metadata: Readonly<Record<string, string | number | boolean>>;
} {
  const header = readHfModelHeader(dir);
  return { config: header.config, weights: loadHfWeights(header), metadata: header.metadata };
}

// ---------------------------------------------------------------- writer (tests, benchmarks)

export interface WriteHfFolderOptions {
  /** Weight dtype, default 'F32'. */
  readonly dtype?: SafetensorsFloatDtype;
  /** 1 (default): model.safetensors; n > 1: n shards + model.safetensors.index.json. */
  readonly shards?: number;
  /**
   * A folder whose tokenizer.json (and tokenizer_config.json, if any) is
   * copied; false writes no tokenizer; default: a minimal tokenizer with
   * exactly the model's vocabulary size (see `minimalTokenizerJson`).
   */
  readonly tokenizer?: string | false;
}

/** The config.json transformers would write for `config` (KV Lab reads it back to the same ModelConfig). */
export function hfConfigJson(config: ModelConfig, dtype: SafetensorsFloatDtype = 'F32'): Json {
  if (config.ropeLayout !== 'halves')
    throw new RangeError(
      `writeHfFolder: HF checkpoints use rotate-half RoPE; convert the model's Q/K rows to 'halves' first (the model is '${config.ropeLayout}')`,
    );
  if (config.architecture === 'qwen2' && !config.qkvBias) throw new RangeError('writeHfFolder: a qwen2 model always has q/k/v biases');
  if (config.architecture === 'mistral' && config.qkvBias)
    throw new RangeError('writeHfFolder: mistral has no q/k/v biases; use llama (attention_bias) or qwen2');
  const s = config.ropeScaling;
  const ropeScaling =
    s === undefined
      ? null
      : s.type === 'linear'
        ? { rope_type: 'linear', factor: s.factor }
        : {
            rope_type: 'llama3',
            factor: s.factor,
            low_freq_factor: s.lowFreqFactor,
            high_freq_factor: s.highFreqFactor,
            original_max_position_embeddings: s.originalMaxPositionEmbeddings,
          };
  return {
    _name_or_path: config.name,
    architectures: [CAUSAL_LM[config.architecture]],
    model_type: config.architecture,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    max_position_embeddings: config.contextLength,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScaling,
    tie_word_embeddings: config.tiedEmbeddings,
    ...(config.architecture === 'llama' ? { attention_bias: config.qkvBias, mlp_bias: false } : {}),
    ...(config.architecture === 'mistral' ? { sliding_window: null } : {}),
    ...(config.architecture === 'qwen2' ? { use_sliding_window: false, sliding_window: null } : {}),
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
  };
}

/**
 * A tokenizer.json (BPE, no merges) with exactly `vocabSize` tokens: <unk>,
 * <s>, </s>, then printable ASCII characters, then `<extra_N>` fillers; and its
 * tokenizer_config.json (BOS <s> added, EOS </s>). Enough for loading and
 * round-tripping random-weight test models, not for real text.
 */
export function minimalTokenizerJson(vocabSize: number): { tokenizer: Json; tokenizerConfig: Json } {
  if (!Number.isInteger(vocabSize) || vocabSize < 3) throw new RangeError(`minimal tokenizer: vocab size ${vocabSize} < 3`);
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  let id = 3;
  const chars = ' etaoinshrdlucmfwypvbgkqjxz' + 'ETAOINSHRDLUCMFWYPVBGKQJXZ0123456789.,!?\'"-:;()\n';
  for (const ch of chars) if (id < vocabSize) vocab[ch] = id++;
  for (let c = 33; c < 127 && id < vocabSize; c++) if (vocab[String.fromCharCode(c)] === undefined) vocab[String.fromCharCode(c)] = id++;
  while (id < vocabSize) vocab[`<extra_${id}>`] = id++;
  const special = (content: string, i: number): Json => ({
    id: i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: [],
      },
    },
    tokenizerConfig: {
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
    },
  };
}

/** HF tensor name for a canonical weight name. */
function hfName(canon: string): string {
  for (const [hf, c] of Object.entries(GLOBAL_TENSORS)) if (c === canon) return hf;
  const m = /^layers\.(\d+)\.(.+)$/.exec(canon);
  const entry = m ? Object.entries(LAYER_TENSORS).find(([, k]) => k === m[2]) : undefined;
  if (!m || !entry) throw new RangeError(`writeHfFolder: no HF name for weight '${canon}'`);
  return `model.layers.${m[1]}.${entry[0]}`;
}

/**
 * Writes `model` as a Hugging Face folder: config.json, the weights in HF
 * naming (single file or `shards` files + index) and a tokenizer. The model
 * must be in 'halves' RoPE layout. Returns the files written.
 */
export function writeHfFolder(dir: string, model: { readonly config: ModelConfig; readonly weights: Weights }, opts: WriteHfFolderOptions = {}): string[] {
  const { config, weights } = model;
  const dtype = opts.dtype ?? 'F32';
  const configJson = hfConfigJson(config, dtype);
  checkWeights(dir, config, weights);
  mkdirSync(dir, { recursive: true });
  const order = ['embed'];
  for (let i = 0; i < config.numLayers; i++) {
    for (const k of ['attnNorm', 'wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'ffnNorm', 'wGate', 'wUp', 'wDown'] as const) order.push(layerWeight(i, k));
  }
  order.push('finalNorm', 'lmHead');
  const tensors: SafetensorsWriteTensor[] = [];
  for (const canon of order) {
    const w = weights.get(canon);
    if (!w || (canon === 'lmHead' && config.tiedEmbeddings) || (/\.b[qkv]$/.test(canon) && !config.qkvBias)) continue;
    tensors.push({ name: hfName(canon), dims: w.dims, dtype, data: w.data });
  }
  const files = writeShardedSafetensors(dir, tensors, opts.shards ?? 1);
  const configPath = join(dir, CONFIG_FILE);
  writeFileSync(configPath, JSON.stringify(configJson, null, 2) + '\n');
  files.push(configPath);
  if (opts.tokenizer === undefined) {
    const { tokenizer, tokenizerConfig } = minimalTokenizerJson(config.vocabSize);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
    files.push(join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'));
  } else if (opts.tokenizer !== false) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      const src = join(opts.tokenizer, f);
      if (f === 'tokenizer.json' || existsSync(src)) {
        copyFileSync(src, join(dir, f));
        files.push(join(dir, f));
      }
    }
  }
  return files;
}
