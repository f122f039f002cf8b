/**
 * llama2.c legacy checkpoints: stories260K.bin against data.md §1.1, the
 * cross-format check (all 48 GGUF tensors bit-identical to the .bin arrays
 * once both loaders map them to canonical names), untied classifiers, and
 * corrupt files.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadGgufModel } from '../../../electron/engine/formats/gguf-llama.ts';
import { loadLlama2c, readLlama2cHeader } from '../../../electron/engine/formats/llama2c.ts';
import { isResident, ModelFileError } from '../../../electron/engine/model.ts';
import { sharedPath } from '../shared-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvlab-llama2c-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A llama2.c legacy file: header + the float sections in run.c order, each filled with a distinct ramp. */
function writeCheckpoint(
  h: [dim: number, hidden: number, layers: number, heads: number, kvHeads: number, vocab: number, seq: number],
  opts: { extraBytes?: number; dropBytes?: number; nanAt?: number } = {},
): string {
  const [D, F, L, H, Hkv, Vs, S] = h;
  const V = Math.abs(Vs);
  const hd = D / H;
  const kv = hd * Hkv;
  const counts = [
    V * D,
    L * D,
    L * D * D,
    L * kv * D,
    L * kv * D,
    L * D * D,
    L * D,
    L * F * D,
    L * D * F,
    L * F * D,
    D,
    (S * hd) / 2,
    (S * hd) / 2,
    ...(Vs < 0 ? [V * D] : []),
  ];
  const total = counts.reduce((a, b) => a + b, 0);
  const floats = Float32Array.from({ length: total }, (_, i) => Math.sin(i) * 0.1);
  if (opts.nanAt !== undefined) floats[opts.nanAt] = NaN;
  const head = Buffer.alloc(28);
  h.forEach((v, i) => head.writeInt32LE(v, 4 * i));
  let buf = Buffer.concat([head, bytesOf(floats), Buffer.alloc(opts.extraBytes ?? 0)]);
  if (opts.dropBytes) buf = buf.subarray(0, buf.length - opts.dropBytes);
  const p = join(dir, `${seq++}.bin`);
  writeFileSync(p, buf);
  return p;
}

const isModelError =
  (path: string, ...parts: string[]) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ModelFileError, `expected a ModelFileError, got ${String(e)}`);
    assert.ok(e.message.includes(path), `'${e.message}' does not name ${path}`);
    for (const p of parts) assert.ok(e.message.includes(p), `'${e.message}' lacks '${p}'`);
    return true;
  };

describe('stories260K.bin (data.md §1.1)', () => {
  const bin = sharedPath('models/stories260K/stories260K.bin');

  it('has the documented header and config', () => {
    const { header, config, expectedBytes, fileSize } = readLlama2cHeader(bin);
    assert.deepEqual(header, { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 });
    assert.equal(fileSize, 1056540);
    assert.equal(expectedBytes, 28 + 4 * 264128);
    assert.deepEqual(config, {
      architecture: 'llama',
      name: 'stories260K',
      vocabSize: 512,
      hiddenSize: 64,
      intermediateSize: 172,
      numLayers: 5,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeLayout: 'interleaved',
      contextLength: 512,
      tiedEmbeddings: true,
      qkvBias: false,
    });
  });

  it('loads 47 canonical weights (tied: no lmHead), 260,032 parameters', () => {
    const { weights } = loadLlama2c(bin);
    assert.equal(weights.size, 47);
    assert.equal(weights.has('lmHead'), false);
    let params = 0;
    for (const w of weights.values()) params += w.data.length;
    assert.equal(params, 260032);
    assert.deepEqual(weights.get('embed')?.dims, [512, 64]);
    assert.deepEqual(weights.get('layers.0.wk')?.dims, [32, 64]);
    assert.deepEqual(weights.get('layers.4.wDown')?.dims, [64, 172]);
    // The embedding is the first array after the 28-byte header; wq of layer 0 follows rms_att [5×64].
    const raw = readFileSync(bin);
    assert.ok(bytesOf(weights.get('embed')?.data ?? new Float32Array()).equals(raw.subarray(28, 28 + 4 * 512 * 64)));
    const wq0 = 28 + 4 * (512 * 64 + 5 * 64);
    assert.ok(bytesOf(weights.get('layers.0.wq')?.data ?? new Float32Array()).equals(raw.subarray(wq0, wq0 + 4 * 64 * 64)));
  });

  it('all 48 GGUF tensors are bit-identical to the llama2.c arrays under canonical names', () => {
    const gguf = loadGgufModel(sharedPath('models/stories260K/stories260K.gguf'));
    const { weights } = loadLlama2c(bin);
    assert.equal(gguf.weights.size, 48);
    assert.equal(gguf.config.tiedEmbeddings, false, 'output.weight is present, so the GGUF is loaded untied');
    let compared = 0;
    for (const [name, w] of gguf.weights) {
      const other = weights.get(name === 'lmHead' ? 'embed' : name); // the .bin classifier is the (tied) embedding
      assert.ok(other, name);
      assert.deepEqual(w.dims, other.dims, name);
      assert.ok(bytesOf(w.data).equals(bytesOf(other.data)), `${name} differs`);
      compared++;
    }
    assert.equal(compared, 48);
    const { tiedEmbeddings: _a, contextLength: _b, name: _c, ...ggufRest } = gguf.config;
    const { tiedEmbeddings: _d, contextLength: _e, name: _f, ...binRest } = loadLlama2c(bin).config;
    assert.deepEqual(ggufRest, binRest);
  });
});

describe('llama2.c checkpoints', () => {
  it('a negative vocab_size means an untied classifier at the end', () => {
    const p = writeCheckpoint([16, 24, 2, 4, 2, -40, 8]);
    const { config, weights } = loadLlama2c(p);
    assert.equal(config.tiedEmbeddings, false);
    assert.equal(config.vocabSize, 40);
    assert.equal(config.numKvHeads, 2);
    const lm = weights.get('lmHead');
    assert.deepEqual(lm?.dims, [40, 16]);
    // The classifier is the last V·D floats of the file.
    const raw = readFileSync(p);
    assert.ok(bytesOf(lm?.data ?? new Float32Array()).equals(raw.subarray(raw.length - 4 * 40 * 16)));
  });

  it('truncated or padded files → expected vs actual size', () => {
    const t = writeCheckpoint([16, 24, 2, 4, 2, 40, 8], { dropBytes: 4 });
    assert.throws(() => loadLlama2c(t), isModelError(t, 'truncated', 'implies', 'the file has'));
    const x = writeCheckpoint([16, 24, 2, 4, 2, 40, 8], { extraBytes: 12 });
    assert.throws(() => loadLlama2c(x), isModelError(x, '12 unexpected bytes after the weights'));
    const short = join(dir, `${seq++}.bin`);
    writeFileSync(short, Buffer.alloc(10));
    assert.throws(() => loadLlama2c(short), isModelError(short, 'shorter than the 28-byte llama2.c header'));
  });

  it('invalid headers → the field and the header values', () => {
    const cases: [[number, number, number, number, number, number, number], string][] = [
      [[16, 24, 2, 0, 2, 40, 8], 'n_heads must be positive'],
      [[16, 24, -2, 4, 2, 40, 8], 'n_layers must be positive'],
      [[16, 24, 2, 4, 2, 0, 8], 'vocab_size must be non-zero'],
      [[18, 24, 2, 4, 2, 40, 8], 'dim is not a multiple of n_heads'],
      [[16, 24, 2, 4, 3, 40, 8], 'n_heads is not a multiple of n_kv_heads'],
      [[12, 24, 2, 4, 2, 40, 8], 'head size is odd'],
    ];
    for (const [h, msg] of cases) {
      const p = join(dir, `${seq++}.bin`);
      const b = Buffer.alloc(28 + 4096);
      h.forEach((v, i) => b.writeInt32LE(v, 4 * i));
      writeFileSync(p, b);
      assert.throws(() => loadLlama2c(p), isModelError(p, 'not a valid llama2.c checkpoint', msg, `dim=${h[0]}`));
    }
    const huge = join(dir, `${seq++}.bin`);
    const hb = Buffer.alloc(28);
    [2 ** 30, 2 ** 30, 2 ** 30, 2, 2, 2 ** 30, 2].forEach((v, i) => hb.writeInt32LE(v, 4 * i));
    writeFileSync(huge, hb);
    assert.throws(() => loadLlama2c(huge), isModelError(huge));
  });

  it('newer "ak42" exports are refused with E_MODEL_UNSUPPORTED', () => {
    const p = join(dir, `${seq++}.bin`);
    const b = Buffer.alloc(256);
    b.writeUInt32LE(0x616b3432, 0);
    b.writeInt32LE(2, 4);
    writeFileSync(p, b);
    assert.throws(
      () => loadLlama2c(p),
      (e: unknown) => isModelError(p, 'llama2.c version 2 export')(e) && (e as ModelFileError).code === 'E_MODEL_UNSUPPORTED',
    );
  });

  it('NaN weights and missing files → ModelFileError', () => {
    const p = writeCheckpoint([16, 24, 2, 4, 2, 40, 8], { nanAt: 60 });
    // Tensors are read when the graph builder asks for them, so the NaN is refused then.
    const embed = loadLlama2c(p).weights.get('embed');
    assert.ok(embed && !isResident(embed), 'the loaded model holds no weights in JS');
    assert.throws(() => embed.data, isModelError(p, "tensor 'embed' holds NaN at index 60"));
    const missing = join(dir, 'nope.bin');
    assert.throws(() => loadLlama2c(missing), isModelError(missing, 'file not found'));
  });
});
