/**
 * llama2.c legacy checkpoints (`run.c` / `export.py --version 0`), e.g. stories260K.bin:
 *
 *   7 × int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)
 *   float32: token_embedding [V, D] · rms_att [L, D] · wq [L, D, D] · wk [L, kvDim, D] · wv [L, kvDim, D]
 *            · wo [L, D, D] · rms_ffn [L, D] · w1 [L, F, D] · w2 [L, D, F] · w3 [L, F, D] · rms_final [D]
 *            · freq_cis_real [seq, hd/2] · freq_cis_imag [seq, hd/2] (unused) · wcls [V, D] (only when vocab_size < 0)
 *
 * A negative vocab_size means an untied classifier follows. Matrices are
 * row-major [out, in], as in model.ts; w1 = gate, w3 = up, w2 = down. RoPE
 * pairs adjacent elements ('interleaved'), θ = 10000, RMSNorm eps 1e-5 (all
 * fixed by run.c). The newer llama2.c exports (magic "ak42", versions 1–2)
 * are refused with a clear message.
 */

import { basename } from 'node:path';
import { closeSync } from 'node:fs';
import { endianness } from 'node:os';
import { checkWeights, layerWeight, lazyTensor, ModelFileError, type ModelConfig, type WeightTensor } from '../model.ts';
import { dequantize, ggmlTypeByName, type GgmlType } from './dequant.ts';
import { openModelFile, readFully } from './gguf.ts';
import { assertFinite } from './gguf-llama.ts';

const HEADER_BYTES = 28;
const AK42_MAGIC = 0x616b3432;
const F32 = ggmlTypeByName('F32') as GgmlType;

export interface Llama2cHeader {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  /** Signed, as stored: negative means an untied classifier. */
  readonly vocabSize: number;
  readonly seqLen: number;
}

interface Segment {
  readonly name: string | ((layer: number) => string);
  readonly dims: readonly number[];
  /** Per layer (stacked L times) or once. */
  readonly perLayer: boolean;
}

function layout(h: Llama2cHeader): Segment[] {
  const D = h.dim;
  const F = h.hiddenDim;
  const V = Math.abs(h.vocabSize);
  const hd = D / h.nHeads;
  const kvDim = hd * h.nKvHeads;
  const segs: Segment[] = [
    { name: 'embed', dims: [V, D], perLayer: false },
    { name: (i) => layerWeight(i, 'attnNorm'), dims: [D], perLayer: true },
    { name: (i) => layerWeight(i, 'wq'), dims: [D, D], perLayer: true },
    { name: (i) => layerWeight(i, 'wk'), dims: [kvDim, D], perLayer: true },
    { name: (i) => layerWeight(i, 'wv'), dims: [kvDim, D], perLayer: true },
    { name: (i) => layerWeight(i, 'wo'), dims: [D, D], perLayer: true },
    { name: (i) => layerWeight(i, 'ffnNorm'), dims: [D], perLayer: true },
    { name: (i) => layerWeight(i, 'wGate'), dims: [F, D], perLayer: true },
    { name: (i) => layerWeight(i, 'wDown'), dims: [D, F], perLayer: true },
    { name: (i) => layerWeight(i, 'wUp'), dims: [F, D], perLayer: true },
    { name: 'finalNorm', dims: [D], perLayer: false },
    { name: '', dims: [h.seqLen, hd / 2], perLayer: false }, // freq_cis_real (skipped)
    { name: '', dims: [h.seqLen, hd / 2], perLayer: false }, // freq_cis_imag (skipped)
  ];
  if (h.vocabSize < 0) segs.push({ name: 'lmHead', dims: [V, D], perLayer: false });
  return segs;
}

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function validate(path: string, h: Llama2cHeader): void {
  const fail = (p: string): never => {
    throw new ModelFileError(
      path,
      `not a valid llama2.c checkpoint: ${p} (header dim=${h.dim}, hidden_dim=${h.hiddenDim}, n_layers=${h.nLayers}, n_heads=${h.nHeads}, n_kv_heads=${h.nKvHeads}, vocab_size=${h.vocabSize}, seq_len=${h.seqLen})`,
    );
  };
  const positive: [string, number][] = [
    ['dim', h.dim],
    ['hidden_dim', h.hiddenDim],
    ['n_layers', h.nLayers],
    ['n_heads', h.nHeads],
    ['n_kv_heads', h.nKvHeads],
    ['seq_len', h.seqLen],
  ];
  for (const [k, v] of positive) if (v <= 0) fail(`${k} must be positive`);
  if (h.vocabSize === 0 || h.vocabSize === -2147483648) fail('vocab_size must be non-zero');
  if (h.dim % h.nHeads !== 0) fail('dim is not a multiple of n_heads');
  if (h.nHeads % h.nKvHeads !== 0) fail('n_heads is not a multiple of n_kv_heads');
  if ((h.dim / h.nHeads) % 2 !== 0) fail('head size is odd, so RoPE pairs cannot be formed');
}

/** Reads and checks the 28-byte header; `expectedBytes` is the file size the header implies. */
export function readLlama2cHeader(path: string): { header: Llama2cHeader; config: ModelConfig; expectedBytes: number; fileSize: number } {
  const { fd, size } = openModelFile(path);
  try {
    if (size < HEADER_BYTES) throw new ModelFileError(path, `truncated: ${size} bytes is shorter than the 28-byte llama2.c header`);
    const b = Buffer.alloc(HEADER_BYTES);
    readFully(path, fd, b, HEADER_BYTES, 0);
    if (b.readUInt32LE(0) === AK42_MAGIC)
      throw new ModelFileError(
        path,
        `llama2.c version ${b.readInt32LE(4)} export ("ak42"), not the legacy format: re-export with export.py --version 0`,
        'E_MODEL_UNSUPPORTED',
      );
    const v = (i: number): number => b.readInt32LE(4 * i);
    const header: Llama2cHeader = { dim: v(0), hiddenDim: v(1), nLayers: v(2), nHeads: v(3), nKvHeads: v(4), vocabSize: v(5), seqLen: v(6) };
    validate(path, header);
    let floats = 0;
    for (const s of layout(header)) floats += count(s.dims) * (s.perLayer ? header.nLayers : 1);
    const expectedBytes = HEADER_BYTES + 4 * floats;
    if (!Number.isSafeInteger(expectedBytes)) throw new ModelFileError(path, 'not a valid llama2.c checkpoint: header dimensions are absurd');
    if (size < expectedBytes)
      throw new ModelFileError(
        path,
        `truncated: the header (dim ${header.dim}, ${header.nLayers} layers, vocab ${header.vocabSize}) implies ${expectedBytes} bytes, the file has ${size}`,
      );
    if (size > expectedBytes)
      throw new ModelFileError(
        path,
        `${size - expectedBytes} unexpected bytes after the weights: the header (dim ${header.dim}, ${header.nLayers} layers, vocab ${header.vocabSize}) implies ${expectedBytes} bytes, the file has ${size}`,
      );
    const config: ModelConfig = {
      architecture: 'llama',
      name: basename(path).replace(/\.bin$/i, ''),
      vocabSize: Math.abs(header.vocabSize),
      hiddenSize: header.dim,
      intermediateSize: header.hiddenDim,
      numLayers: header.nLayers,
      numHeads: header.nHeads,
      numKvHeads: header.nKvHeads,
      headDim: header.dim / header.nHeads,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeLayout: 'interleaved',
      contextLength: header.seqLen,
      tiedEmbeddings: header.vocabSize > 0,
      qkvBias: false,
    };
    return { header, config, expectedBytes, fileSize: size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads a llama2.c legacy checkpoint into canonical weights (see model.ts): each tensor is read from
 * the file when the graph builder asks for it and not kept (model.ts lazyTensor), as GGUF and
 * safetensors tensors are, so a loaded model holds no weights in JS. A tensor holding NaN or ±∞ is
 * refused when it is read.
 */
export function loadLlama2c(path: string): { config: ModelConfig; weights: Map<string, WeightTensor> } {
  const { header, config } = readLlama2cHeader(path);
  const weights = new Map<string, WeightTensor>();
  let pos = HEADER_BYTES;
  for (const seg of layout(header)) {
    const n = count(seg.dims);
    for (let i = 0; i < (seg.perLayer ? header.nLayers : 1); i++) {
      const name = typeof seg.name === 'function' ? seg.name(i) : seg.name;
      if (name) {
        const at = pos;
        weights.set(
          name,
          lazyTensor(seg.dims, () => readTensor(path, name, n, at)),
        );
      }
      pos += 4 * n;
    }
  }
  checkWeights(path, config, weights);
  return { config, weights };
}

/** Tensor `name`: n float32 values at byte `pos` of the checkpoint (little-endian, as run.c writes them). */
function readTensor(path: string, name: string, n: number, pos: number): Float32Array {
  const { fd } = openModelFile(path);
  try {
    const data = new Float32Array(n);
    if (endianness() === 'LE') {
      readFully(path, fd, new Uint8Array(data.buffer), 4 * n, pos);
    } else {
      const raw = new Uint8Array(4 * n);
      readFully(path, fd, raw, 4 * n, pos);
      dequantize(F32, raw, 0, n, data);
    }
    assertFinite(path, name, data);
    return data;
  } finally {
    closeSync(fd);
  }
}
