/**
 * GGUF → engine model: config from metadata, canonical names and dims,
 * architectures (llama, mistral alias, qwen2 with biases and NEOX RoPE),
 * RoPE scaling (linear, Llama 3 from rope_freqs), quantised weights, and the
 * refusals (unsupported architecture, MoE, unknown tensors, partial RoPE, …).
 * Small models are written here with the GGUF writer.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import { readGgufHeader } from '../../../electron/engine/formats/gguf.ts';
import { buildDecoderGraph } from '../../../electron/engine/graph/decoder.ts';
import { fitLlama3RopeScaling, ggufModelConfig, llama3RopeFactor, loadGgufModel, tidyFloat32 } from '../../../electron/engine/formats/gguf-llama.ts';
import { writeGguf, type GgufMetadataEntry, type GgufWriteTensor, type GgufWriteTensorType } from '../../../electron/engine/formats/gguf-writer.ts';
import { ModelFileError, type ModelConfig } from '../../../electron/engine/model.ts';
import { sharedPath } from '../shared-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvlab-gguf-llama-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

interface Tiny {
  arch?: string;
  D?: number;
  F?: number;
  V?: number;
  L?: number;
  Hq?: number;
  Hkv?: number;
  /** Head dim; when it differs from D/Hq, attention.key_length is written. */
  d?: number;
  bias?: boolean;
  tied?: boolean;
  type?: GgufWriteTensorType;
  meta?: GgufMetadataEntry[];
  dropMeta?: string[];
  tensors?: GgufWriteTensor[];
  dropTensors?: string[];
  nanIn?: string;
}

/** Writes a small random model; returns its path and the float data of every tensor by GGUF name. */
function tiny(o: Tiny = {}): { path: string; data: Map<string, Float32Array> } {
  const { arch = 'llama', D = 32, F = 48, V = 40, L = 2, Hq = 4, Hkv = 2, bias = false, tied = false, type = 'F32' } = o;
  const d = o.d ?? D / Hq;
  const rng = createRng(1000 + seq);
  const data = new Map<string, Float32Array>();
  const tensors: GgufWriteTensor[] = [];
  const add = (name: string, ggufDims: number[], t: GgufWriteTensorType = 'F32'): void => {
    if (o.dropTensors?.includes(name)) return;
    const x = Float32Array.from({ length: ggufDims.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.3);
    if (o.nanIn === name) x[3] = NaN;
    data.set(name, x);
    tensors.push({ name, dims: ggufDims, type: t, data: x });
  };
  add('token_embd.weight', [D, V], type);
  add('output_norm.weight', [D]);
  if (!tied) add('output.weight', [D, V], type);
  for (let i = 0; i < L; i++) {
    add(`blk.${i}.attn_norm.weight`, [D]);
    add(`blk.${i}.attn_q.weight`, [D, Hq * d], type);
    add(`blk.${i}.attn_k.weight`, [D, Hkv * d], type);
    add(`blk.${i}.attn_v.weight`, [D, Hkv * d], type);
    if (bias) {
      add(`blk.${i}.attn_q.bias`, [Hq * d]);
      add(`blk.${i}.attn_k.bias`, [Hkv * d]);
      add(`blk.${i}.attn_v.bias`, [Hkv * d]);
    }
    add(`blk.${i}.attn_output.weight`, [Hq * d, D], type);
    add(`blk.${i}.ffn_norm.weight`, [D]);
    add(`blk.${i}.ffn_gate.weight`, [D, F], type);
    add(`blk.${i}.ffn_up.weight`, [D, F], type);
    add(`blk.${i}.ffn_down.weight`, [F, D], type);
  }
  tensors.push(...(o.tensors ?? []));
  const base: GgufMetadataEntry[] = [
    ['general.architecture', 'string', arch],
    ['general.name', 'string', `tiny-${arch}`],
    [`${arch}.embedding_length`, 'uint32', D],
    [`${arch}.block_count`, 'uint32', L],
    [`${arch}.feed_forward_length`, 'uint32', F],
    [`${arch}.attention.head_count`, 'uint32', Hq],
    [`${arch}.attention.head_count_kv`, 'uint32', Hkv],
    [`${arch}.context_length`, 'uint32', 4096],
    [`${arch}.attention.layer_norm_rms_epsilon`, 'float32', 1e-6],
    [`${arch}.rope.freq_base`, 'float32', 500000],
    ...(d !== D / Hq ? ([[`${arch}.attention.key_length`, 'uint32', d]] as GgufMetadataEntry[]) : []),
  ];
  const meta = [...base.filter(([k]) => !o.dropMeta?.includes(k)), ...(o.meta ?? [])];
  const path = join(dir, `${seq++}-${arch}.gguf`);
  writeGguf(path, { metadata: meta, tensors });
  return { path, data };
}

const isModelError =
  (path: string, code: ModelFileError['code'], ...parts: string[]) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ModelFileError, `expected a ModelFileError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(path), `'${e.message}' does not name ${path}`);
    for (const p of parts) assert.ok(e.message.includes(p), `'${e.message}' lacks '${p}'`);
    return true;
  };

describe('stories260K.gguf → model', () => {
  it('has the documented config (untied: output.weight is an explicit copy of the embedding)', () => {
    const { config, weights } = loadGgufModel(sharedPath('models/stories260K/stories260K.gguf'));
    const want: ModelConfig = {
      architecture: 'llama',
      name: 'llama',
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
      contextLength: 2048,
      tiedEmbeddings: false,
      qkvBias: false,
    };
    assert.deepEqual(config, want);
    assert.equal(weights.size, 48);
    assert.deepEqual(weights.get('lmHead')?.data, weights.get('embed')?.data);
    assert.deepEqual(weights.get('layers.3.wGate')?.dims, [172, 64]);
  });
});

describe('GGUF llama mapping', () => {
  it('maps names, reverses dims and keeps the stored data', () => {
    const { path, data } = tiny({ L: 2 });
    const { config, weights } = loadGgufModel(path);
    assert.equal(config.name, 'tiny-llama');
    assert.equal(config.ropeLayout, 'interleaved');
    assert.equal(config.ropeTheta, 500000);
    assert.equal(config.rmsNormEps, 1e-6);
    assert.equal(config.contextLength, 4096);
    assert.equal(config.tiedEmbeddings, false);
    assert.equal(config.qkvBias, false);
    assert.equal(config.ropeScaling, undefined);
    assert.ok(!('ropeScaling' in config), 'absent optional fields are omitted');
    const pairs: [string, string, number[]][] = [
      ['token_embd.weight', 'embed', [40, 32]],
      ['output.weight', 'lmHead', [40, 32]],
      ['output_norm.weight', 'finalNorm', [32]],
      ['blk.1.attn_norm.weight', 'layers.1.attnNorm', [32]],
      ['blk.1.attn_q.weight', 'layers.1.wq', [32, 32]],
      ['blk.1.attn_k.weight', 'layers.1.wk', [16, 32]],
      ['blk.1.attn_v.weight', 'layers.1.wv', [16, 32]],
      ['blk.1.attn_output.weight', 'layers.1.wo', [32, 32]],
      ['blk.1.ffn_norm.weight', 'layers.1.ffnNorm', [32]],
      ['blk.1.ffn_gate.weight', 'layers.1.wGate', [48, 32]],
      ['blk.1.ffn_up.weight', 'layers.1.wUp', [48, 32]],
      ['blk.1.ffn_down.weight', 'layers.1.wDown', [32, 48]],
    ];
    for (const [g, c, dims] of pairs) {
      assert.deepEqual(weights.get(c)?.dims, dims, c);
      assert.deepEqual(weights.get(c)?.data, data.get(g), c);
    }
    assert.equal(weights.size, 2 + 1 + 2 * 9);
  });

  it('qwen2: q/k/v biases, rotate-half RoPE, tied embeddings', () => {
    const { path, data } = tiny({ arch: 'qwen2', bias: true, tied: true, L: 1 });
    const { config, weights } = loadGgufModel(path);
    assert.equal(config.architecture, 'qwen2');
    assert.equal(config.ropeLayout, 'halves');
    assert.equal(config.qkvBias, true);
    assert.equal(config.tiedEmbeddings, true);
    assert.equal(weights.has('lmHead'), false);
    assert.deepEqual(weights.get('layers.0.bq')?.dims, [32]);
    assert.deepEqual(weights.get('layers.0.bk')?.dims, [16]);
    assert.deepEqual(weights.get('layers.0.bv')?.data, data.get('blk.0.attn_v.bias'));
  });

  it("'mistral' is accepted with the llama layout; head dim from attention.key_length", () => {
    const { path } = tiny({ arch: 'mistral', D: 32, Hq: 4, Hkv: 1, d: 16 });
    const { config, weights } = loadGgufModel(path);
    assert.equal(config.architecture, 'mistral');
    assert.equal(config.ropeLayout, 'interleaved');
    assert.equal(config.headDim, 16);
    assert.deepEqual(weights.get('layers.0.wq')?.dims, [64, 32]);
    assert.deepEqual(weights.get('layers.0.wk')?.dims, [16, 32]);
    assert.deepEqual(weights.get('layers.0.wo')?.dims, [32, 64]);
  });

  it('per-layer metadata arrays are accepted when uniform, refused otherwise', () => {
    const ok = tiny({ dropMeta: ['llama.attention.head_count_kv'], meta: [['llama.attention.head_count_kv', 'uint32[]', [2, 2]]] });
    assert.equal(ggufModelConfig(readGgufHeader(ok.path)).numKvHeads, 2);
    const bad = tiny({ dropMeta: ['llama.attention.head_count_kv'], meta: [['llama.attention.head_count_kv', 'uint32[]', [2, 4]]] });
    assert.throws(
      () => loadGgufModel(bad.path),
      isModelError(bad.path, 'E_MODEL_UNSUPPORTED', "'llama.attention.head_count_kv' differs between layers (2, 4)"),
    );
  });

  it('dequantises Q8_0, Q4_0 and F16 weights (norms stay F32)', () => {
    for (const [type, tol] of [
      ['Q8_0', 0.02],
      ['Q4_0', 0.25],
      ['F16', 0.001],
    ] as const) {
      const { path, data } = tiny({ type, L: 1, F: 64 });
      const { weights } = loadGgufModel(path);
      const w = weights.get('layers.0.wGate')?.data ?? new Float32Array();
      const x = data.get('blk.0.ffn_gate.weight') ?? new Float32Array();
      let maxErr = 0;
      for (let i = 0; i < x.length; i++) maxErr = Math.max(maxErr, Math.abs((w[i] ?? 0) - (x[i] ?? 0)));
      assert.ok(maxErr > 0 && maxErr < tol, `${type}: max error ${maxErr}`);
      assert.deepEqual(weights.get('layers.0.attnNorm')?.data, data.get('blk.0.attn_norm.weight'));
    }
  });

  it('linear RoPE scaling from metadata; yarn is refused', () => {
    const lin = tiny({
      meta: [
        ['llama.rope.scaling.type', 'string', 'linear'],
        ['llama.rope.scaling.factor', 'float32', 4],
      ],
    });
    assert.deepEqual(loadGgufModel(lin.path).config.ropeScaling, { type: 'linear', factor: 4 });
    const old = tiny({ meta: [['llama.rope.scale_linear', 'float32', 2]] });
    assert.deepEqual(loadGgufModel(old.path).config.ropeScaling, { type: 'linear', factor: 2 });
    const none = tiny({ meta: [['llama.rope.scaling.type', 'string', 'none']] });
    assert.equal(loadGgufModel(none.path).config.ropeScaling, undefined);
    const yarn = tiny({
      meta: [
        ['llama.rope.scaling.type', 'string', 'yarn'],
        ['llama.rope.scaling.factor', 'float32', 4],
      ],
    });
    assert.throws(() => loadGgufModel(yarn.path), isModelError(yarn.path, 'E_MODEL_UNSUPPORTED', "RoPE scaling 'yarn' is not supported"));
  });
});

describe('Llama 3 RoPE scaling from rope_freqs.weight', () => {
  /** The factors llama.cpp's converter writes (convert_hf_to_gguf.py, LlamaModel, rope_type llama3), in float32. */
  function converterFactors(theta: number, dim: number, factor: number, low: number, high: number, ctx: number): Float32Array {
    const out: number[] = [];
    for (let i = 0; i < dim; i += 2) {
      const freq = Math.fround(1 / Math.fround(theta ** (i / dim)));
      const wavelen = (2 * Math.PI) / freq;
      const lowWl = ctx / low;
      const highWl = ctx / high;
      if (wavelen < highWl) out.push(1);
      else if (wavelen > lowWl) out.push(factor);
      else {
        const smooth = (ctx / wavelen - low) / (high - low);
        out.push(1 / ((1 - smooth) / factor + smooth));
      }
    }
    return Float32Array.from(out);
  }

  it('recovers Llama 3.1 (head 128, factor 8) and 3.2 (head 64, factor 32) parameters exactly', () => {
    for (const [dim, factor] of [
      [128, 8],
      [64, 32],
      [128, 32],
    ] as const) {
      const f = converterFactors(500000, dim, factor, 1, 4, 8192);
      const s = fitLlama3RopeScaling('x.gguf', f, 500000, dim);
      assert.deepEqual(s, { type: 'llama3', factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 }, `dim ${dim} factor ${factor}`);
    }
    const other = fitLlama3RopeScaling('x.gguf', converterFactors(500000, 128, 16, 1, 2, 4096), 500000, 128);
    assert.deepEqual(other, { type: 'llama3', factor: 16, lowFreqFactor: 1, highFreqFactor: 2, originalMaxPositionEmbeddings: 4096 });
  });

  it('with a single frequency in the smooth band, returns parameters that reproduce every factor', () => {
    const dim = 64;
    const f = converterFactors(500000, dim, 16, 1, 2, 4096); // only frequency 15 is in the band
    const s = fitLlama3RopeScaling('x.gguf', f, 500000, dim);
    assert.equal(s?.type, 'llama3');
    if (s?.type !== 'llama3') return;
    assert.equal(s.factor, 16);
    for (let i = 0; i < dim / 2; i++)
      assert.ok(Math.abs(llama3RopeFactor(1 / 500000 ** ((2 * i) / dim), s) - (f[i] ?? 0)) < 1e-3 * (f[i] ?? 1), `frequency ${i}`);
  });

  it('all-ones factors mean no scaling; factors that do not follow Llama 3 are refused', () => {
    assert.equal(fitLlama3RopeScaling('x.gguf', new Float32Array(4).fill(1), 10000, 8), undefined);
    assert.throws(
      () => fitLlama3RopeScaling('x.gguf', Float32Array.of(1, 3, 1, 3), 10000, 8),
      (e: unknown) => e instanceof ModelFileError && e.code === 'E_MODEL_UNSUPPORTED' && /does not follow Llama 3 RoPE scaling/.test(e.message),
    );
    assert.throws(
      () => fitLlama3RopeScaling('x.gguf', new Float32Array(3).fill(1), 10000, 8),
      (e: unknown) => e instanceof ModelFileError && /has 3 values, expected 4/.test(e.message),
    );
  });

  it('a llama GGUF with rope_freqs.weight gets ropeScaling llama3 and no extra weight', () => {
    const factors = converterFactors(500000, 128, 8, 1, 4, 8192);
    const { path } = tiny({ D: 128, Hq: 1, Hkv: 1, F: 32, V: 16, L: 1, tensors: [{ name: 'rope_freqs.weight', dims: [64], type: 'F32', data: factors }] });
    const { config, weights } = loadGgufModel(path);
    assert.deepEqual(config.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    assert.equal(
      [...weights.keys()].some((k) => k.includes('rope')),
      false,
    );
  });
});

describe('GGUF models KV Lab refuses', () => {
  it('an unknown architecture → E_MODEL_UNSUPPORTED listing the supported ones', () => {
    const { path } = tiny({ arch: 'gemma' });
    assert.throws(
      () => loadGgufModel(path),
      isModelError(path, 'E_MODEL_UNSUPPORTED', "architecture 'gemma' is not supported; KV Lab supports: llama, mistral, qwen2"),
    );
  });

  it('mixture of experts, partial RoPE, different K/V head sizes → E_MODEL_UNSUPPORTED', () => {
    const moe = tiny({ meta: [['llama.expert_count', 'uint32', 8]] });
    assert.throws(() => loadGgufModel(moe.path), isModelError(moe.path, 'E_MODEL_UNSUPPORTED', 'mixture-of-experts'));
    const partial = tiny({ meta: [['llama.rope.dimension_count', 'uint32', 4]] });
    assert.throws(() => loadGgufModel(partial.path), isModelError(partial.path, 'E_MODEL_UNSUPPORTED', 'partial RoPE'));
    const vlen = tiny({ meta: [['llama.attention.value_length', 'uint32', 16]] });
    assert.throws(() => loadGgufModel(vlen.path), isModelError(vlen.path, 'E_MODEL_UNSUPPORTED', 'value head size 16 differs from key head size 8'));
  });

  it('a tensor KV Lab does not implement → E_MODEL_UNSUPPORTED naming it (never silently ignored)', () => {
    const { path } = tiny({ tensors: [{ name: 'blk.0.attn_q_norm.weight', dims: [8], type: 'F32', data: new Float32Array(8) }] });
    assert.throws(
      () => loadGgufModel(path),
      isModelError(path, 'E_MODEL_UNSUPPORTED', "tensor 'blk.0.attn_q_norm.weight' is not part of the llama architecture"),
    );
    const bo = tiny({ tensors: [{ name: 'blk.0.attn_output.bias', dims: [32], type: 'F32', data: new Float32Array(32) }] });
    assert.throws(() => loadGgufModel(bo.path), isModelError(bo.path, 'E_MODEL_UNSUPPORTED', 'attn_output.bias'));
  });

  it('missing or misshapen weights and metadata → E_MODEL_FILE naming what', () => {
    const noUp = tiny({ dropTensors: ['blk.1.ffn_up.weight'] });
    assert.throws(() => loadGgufModel(noUp.path), isModelError(noUp.path, 'E_MODEL_FILE', "missing weight 'layers.1.wUp'"));
    const noLayer = tiny({ L: 2, dropTensors: ['blk.1.attn_q.weight'] });
    assert.throws(
      () => loadGgufModel(noLayer.path),
      isModelError(noLayer.path, 'E_MODEL_FILE', "missing tensor 'blk.1.attn_q.weight' (llama.block_count is 2)"),
    );
    const extraLayer = tiny({ L: 1, tensors: [{ name: 'blk.1.attn_norm.weight', dims: [32], type: 'F32', data: new Float32Array(32) }] });
    assert.throws(
      () => loadGgufModel(extraLayer.path),
      isModelError(extraLayer.path, 'E_MODEL_FILE', "tensor 'blk.1.attn_norm.weight' belongs to layer 1, but llama.block_count is 1"),
    );
    const badK = tiny({
      L: 1,
      Hkv: 2,
      dropTensors: ['blk.0.attn_k.weight'],
      tensors: [{ name: 'blk.0.attn_k.weight', dims: [32, 24], type: 'F32', data: new Float32Array(32 * 24) }],
    });
    assert.throws(() => loadGgufModel(badK.path), isModelError(badK.path, 'E_MODEL_FILE', "weight 'layers.0.wk' has dims [24, 32], expected [16, 32]"));
    const noEps = tiny({ dropMeta: ['llama.attention.layer_norm_rms_epsilon'] });
    assert.throws(
      () => loadGgufModel(noEps.path),
      isModelError(noEps.path, 'E_MODEL_FILE', "metadata key 'llama.attention.layer_norm_rms_epsilon' is missing"),
    );
    const badHeads = tiny({ dropMeta: ['llama.attention.head_count_kv'], meta: [['llama.attention.head_count_kv', 'uint32', 3]] });
    assert.throws(
      () => loadGgufModel(badHeads.path),
      isModelError(badHeads.path, 'E_MODEL_FILE', 'head_count 4 is not a multiple of llama.attention.head_count_kv 3'),
    );
    const zero = tiny({ dropMeta: ['llama.block_count'], meta: [['llama.block_count', 'uint32', 0]] });
    assert.throws(() => loadGgufModel(zero.path), isModelError(zero.path, 'E_MODEL_FILE', "'llama.block_count' is 0, expected a positive integer"));
  });

  it('an absurd block_count is refused from the tensor table, without looping over it', () => {
    const { path } = tiny({ dropMeta: ['llama.block_count'], meta: [['llama.block_count', 'uint32', 2 ** 31 - 1]] });
    assert.throws(() => loadGgufModel(path), isModelError(path, 'E_MODEL_FILE', 'llama.block_count is 2147483647, but the file has only 21 tensors'));
  });

  it('NaN or infinite weights → E_MODEL_FILE naming the tensor, when the graph reads them', () => {
    // Loading reads no weights (they stay in the file until the graph is built), so the check runs then.
    const { path } = tiny({ nanIn: 'blk.1.ffn_down.weight' });
    const { config, weights } = loadGgufModel(path);
    const bad = isModelError(path, 'E_MODEL_FILE', "tensor 'blk.1.ffn_down.weight' holds NaN at index 3");
    assert.throws(() => weights.get('layers.1.wDown')?.data, bad);
    assert.throws(() => buildDecoderGraph(config, weights, 'x.data', path), bad);
  });
});

describe('tidyFloat32', () => {
  it('prints float32 metadata as the shortest decimal', () => {
    assert.equal(tidyFloat32(Math.fround(1e-5)), 1e-5);
    assert.equal(tidyFloat32(Math.fround(1e-6)), 1e-6);
    assert.equal(tidyFloat32(Math.fround(0.1)), 0.1);
    assert.equal(tidyFloat32(500000), 500000);
    assert.equal(tidyFloat32(0.1), 0.1, 'float64 values are left alone');
    assert.equal(tidyFloat32(1 / 3), 1 / 3);
  });
});
