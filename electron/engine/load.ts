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
 * (E_MODEL_TOO_LARGE) before anything big is allocated. loadModel runs both first.
 *
 * Memory estimate (`estimateLoadBytes`), for P = parameters:
 *   4·P      the float32 weights the LoadedModel holds (every format is dequantised at load)
 * + 4·P      onnxruntime's own copy: the engine's decoder graph stores every weight as an
 *            initializer in external data, which the session loads
 * + 4·P      transient, the first time a model's graph is built: the graph and its
 *            external data being written, and onnxruntime reading them back
 * + 128 MiB  Node, onnxruntime and the graph protobuf
 * Measured on this project's Linux machine (Node 20, onnxruntime-node 1.30, BF16 HF
 * folders of random Llama-shaped models, loadModel + Engine.create, peak RSS):
 * P = 124.7M (476 MiB of float32): 1,377 MiB with the graph built, 1,097 MiB with it
 * cached, against an estimate of 1,555 MiB; P = 33.4M: 477 MiB after Engine.create
 * (build) against 510 MiB. A Node process with tsx and onnxruntime loaded starts at
 * about 104 MiB. The KV cache comes on top: kvBytesPerToken × tokens held (ModelInfo
 * gives it for a float32 and a float16 cache).
 */

import type { ModelFacts } from '@kvlab/core';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ggufModelConfig, loadGgufWeights } from './formats/gguf-llama.ts';
import { readGgufHeader, type GgufFile } from './formats/gguf.ts';
import { loadHfWeights, readHfModelHeader, type HfModelHeader } from './formats/hf.ts';
import { loadLlama2c, readLlama2cHeader, type Llama2cHeader } from './formats/llama2c.ts';
import { ModelFileError, type Architecture, type LoadedModel, type ModelConfig, type ModelFormat, type Tokenizer, type WeightTensor } from './model.ts';
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
}

/** A model file inspected: the facts the model card shows (core's `ModelFacts`, documented there), and how it was read. */
export interface ModelInfo extends ModelFacts {
  /** The file or folder inspected. */
  readonly path: string;
  readonly format: ModelFormat;
  readonly architecture: Architecture;
  readonly name: string;
  readonly config: ModelConfig;
  /** The parts of `estimatedLoadBytes` (see the module comment). */
  readonly estimate: { readonly weightsF32: number; readonly runtimeCopy: number; readonly buildTransient: number; readonly overhead: number };
}

const MiB = 1 << 20;
const RUNTIME_OVERHEAD = 128 * MiB;

/** Parameters of the canonical weights `config` implies (what checkWeights requires). */
export function countParameters(c: ModelConfig): number {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numHeads: Hq, numKvHeads: Hkv, headDim: d } = c;
  const perLayer = 2 * D + 2 * Hq * d * D + 2 * Hkv * d * D + 3 * F * D + (c.qkvBias ? (Hq + 2 * Hkv) * d : 0);
  return V * D * (c.tiedEmbeddings ? 1 : 2) + c.numLayers * perLayer + D;
}

/** KV-cache bytes per token for an element size (4: float32, 2: float16). */
export const kvBytesPerToken = (c: ModelConfig, bytesPerElement: number): number => 2 * c.numLayers * c.numKvHeads * c.headDim * bytesPerElement;

/** The memory estimate for `parameters` float32 weights (see the module comment). */
export function estimateLoadBytes(parameters: number): ModelInfo['estimate'] & { readonly total: number } {
  const weightsF32 = 4 * parameters;
  const runtimeCopy = 4 * parameters;
  const buildTransient = 4 * parameters;
  return { weightsF32, runtimeCopy, buildTransient, overhead: RUNTIME_OVERHEAD, total: weightsF32 + runtimeCopy + buildTransient + RUNTIME_OVERHEAD };
}

/**
 * Memory this process can still use: Node's `process.availableMemory()`
 * (free memory, bounded by a cgroup limit). macOS counts reclaimable file
 * cache as used, so there up to 3/4 of physical memory is assumed usable.
 */
export function availableMemory(): number {
  const avail = typeof process.availableMemory === 'function' ? process.availableMemory() : freemem();
  return process.platform === 'darwin' ? Math.max(avail, 0.75 * totalmem()) : avail;
}

/** "1.5 GiB", "260.0 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Throws ModelFileError E_MODEL_TOO_LARGE, with the estimate, when the model will not fit in `availableBytes`. */
export function checkFits(info: ModelInfo, availableBytes: number = availableMemory()): void {
  if (info.estimatedLoadBytes <= availableBytes) return;
  const e = info.estimate;
  throw new ModelFileError(
    info.path,
    `needs about ${formatBytes(info.estimatedLoadBytes)} of memory to load (${info.parameters.toLocaleString('en-US')} parameters: ` +
      `${formatBytes(e.weightsF32)} of float32 weights + ${formatBytes(e.runtimeCopy)} for onnxruntime's copy + ${formatBytes(e.buildTransient)} while its graph is built + ${formatBytes(e.overhead)} runtime), ` +
      `but only ${formatBytes(availableBytes)} is available; the KV cache needs ${formatBytes(info.kvBytesPerToken.f32)} per token on top`,
    'E_MODEL_TOO_LARGE',
  );
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
  const name = basename(path);
  if (name === 'config.json' || name.endsWith('.safetensors') || name.endsWith('.safetensors.index.json')) return { format: 'hf', path, dir: dirname(path) };
  if (/\.gguf$/i.test(name)) return { format: 'gguf', path };
  const magic = Buffer.alloc(4);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, magic, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new ModelFileError(path, `cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (n === 4 && magic.toString('latin1') === 'GGUF') return { format: 'gguf', path };
  if (/\.bin$/i.test(name)) return { format: 'llama2c', path };
  throw new ModelFileError(
    path,
    'not a model KV Lab can read: expected a GGUF file (.gguf), a llama2.c checkpoint (.bin) or a Hugging Face folder (config.json + *.safetensors)',
    'E_MODEL_UNSUPPORTED',
  );
}

interface Inspected {
  readonly info: ModelInfo;
  readonly gguf?: GgufFile;
  readonly llama2c?: Llama2cHeader;
  readonly hf?: HfModelHeader;
}

function makeInfo(path: string, format: ModelFormat, config: ModelConfig, storedTypes: Record<string, number>, fileBytes: number): ModelInfo {
  const parameters = countParameters(config);
  const { total, ...estimate } = estimateLoadBytes(parameters);
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
  });
}

function inspect(path: string): Inspected {
  const d = detect(path);
  const stored: Record<string, number> = {};
  const add = (type: string, n: number): void => {
    stored[type] = (stored[type] ?? 0) + n;
  };
  if (d.format === 'gguf') {
    const file = readGgufHeader(path);
    const config = ggufModelConfig(file);
    for (const t of file.tensors)
      add(
        t.typeName,
        t.dims.reduce((a, b) => a * b, 1),
      );
    return { info: makeInfo(path, 'gguf', config, stored, file.fileSize), gguf: file };
  }
  if (d.format === 'llama2c') {
    const { header, config, fileSize } = readLlama2cHeader(path);
    add('F32', (fileSize - 28) / 4);
    return { info: makeInfo(path, 'llama2c', config, stored, fileSize), llama2c: header };
  }
  const hf = readHfModelHeader(d.dir);
  for (const t of hf.safetensors.tensors.values())
    add(
      t.dtype,
      t.dims.reduce((a, b) => a * b, 1),
    );
  return { info: makeInfo(d.dir, 'hf', hf.config, stored, hf.safetensors.totalBytes), hf };
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

/** loadModel without the Promise. */
export function loadModelSync(path: string, opts: LoadOptions = {}): LoadedModel {
  const { info, gguf, hf, llama2c } = inspect(path);
  checkFits(info, opts.availableBytes ?? availableMemory());
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
  return Object.freeze({ path: info.path, format: info.format, config, weights, tokenizer, metadata: Object.freeze(metadata) });
}

/**
 * Loads a GGUF file, a llama2.c .bin or a Hugging Face folder (see the module
 * comment), after checking that it fits in memory. Every problem with the
 * files is a ModelFileError naming the file.
 */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  return loadModelSync(path, opts);
}
