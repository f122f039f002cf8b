/**
 * A Hugging Face folder written here byte by byte from the formats' published
 * descriptions, not by the project's writer (writeHfFolder / writeSafetensors),
 * so a misreading shared by the writer and the loader cannot hide:
 *   model.safetensors: an 8-byte little-endian header length N, N bytes of JSON
 *     ({ name: { dtype, shape, data_offsets: [begin, end] } } plus
 *     "__metadata__", padded with spaces), then the raw little-endian tensor
 *     bytes, offsets relative to the end of the header. Here the tensors are
 *     listed in the header in another order than their bytes, in F32, F16 and
 *     BF16 (16-bit values given as bit patterns, so their exact widening is
 *     known without a converter).
 *   config.json: a LlamaForCausalLM config as transformers writes it.
 *   tokenizer.json / tokenizer_config.json: a WordLevel tokenizer.
 * The loader must return exactly those values, and the engine on the loaded
 * folder must match the float64 reference run on the values defined here.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModel } from '../../../electron/engine/load.ts';
import type { ModelConfig } from '../../../electron/engine/model.ts';
import { createReference } from '../reference/forward.ts';
import { createEngine, maxAbsDiff } from '../engine-helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvlab-hf-spec-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const V = 16;
const D = 8;
const F = 12;
const Hq = 2;
const Hkv = 1;
const d = 4;

/** Deterministic weights, O(1/√fan_in) so the model's logits stay well-conditioned. */
const values = (n: number, seed: number, scale: number): number[] =>
  Array.from({ length: n }, (_, i) => Math.fround(scale * Math.sin(seed * 12.9898 + i * 78.233)));

/** F16 bit patterns and the numbers they are (IEEE 754 binary16). */
const F16: readonly (readonly [number, number])[] = [
  [0x3c00, 1],
  [0x3800, 0.5],
  [0x3e00, 1.5],
  [0xb400, -0.25],
  [0x3a00, 0.75],
  [0x4000, 2],
  [0x3d00, 1.25],
  [0x3b00, 0.875],
];
/** BF16 bit patterns (the top half of a float32) and their numbers. */
const BF16: readonly (readonly [number, number])[] = [
  [0x3f80, 1],
  [0x3fc0, 1.5],
  [0xbf00, -0.5],
  [0x3f00, 0.5],
  [0x4040, 3],
  [0x3f40, 0.75],
  [0x3fa0, 1.25],
  [0x3e80, 0.25],
];

interface SpecTensor {
  readonly hfName: string;
  readonly canon: string;
  readonly shape: readonly number[];
  readonly dtype: 'F32' | 'F16' | 'BF16';
  /** The numbers the file holds. */
  readonly values: readonly number[];
  /** F16/BF16 bit patterns, in order. */
  readonly bits?: readonly number[];
}

const tensors: SpecTensor[] = [
  { hfName: 'model.embed_tokens.weight', canon: 'embed', shape: [V, D], dtype: 'F32', values: values(V * D, 1, 1 / Math.sqrt(D)) },
  { hfName: 'model.layers.0.self_attn.q_proj.weight', canon: 'layers.0.wq', shape: [Hq * d, D], dtype: 'F32', values: values(Hq * d * D, 2, 1) },
  { hfName: 'model.layers.0.self_attn.k_proj.weight', canon: 'layers.0.wk', shape: [Hkv * d, D], dtype: 'F32', values: values(Hkv * d * D, 3, 1) },
  { hfName: 'model.layers.0.self_attn.v_proj.weight', canon: 'layers.0.wv', shape: [Hkv * d, D], dtype: 'F32', values: values(Hkv * d * D, 4, 0.5) },
  { hfName: 'model.layers.0.self_attn.o_proj.weight', canon: 'layers.0.wo', shape: [D, Hq * d], dtype: 'F32', values: values(D * Hq * d, 5, 0.5) },
  { hfName: 'model.layers.0.mlp.gate_proj.weight', canon: 'layers.0.wGate', shape: [F, D], dtype: 'F32', values: values(F * D, 6, 0.5) },
  { hfName: 'model.layers.0.mlp.up_proj.weight', canon: 'layers.0.wUp', shape: [F, D], dtype: 'F32', values: values(F * D, 7, 0.5) },
  { hfName: 'model.layers.0.mlp.down_proj.weight', canon: 'layers.0.wDown', shape: [D, F], dtype: 'F32', values: values(D * F, 8, 0.3) },
  {
    hfName: 'model.layers.0.input_layernorm.weight',
    canon: 'layers.0.attnNorm',
    shape: [D],
    dtype: 'BF16',
    values: BF16.map(([, v]) => v),
    bits: BF16.map(([b]) => b),
  },
  {
    hfName: 'model.layers.0.post_attention_layernorm.weight',
    canon: 'layers.0.ffnNorm',
    shape: [D],
    dtype: 'F16',
    values: F16.map(([, v]) => v),
    bits: F16.map(([b]) => b),
  },
  { hfName: 'model.norm.weight', canon: 'finalNorm', shape: [D], dtype: 'F32', values: values(D, 9, 0.2).map((x) => Math.fround(1 + x)) },
];

/** model.safetensors by the format's description, with DataView's explicit little-endian writes. */
function safetensorsBytes(list: readonly SpecTensor[]): Uint8Array {
  // Bytes in reverse list order; the header lists them in list order (the format ties them only through data_offsets).
  const order = [...list].reverse();
  const chunks: Uint8Array[] = [];
  const offsets = new Map<string, [number, number]>();
  let at = 0;
  for (const t of order) {
    const width = t.dtype === 'F32' ? 4 : 2;
    const buf = new Uint8Array(t.values.length * width);
    const view = new DataView(buf.buffer);
    t.values.forEach((v, i) => {
      if (t.dtype === 'F32') view.setFloat32(i * 4, v, true);
      else view.setUint16(i * 2, t.bits?.[i] ?? NaN, true);
    });
    offsets.set(t.hfName, [at, at + buf.length]);
    chunks.push(buf);
    at += buf.length;
  }
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (const t of list) header[t.hfName] = { dtype: t.dtype, shape: t.shape, data_offsets: offsets.get(t.hfName) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the reference implementation pads the header to 8 bytes with spaces
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

const words = ['<unk>', '<s>', '</s>', 'the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'to', 'big', 'red', 'hat', '.'];

function writeFolder(dir: string): void {
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(tensors));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: D,
      intermediate_size: F,
      max_position_embeddings: 256,
      model_type: 'llama',
      num_attention_heads: Hq,
      num_hidden_layers: 1,
      num_key_value_heads: Hkv,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 5000,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      transformers_version: '4.46.0',
      vocab_size: V,
    }),
  );
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: words
        .slice(0, 3)
        .map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab: Object.fromEntries(words.map((w, i) => [w, i])), unk_token: '<unk>' },
    }),
  );
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', add_bos_token: true }));
}

describe('HF folder written by the formats’ descriptions, not by the project’s writer', () => {
  const dir = join(tmp, 'model');
  it('loads exactly the config, tensors and tokenizer written, and the engine matches the reference on them', async () => {
    mkdirSync(dir);
    writeFolder(dir);
    const m = await loadModel(dir);
    assert.equal(m.format, 'hf');
    const want: ModelConfig = {
      architecture: 'llama',
      name: m.config.name,
      vocabSize: V,
      hiddenSize: D,
      intermediateSize: F,
      numLayers: 1,
      numHeads: Hq,
      numKvHeads: Hkv,
      headDim: d,
      rmsNormEps: 1e-5,
      ropeTheta: 5000,
      ropeLayout: 'halves',
      contextLength: 256,
      tiedEmbeddings: true,
      qkvBias: false,
    };
    assert.deepEqual(m.config, want);
    assert.deepEqual([...m.weights.keys()].sort(), tensors.map((t) => t.canon).sort());
    for (const t of tensors) {
      const w = m.weights.get(t.canon);
      assert.ok(w, t.canon);
      assert.deepEqual([...w.dims], [...t.shape], `${t.canon} dims`);
      assert.deepEqual([...w.data], t.values, `${t.canon} (${t.dtype}) values`);
    }

    assert.equal(m.tokenizer.vocabSize, V);
    assert.equal(m.tokenizer.bosId, 1);
    assert.deepEqual(m.tokenizer.eosIds, [2]);
    const ids = m.tokenizer.encode('the big red cat sat on a mat .');
    assert.deepEqual(ids, [1, 3, 12, 13, 4, 5, 6, 7, 8, 15]);

    // The engine on the loaded folder against the reference on the numbers defined above.
    const ref = createReference(want, new Map(tensors.map((t) => [t.canon, { dims: [...t.shape], data: Float32Array.from(t.values) }])));
    const expected = ref.prefill(ids).logits;
    const engine = await createEngine(m, 4);
    const pre = await engine.prefill(ids, { allLogits: true });
    await engine.dispose();
    ids.forEach((_, i) => {
      const diff = maxAbsDiff(pre.logits.subarray(i * V, (i + 1) * V), expected[i] ?? []);
      assert.ok(diff < 1e-4, `position ${i}: max |Δlogit| ${diff}`);
    });
    // Not a degenerate model: the logits vary across the vocabulary.
    const last = expected.at(-1) ?? new Float64Array(0);
    assert.ok(Math.max(...last) - Math.min(...last) > 0.1);
  });
});
