/**
 * One entry point for every model KV Lab reads: `loadModel(path)` looks at
 * what `path` is and returns the engine's LoadedModel (model.ts):
 *
 *   - a GGUF file (magic "GGUF" or a .gguf name): formats/gguf-llama.ts, and the
 *     vocabulary in its metadata (SentencePiece or BPE: tokenizers/gguf-bpe.ts tokenizerFromGguf);
 *   - a llama2.c legacy checkpoint (.bin): formats/llama2c.ts, and its tokenizer
 *     next to it — `tok<vocab>.bin` (e.g. tok512.bin), else `tokenizer.bin` —
 *     or the one given in `opts.tokenizer`;
 *   - a Hugging Face folder (or its config.json / *.safetensors / index):
 *     formats/hf.ts, and tokenizer.json through tokenizers/hf.ts.
 *
 * `inspectModel(path)` reads only headers (GGUF header and tensor table, the
 * 28-byte llama2.c header, config.json + safetensors headers) and says what
 * loading will cost; `checkFits` refuses a model that will not fit
 * (E_MODEL_TOO_LARGE) before anything big is allocated. loadModel runs both
 * first. Loading reads no weights: the model's tensors read themselves on
 * demand (model.ts lazyTensor), and the engine's graph builder converts them
 * one at a time into onnxruntime's data file, in the form the graph keeps them
 * (graph/nbits.ts: quantised GGUF blocks as they are stored; float-stored
 * matrices as float32 or requantised to 8-/4-bit blocks, `floatWeights`).
 *
 * Memory estimate (`estimateLoadBytes`):
 *   graph      the weights in the graph's form (nbitsBytes per quantised matrix, 4 B per
 *              float32 value, 36/32 B per value requantised to 8 bits, 20/32 B to 4 bits),
 *              which onnxruntime holds once the session exists (it repacks quantised
 *              blocks for its kernels and frees what it read)
 * + build    transient, the first time a model's graph is built: the largest tensor,
 *              dequantised and converted (4 × its float32 size)
 * + 192 MiB  Node, onnxruntime, the graph protobuf and the tokenizer
 * The KV cache comes on top: kvBytesPerToken × tokens held (ModelInfo gives it
 * for a float32 and a float16 cache).
 *
 * Graph cache identity (`identity`): the files' sizes and mtimes and a hash of
 * their headers and tensor tables, so a cached graph opens without reading or
 * hashing any weight. */

import type { ModelFacts } from '@kvlab/core';
import { formatBytesFixed, recogniseModelFile, unreadableModelMessage } from '@kvlab/core';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ggufModelConfig, loadGgufWeights } from './formats/gguf-llama.ts';
import { readGgufHeader, type GgufFile } from './formats/gguf.ts';
import { loadHfWeights, readHfModelHeader, type HfModelHeader } from './formats/hf.ts';
import { loadLlama2c, readLlama2cHeader, type Llama2cHeader } from './formats/llama2c.ts';
import { isNBitsType, nbitsBytes } from './graph/nbits.ts';
import {
  FLOAT_WEIGHT_FORMS,
  layerWeight,
  ModelFileError,
  type Architecture,
  type FloatWeightForm,
  type LoadedModel,
  type ModelConfig,
  type ModelFormat,
  type Tokenizer,
  type WeightTensor,
} from './model.ts';
import { loadHfTokenizer } from './tokenizers/hf.ts';
import { loadLlama2cTokenizer } from './tokenizers/llama2c.ts';
import { tokenizerFromGguf } from './tokenizers/gguf-bpe.ts';

export interface LoadOptions {
  /**
   * The tokenizer to use instead of the model's own: for a llama2.c .bin, the
   * tokenizer .bin; for a GGUF or HF folder, a tokenizer.json or a folder holding one.
   */
  readonly tokenizer?: string;
  /** Bytes of memory the load may use; default `availableMemory()`. Infinity skips the check. */
  readonly availableBytes?: number;
  /**
   * How matrices stored as floats (F32/F16/BF16) are held: 'f32' (exact), 'q8' or
   * 'q4' (requantised to blocks at load), or 'auto' (default): the first of
   * f32, q8, q4 whose estimate fits in the available memory.
   */
  readonly floatWeights?: FloatWeightForm | 'auto';
}

/** A model file inspected: the facts the model card shows (core's `ModelFacts`, documented there), and how it was read. */
export interface ModelInfo extends ModelFacts {
  /** The file or folder inspected. */
  readonly path: string;
  readonly format: ModelFormat;
  readonly architecture: Architecture;
  readonly name: string;
  readonly config: ModelConfig;
  /** The parts of `estimatedLoadBytes` with float-stored matrices held as float32 (see the module comment). */
  readonly estimate: LoadEstimate;
  /** Identity of the file(s) for the graph cache (module comment). */
  readonly identity: string;
}

/** Parts of a load estimate (module comment). */
export interface LoadEstimate {
  readonly graph: number;
  readonly build: number;
  readonly overhead: number;
}

const MiB = 1 << 20;
const RUNTIME_OVERHEAD = 192 * MiB;

/** Parameters of the canonical weights `config` implies (what checkWeights requires). */
export function countParameters(c: ModelConfig): number {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numHeads: Hq, numKvHeads: Hkv, headDim: d } = c;
  const perLayer = 2 * D + 2 * Hq * d * D + 2 * Hkv * d * D + 3 * F * D + (c.qkvBias ? (Hq + 2 * Hkv) * d : 0);
  return V * D * (c.tiedEmbeddings ? 1 : 2) + c.numLayers * perLayer + D;
}

/** KV-cache bytes per token for an element size (4: float32, 2: float16). */
export const kvBytesPerToken = (c: ModelConfig, bytesPerElement: number): number => 2 * c.numLayers * c.numKvHeads * c.headDim * bytesPerElement;

/** A tensor as the estimate sees it: canonical name, row-major dims, stored type. */
export interface TensorShapeInfo {
  readonly canon: string;
  readonly dims: readonly number[];
  readonly type: string;
}

/**
 * The memory estimate (module comment) for a model's tensors, with
 * float-stored matrices held as `form`. Norm and bias vectors stay float32.
 */
export function estimateLoadBytes(tensors: readonly TensorShapeInfo[], form: FloatWeightForm): LoadEstimate & { readonly total: number } {
  let graph = 0;
  let largest = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    largest = Math.max(largest, n);
    const K = t.dims[t.dims.length - 1] ?? 1;
    const N = n / K;
    if (t.dims.length !== 2) graph += 4 * n;
    else if (isNBitsType(t.type)) graph += nbitsBytes(t.type, N, K);
    else if (form !== 'f32' && K % 32 === 0) graph += form === 'q8' ? nbitsBytes('Q8_0', N, K) : nbitsBytes('Q4_0', N, K);
    else graph += 4 * n;
  }
  const build = 4 * 4 * largest;
  return { graph, build, overhead: RUNTIME_OVERHEAD, total: graph + build + RUNTIME_OVERHEAD };
}

/** Whether any matrix is stored as floats (so how they are held is a choice). */
const hasFloatMatrices = (tensors: readonly TensorShapeInfo[]): boolean => tensors.some((t) => t.dims.length === 2 && !isNBitsType(t.type));

/**
 * Memory this process can still use: Node's `process.availableMemory()`
 * (free memory, bounded by a cgroup limit). macOS counts reclaimable file
 * cache as used, so there up to 3/4 of physical memory is assumed usable.
 */
export function availableMemory(): number {
  const avail = typeof process.availableMemory === 'function' ? process.availableMemory() : freemem();
  return process.platform === 'darwin' ? Math.max(avail, 0.75 * totalmem()) : avail;
}

/**
 * How float-stored matrices will be held: the asked form, or for 'auto' the
 * first of f32, q8, q4 that fits in `availableBytes`. Throws ModelFileError
 * E_MODEL_TOO_LARGE, with the estimate of every form, when it will not fit.
 */
export function chooseFloatWeights(info: ModelInfo, asked: FloatWeightForm | 'auto' = 'auto', availableBytes: number = availableMemory()): FloatWeightForm {
  const by = info.floatWeightEstimates;
  const need = (f: FloatWeightForm): number => by?.[f] ?? info.estimatedLoadBytes;
  const form = asked !== 'auto' ? asked : by ? (FLOAT_WEIGHT_FORMS.find((f) => need(f) <= availableBytes) ?? 'q4') : 'f32';
  if (need(form) <= availableBytes) return form;
  const kv = `; the KV cache needs ${formatBytesFixed(info.kvBytesPerToken.f32)} per token on top`;
  const options = by
    ? `; with its float weights as float32: ${formatBytesFixed(by.f32)}, as 8-bit blocks: ${formatBytesFixed(by.q8)}, as 4-bit blocks: ${formatBytesFixed(by.q4)}`
    : '';
  throw new ModelFileError(
    info.path,
    `needs about ${formatBytesFixed(need(form))} of memory to load (${info.parameters.toLocaleString('en-US')} parameters${options}), but only ${formatBytesFixed(availableBytes)} is available${kv}`,
    'E_MODEL_TOO_LARGE',
  );
}

/** Throws ModelFileError E_MODEL_TOO_LARGE, with the estimate, when the model will not fit in `availableBytes` in any form. */
export function checkFits(info: ModelInfo, availableBytes: number = availableMemory()): void {
  chooseFloatWeights(info, 'auto', availableBytes);
}

/**
 * Identity of model files for the graph cache: each file's size and mtime and
 * a hash of its first `headerBytes` bytes (header and tensor table); no weight is read.
 */
export function fileIdentity(files: readonly { readonly path: string; readonly headerBytes: number }[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    const st = statSync(f.path);
    h.update(`${f.path}\0${st.size}\0${st.mtimeMs}\0`);
    const n = Math.min(f.headerBytes, st.size);
    const buf = Buffer.alloc(n);
    const fd = openSync(f.path, 'r');
    try {
      let done = 0;
      while (done < n) {
        const r = readSync(fd, buf, done, n - done, done);
        if (r <= 0) break;
        done += r;
      }
    } finally {
      closeSync(fd);
    }
    h.update(buf);
  }
  return h.digest('hex');
}

// ---------------------------------------------------------------- format detection

type Detected = { format: 'gguf'; path: string } | { format: 'llama2c'; path: string } | { format: 'hf'; path: string; dir: string };

function detect(path: string): Detected {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new ModelFileError(path, 'not found');
  }
  if (isDir) return { format: 'hf', path, dir: path };
  const format = recogniseModelFile(basename(path), () => readMagic(path));
  if (format === 'hf') return { format, path, dir: dirname(path) };
  if (format) return { format, path };
  throw new ModelFileError(path, unreadableModelMessage(), 'E_MODEL_UNSUPPORTED');
}

/** The first four bytes of a file, as Latin-1 text ('' when shorter). */
function readMagic(path: string): string {
  const magic = Buffer.alloc(4);
  try {
    const fd = openSync(path, 'r');
    try {
      return readSync(fd, magic, 0, 4, 0) === 4 ? magic.toString('latin1') : '';
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new ModelFileError(path, `cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

interface Inspected {
  readonly info: ModelInfo;
  readonly gguf?: GgufFile;
  readonly llama2c?: Llama2cHeader;
  readonly hf?: HfModelHeader;
}

/** What inspecting a model file found, before it is summed up as a ModelInfo. */
interface InspectedModel {
  readonly path: string;
  readonly format: ModelFormat;
  readonly config: ModelConfig;
  readonly tensors: readonly TensorShapeInfo[];
  readonly fileBytes: number;
  readonly identity: string;
  /** Elements stored per type, when they are not the tensors' own (a llama2.c file's unused tables). */
  readonly stored?: Record<string, number>;
}

function makeInfo(m: InspectedModel): ModelInfo {
  const { path, format, config, tensors, fileBytes, identity, stored } = m;
  const parameters = countParameters(config);
  const storedTypes: Record<string, number> = stored ?? {};
  if (!stored) for (const t of tensors) storedTypes[t.type] = (storedTypes[t.type] ?? 0) + t.dims.reduce((a, b) => a * b, 1);
  const { total, ...estimate } = estimateLoadBytes(tensors, 'f32');
  const floatWeightEstimates = hasFloatMatrices(tensors)
    ? Object.freeze(Object.fromEntries(FLOAT_WEIGHT_FORMS.map((f) => [f, estimateLoadBytes(tensors, f).total])) as Record<FloatWeightForm, number>)
    : undefined;
  return Object.freeze({
    path,
    format,
    architecture: config.architecture,
    name: config.name,
    config,
    parameters,
    layers: config.numLayers,
    heads: config.numHeads,
    kvHeads: config.numKvHeads,
    headDim: config.headDim,
    contextLength: config.contextLength,
    kvBytesPerToken: { f32: kvBytesPerToken(config, 4), f16: kvBytesPerToken(config, 2) },
    storedTypes: Object.freeze(storedTypes),
    fileBytes,
    estimatedLoadBytes: total,
    estimate,
    identity,
    ...(floatWeightEstimates ? { floatWeightEstimates } : {}),
  });
}

/** The canonical matrices and vectors of a llama2.c checkpoint (all float32), for the estimate. */
function llama2cTensors(c: ModelConfig): TensorShapeInfo[] {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numHeads: Hq, numKvHeads: Hkv, headDim: d } = c;
  const t: TensorShapeInfo[] = [{ canon: 'embed', dims: [V, D], type: 'F32' }];
  for (let i = 0; i < c.numLayers; i++) {
    const m = (n: Parameters<typeof layerWeight>[1], dims: number[]) => t.push({ canon: layerWeight(i, n), dims, type: 'F32' });
    m('attnNorm', [D]);
    m('wq', [Hq * d, D]);
    m('wk', [Hkv * d, D]);
    m('wv', [Hkv * d, D]);
    m('wo', [D, Hq * d]);
    m('ffnNorm', [D]);
    m('wGate', [F, D]);
    m('wDown', [D, F]);
    m('wUp', [F, D]);
  }
  t.push({ canon: 'finalNorm', dims: [D], type: 'F32' });
  if (!c.tiedEmbeddings) t.push({ canon: 'lmHead', dims: [V, D], type: 'F32' });
  return t;
}

function inspect(path: string): Inspected {
  const d = detect(path);
  if (d.format === 'gguf') {
    const file = readGgufHeader(path);
    const config = ggufModelConfig(file);
    const tensors = file.tensors.map((t) => ({ canon: t.name, dims: [...t.dims].reverse(), type: t.typeName }));
    const identity = fileIdentity([{ path, headerBytes: file.dataOffset }]);
    return { info: makeInfo({ path, format: 'gguf', config, tensors, fileBytes: file.fileSize, identity }), gguf: file };
  }
  if (d.format === 'llama2c') {
    const { header, config, fileSize } = readLlama2cHeader(path);
    const identity = fileIdentity([{ path, headerBytes: 28 }]);
    // Every float of the file counts as stored, the unused RoPE tables included.
    return {
      info: makeInfo({ path, format: 'llama2c', config, tensors: llama2cTensors(config), fileBytes: fileSize, identity, stored: { F32: (fileSize - 28) / 4 } }),
      llama2c: header,
    };
  }
  const hf = readHfModelHeader(d.dir);
  const tensors = [...hf.safetensors.tensors.values()].map((t) => ({ canon: t.name, dims: t.dims, type: t.dtype }));
  const identity = fileIdentity([
    { path: join(d.dir, 'config.json'), headerBytes: 1 << 20 },
    ...hf.safetensors.files.map((f) => ({ path: f.path, headerBytes: f.dataOffset })),
  ]);
  return { info: makeInfo({ path: d.dir, format: 'hf', config: hf.config, tensors, fileBytes: hf.safetensors.totalBytes, identity }), hf };
}

/** What a model is and what loading it will cost, from its headers only. */
export function inspectModel(path: string): ModelInfo {
  return inspect(path).info;
}

// ---------------------------------------------------------------- loading

/** Flat, showable GGUF metadata: every scalar (non-array) entry. */
function ggufMetadata(file: GgufFile): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of file.metadata) {
    if (typeof v === 'bigint') out[k] = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    else if (!Array.isArray(v)) out[k] = v;
  }
  return out;
}

/** An HF tokenizer from a tokenizer.json or a folder holding one. */
function hfTokenizerAt(path: string): Tokenizer {
  let dir = path;
  try {
    if (!statSync(path).isDirectory()) dir = dirname(path);
  } catch {
    throw new ModelFileError(path, 'tokenizer not found');
  }
  return loadHfTokenizer(dir);
}

/** The llama2.c tokenizer next to `modelPath`: tok<vocab>.bin, else tokenizer.bin. */
export function findLlama2cTokenizer(modelPath: string, vocabSize: number): string {
  const dir = dirname(modelPath);
  const candidates = [`tok${vocabSize}.bin`, 'tokenizer.bin'].map((f) => join(dir, f));
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new ModelFileError(
    candidates[0] ?? dir,
    `missing: the llama2.c model ${basename(modelPath)} (vocab ${vocabSize}) needs its tokenizer here or at ${candidates[1] ?? 'tokenizer.bin'}; or pass the tokenizer path explicitly`,
  );
}

function checkVocab(path: string, tokenizer: Tokenizer, config: ModelConfig): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ModelFileError(path, `the tokenizer has ${tokenizer.vocabSize} tokens but the model's embedding only ${config.vocabSize} rows`);
  }
}

/**
 * How a loaded model's weights are held, for provenance and the CLI: the
 * stored types (elements per type) and the form float-stored matrices take,
 * e.g. "Q4_K 3.2G + Q6_K 0.8G + F32 0.3M as stored; float matrices as f32".
 */
export function describeWeights(model: LoadedModel): string {
  const byType = new Map<string, number>();
  for (const w of model.weights.values()) {
    const type = w.stored?.type ?? 'F32';
    byType.set(type, (byType.get(type) ?? 0) + w.dims.reduce((a, b) => a * b, 1));
  }
  const count = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(1)}K`);
  const types = [...byType.entries()].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${count(n)}`);
  return `${types.join(' + ')} as stored; float matrices as ${model.floatWeights ?? 'f32'}`;
}

/**
 * Whether the graph of `model` holds weight blocks (quantised GGUF matrices,
 * or float matrices requantised at load), which by default multiply
 * activations quantised to int8 (EngineOptions.exactMatmul).
 */
export function hasBlockWeights(model: LoadedModel): boolean {
  for (const w of model.weights.values()) {
    if (w.dims.length !== 2) continue;
    const t = w.stored?.type;
    if (t !== undefined && isNBitsType(t)) return true;
    if (model.floatWeights !== undefined && model.floatWeights !== 'f32' && (w.dims[1] ?? 0) % 32 === 0) return true;
  }
  return false;
}

/** loadModel without the Promise. */
export function loadModelSync(path: string, opts: LoadOptions = {}): LoadedModel {
  const { info, gguf, hf, llama2c } = inspect(path);
  const floatWeights = chooseFloatWeights(info, opts.floatWeights ?? 'auto', opts.availableBytes ?? availableMemory());
  const config = info.config;
  let weights: Map<string, WeightTensor>;
  let tokenizer: Tokenizer;
  let metadata: Record<string, string | number | boolean>;
  if (gguf) {
    weights = loadGgufWeights(gguf, config);
    tokenizer = opts.tokenizer !== undefined ? hfTokenizerAt(opts.tokenizer) : tokenizerFromGguf(gguf.metadata, path);
    metadata = ggufMetadata(gguf);
  } else if (hf) {
    tokenizer = hfTokenizerAt(opts.tokenizer ?? hf.dir); // before the weights: a missing tokenizer.json fails fast
    weights = loadHfWeights(hf);
    metadata = { ...hf.metadata };
  } else {
    const tokPath = opts.tokenizer ?? findLlama2cTokenizer(path, config.vocabSize);
    tokenizer = loadLlama2cTokenizer(tokPath, config.vocabSize);
    const loaded = loadLlama2c(path);
    weights = loaded.weights;
    const h = llama2c;
    metadata = h
      ? {
          dim: h.dim,
          hidden_dim: h.hiddenDim,
          n_layers: h.nLayers,
          n_heads: h.nHeads,
          n_kv_heads: h.nKvHeads,
          vocab_size: h.vocabSize,
          seq_len: h.seqLen,
          tokenizer: tokPath,
        }
      : { tokenizer: tokPath };
  }
  checkVocab(info.path, tokenizer, config);
  return Object.freeze({
    path: info.path,
    format: info.format,
    config,
    weights,
    tokenizer,
    metadata: Object.freeze(metadata),
    identity: info.identity,
    floatWeights,
  });
}

/**
 * Loads a GGUF file, a llama2.c .bin or a Hugging Face folder (see the module
 * comment), after checking that it fits in memory. Every problem with the
 * files is a ModelFileError naming the file.
 */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  return loadModelSync(path, opts);
}
