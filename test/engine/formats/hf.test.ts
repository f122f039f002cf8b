/**
 * Hugging Face folders: config.json → ModelConfig for real Llama 3.2 / Qwen2.5 /
 * Mistral / Llama 2 configs, random-weight models round-tripped through
 * writeHfFolder (single file, sharded, F16, BF16), and broken folders, each a
 * ModelFileError naming the file and the problem.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fp16ToFp32, fp32ToBf16, fp32ToFp16 } from '../../../electron/engine/formats/dequant.ts';
import { hfConfigJson, hfModelConfig, loadHfModel, readHfModelHeader, writeHfFolder } from '../../../electron/engine/formats/hf.ts';
import { buildDecoderGraph } from '../../../electron/engine/graph/decoder.ts';
import {
  bf16ToFp32,
  openSafetensorsModel,
  readSafetensorsData,
  writeSafetensors,
  type SafetensorsWriteTensor,
} from '../../../electron/engine/formats/safetensors.ts';
import { ModelFileError, type ModelConfig } from '../../../electron/engine/model.ts';
import { convertRopeLayout, randomModel, type RandomModelOptions } from '../reference/random-model.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvlab-hf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirNo = 0;
const freshDir = (): string => join(tmp, `m${dirNo++}`);

function throwsModelError(fn: () => unknown, file: string, code: string, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ModelFileError, `expected a ModelFileError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.equal(caught.code, code);
  for (const p of patterns) assert.match(caught.problem, p);
}

const base: RandomModelOptions = {
  vocab: 37,
  hidden: 16,
  inter: 24,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 4,
  qkvBias: false,
  tied: false,
  ropeLayout: 'halves',
  ropeTheta: 10000,
  seed: 1,
};

describe('HF config.json → ModelConfig', () => {
  const file = '/models/x/config.json';

  it('Llama 3.2 1B (GQA 4, head_dim, llama3 RoPE scaling, tied)', () => {
    const json = {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 128000,
      eos_token_id: 128001,
      head_dim: 64,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 8192,
      max_position_embeddings: 131072,
      mlp_bias: false,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 16,
      num_key_value_heads: 8,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      rope_theta: 500000.0,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.45.0.dev0',
      use_cache: true,
      vocab_size: 128256,
    };
    const want: ModelConfig = {
      architecture: 'llama',
      name: 'Llama-3.2-1B',
      vocabSize: 128256,
      hiddenSize: 2048,
      intermediateSize: 8192,
      numLayers: 16,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      ropeLayout: 'halves',
      contextLength: 131072,
      tiedEmbeddings: true,
      qkvBias: false,
    };
    assert.deepEqual(hfModelConfig(json, file, 'Llama-3.2-1B', false), want);
    // tie_word_embeddings: true wins over a stored lm_head (transformers ties it).
    assert.deepEqual(hfModelConfig(json, file, 'Llama-3.2-1B', true), want);
    // transformers 5 writes rope_parameters instead of rope_theta + rope_scaling.
    const { rope_scaling, rope_theta, ...v5 } = json;
    assert.deepEqual(hfModelConfig({ ...v5, rope_parameters: { ...rope_scaling, rope_theta } }, file, 'Llama-3.2-1B', false), want);
  });

  it('Qwen2.5 0.5B (q/k/v bias, GQA 7, no head_dim, unused sliding window)', () => {
    const json = {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 21,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.43.1',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    };
    const c = hfModelConfig(json, file, 'q', false);
    assert.deepEqual(
      [c.architecture, c.headDim, c.numKvHeads, c.qkvBias, c.tiedEmbeddings, c.ropeTheta, c.rmsNormEps, c.contextLength, c.ropeLayout, c.ropeScaling],
      ['qwen2', 64, 2, true, true, 1e6, 1e-6, 32768, 'halves', undefined],
    );
    // With use_sliding_window the context is capped at the window (KV Lab runs full attention).
    assert.equal(hfModelConfig({ ...json, use_sliding_window: true, sliding_window: 4096 }, file, 'q', false).contextLength, 4096);
  });

  it('Mistral 7B v0.1 (sliding window 4096 caps the context), Llama 2 (defaults)', () => {
    const mistral = {
      architectures: ['MistralForCausalLM'],
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 4096,
      initializer_range: 0.02,
      intermediate_size: 14336,
      max_position_embeddings: 32768,
      model_type: 'mistral',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      sliding_window: 4096,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      vocab_size: 32000,
    };
    const m = hfModelConfig(mistral, file, 'm', true);
    assert.deepEqual([m.architecture, m.contextLength, m.headDim, m.tiedEmbeddings, m.qkvBias], ['mistral', 4096, 128, false, false]);
    assert.equal(hfModelConfig({ ...mistral, sliding_window: null }, file, 'm', true).contextLength, 32768);

    // Llama 2 7B as first published: no num_key_value_heads, no rope_theta, no tie_word_embeddings.
    const llama2 = {
      architectures: ['LlamaForCausalLM'],
      hidden_act: 'silu',
      hidden_size: 4096,
      intermediate_size: 11008,
      max_position_embeddings: 4096,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      rms_norm_eps: 1e-5,
      vocab_size: 32000,
      rope_scaling: null,
    };
    const l = hfModelConfig(llama2, file, 'l', true);
    assert.deepEqual([l.numKvHeads, l.headDim, l.ropeTheta, l.tiedEmbeddings, l.contextLength, l.ropeScaling], [32, 128, 10000, false, 4096, undefined]);
    // Without tie_word_embeddings, a missing lm_head means tied.
    assert.equal(hfModelConfig(llama2, file, 'l', false).tiedEmbeddings, true);
    // Linear scaling; a factor of 1 is no scaling; legacy `type` key.
    assert.deepEqual(hfModelConfig({ ...llama2, rope_scaling: { type: 'linear', factor: 4 } }, file, 'l', true).ropeScaling, { type: 'linear', factor: 4 });
    assert.equal(hfModelConfig({ ...llama2, rope_scaling: { rope_type: 'linear', factor: 1 } }, file, 'l', true).ropeScaling, undefined);
  });

  it('refuses what KV Lab does not implement, naming the file and the field', () => {
    const ok = hfConfigJson(randomModel(base).config);
    const bad = (patch: Record<string, unknown>, code: string, ...patterns: RegExp[]) =>
      throwsModelError(() => hfModelConfig({ ...ok, ...patch }, file, 'x', true), file, code, ...patterns);
    bad({ model_type: 'gemma2' }, 'E_MODEL_UNSUPPORTED', /model_type "gemma2" is not supported/, /llama, mistral, qwen2/);
    bad({ model_type: undefined }, 'E_MODEL_UNSUPPORTED', /model_type missing/, /llama, mistral, qwen2/);
    bad({ rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'E_MODEL_UNSUPPORTED', /RoPE scaling "yarn"/);
    bad({ rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'E_MODEL_FILE', /rope_scaling\.low_freq_factor/);
    bad({ hidden_act: 'gelu' }, 'E_MODEL_UNSUPPORTED', /hidden_act "gelu"/);
    bad({ mlp_bias: true }, 'E_MODEL_UNSUPPORTED', /mlp_bias/);
    bad({ hidden_size: '16' }, 'E_MODEL_FILE', /'hidden_size' is "16", expected a positive integer/);
    bad({ num_hidden_layers: undefined }, 'E_MODEL_FILE', /'num_hidden_layers' is missing/);
    bad({ num_key_value_heads: 3 }, 'E_MODEL_FILE', /not a multiple of num_key_value_heads 3/);
    bad({ head_dim: 5 }, 'E_MODEL_FILE', /head size 5 is odd/);
    bad({ rms_norm_eps: 0 }, 'E_MODEL_FILE', /rms_norm_eps/);
    throwsModelError(
      () => hfModelConfig({ ...ok, tie_word_embeddings: false }, file, 'x', false),
      file,
      'E_MODEL_FILE',
      /tie_word_embeddings is false but the weights have no 'lm_head\.weight'/,
    );
    throwsModelError(() => hfModelConfig([1], file, 'x', false), file, 'E_MODEL_FILE', /not a JSON object/);
  });
});

describe('writeHfFolder → loadHfModel round trip', () => {
  const shapes: [string, Partial<RandomModelOptions>][] = [
    [
      'llama, GQA 2, head_dim ≠ hidden/heads, untied, llama3 scaling',
      {
        ropeTheta: 500000,
        ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
        contextLength: 131072,
      },
    ],
    [
      'qwen2, q/k/v bias, GQA 4, tied',
      { architecture: 'qwen2', qkvBias: true, tied: true, hidden: 32, heads: 8, kvHeads: 2, headDim: 8, rmsNormEps: 1e-6, ropeTheta: 1e6, seed: 2 },
    ],
    ['mistral, GQA 1, linear scaling', { architecture: 'mistral', kvHeads: 4, ropeScaling: { type: 'linear', factor: 2 }, seed: 3 }],
    [
      'llama with attention_bias (q/k/v bias), tied, head dim 16',
      { architecture: 'llama', qkvBias: true, tied: true, heads: 2, kvHeads: 1, headDim: 16, seed: 4 },
    ],
  ];

  for (const [label, patch] of shapes) {
    it(label, () => {
      const model = randomModel({ ...base, ...patch });
      const dir = freshDir();
      writeHfFolder(dir, model);
      const loaded = loadHfModel(dir);
      assert.deepEqual(loaded.config, model.config);
      assert.deepEqual(loaded.weights, model.weights);
      assert.equal(loaded.metadata['model_type'], model.config.architecture);
    });
  }

  it('2 shards + index load exactly as one file', () => {
    const model = randomModel({ ...base, layers: 3, seed: 9 });
    const one = freshDir();
    const two = freshDir();
    writeHfFolder(one, model);
    const files = writeHfFolder(two, model, { shards: 2 });
    assert.ok(files.some((f) => f.endsWith('model-00002-of-00002.safetensors')));
    assert.ok(files.some((f) => f.endsWith('model.safetensors.index.json')));
    const a = loadHfModel(one);
    const b = loadHfModel(two);
    assert.deepEqual(b.config, a.config);
    assert.deepEqual(b.weights, a.weights);
    assert.deepEqual(b.weights, model.weights);
    assert.equal(readHfModelHeader(two).safetensors.files.length, 2);
  });

  it('BF16 and F16 folders give the weights rounded to nearest-even, widened exactly', () => {
    const model = randomModel({ ...base, seed: 5 });
    for (const [dtype, round] of [
      ['BF16', (x: number) => bf16ToFp32(fp32ToBf16(x))],
      ['F16', (x: number) => fp16ToFp32(fp32ToFp16(x))],
    ] as const) {
      const dir = freshDir();
      writeHfFolder(dir, model, { dtype });
      const header = readHfModelHeader(dir);
      assert.ok([...header.safetensors.tensors.values()].every((t) => t.dtype === dtype));
      assert.equal(header.metadata['torch_dtype'], dtype === 'BF16' ? 'bfloat16' : 'float16');
      const loaded = loadHfModel(dir);
      assert.deepEqual(loaded.config, model.config);
      for (const [name, w] of model.weights) {
        const got = loaded.weights.get(name);
        assert.ok(got, name);
        assert.deepEqual(got.data, Float32Array.from(w.data, round), `${dtype} ${name}`);
        const maxRel = w.data.reduce((m, x, i) => Math.max(m, Math.abs((got.data[i] ?? 0) - x) / Math.max(Math.abs(x), 1e-3)), 0);
        assert.ok(maxRel < (dtype === 'BF16' ? 2 ** -8 : 2 ** -11) * 1.01, `${dtype} ${name} relative error ${maxRel}`);
      }
    }
  });

  it('the writer refuses interleaved RoPE (HF checkpoints are rotate-half) and inconsistent architectures', () => {
    const model = randomModel(base);
    assert.throws(() => writeHfFolder(freshDir(), convertRopeLayout(model, 'interleaved')), /rotate-half/);
    assert.throws(() => writeHfFolder(freshDir(), randomModel({ ...base, architecture: 'mistral', qkvBias: true })), /mistral has no q\/k\/v biases/);
    assert.throws(() => writeHfFolder(freshDir(), randomModel({ ...base, architecture: 'qwen2', qkvBias: false })), /qwen2 model always has q\/k\/v biases/);
  });
});

describe('broken HF folders', () => {
  /** The folder's single model.safetensors rewritten with `edit` applied to its tensors. */
  function editWeights(dir: string, edit: (ts: SafetensorsWriteTensor[]) => SafetensorsWriteTensor[]): string {
    const path = join(dir, 'model.safetensors');
    const st = openSafetensorsModel(path);
    const ts: SafetensorsWriteTensor[] = [...st.tensors.values()].map((t) => ({ name: t.name, dims: t.dims, dtype: 'F32', data: readSafetensorsData(t) }));
    writeSafetensors(path, edit(ts));
    return path;
  }
  const editConfig = (dir: string, patch: Record<string, unknown>): void => {
    const p = join(dir, 'config.json');
    writeFileSync(p, JSON.stringify({ ...(JSON.parse(readFileSync(p, 'utf8')) as object), ...patch }));
  };
  const folder = (opts: Partial<RandomModelOptions> = {}): string => {
    const dir = freshDir();
    writeHfFolder(dir, randomModel({ ...base, ...opts }));
    return dir;
  };

  it('missing or unreadable config.json', () => {
    const dir = folder();
    rmSync(join(dir, 'config.json'));
    throwsModelError(() => loadHfModel(dir), join(dir, 'config.json'), 'E_MODEL_FILE', /missing/, /config\.json/);
    writeFileSync(join(dir, 'config.json'), '{ "model_type": ');
    throwsModelError(() => loadHfModel(dir), join(dir, 'config.json'), 'E_MODEL_FILE', /JSON/);
  });

  it('unsupported model_type', () => {
    const dir = folder();
    editConfig(dir, { model_type: 'phi3' });
    throwsModelError(
      () => loadHfModel(dir),
      join(dir, 'config.json'),
      'E_MODEL_UNSUPPORTED',
      /model_type "phi3" is not supported; KV Lab supports: llama, mistral, qwen2/,
    );
  });

  it('missing weights file', () => {
    const dir = folder();
    rmSync(join(dir, 'model.safetensors'));
    throwsModelError(() => loadHfModel(dir), join(dir, 'model.safetensors'), 'E_MODEL_FILE', /missing/);
  });

  it('a tensor KV Lab does not implement (o_proj.bias) is refused, an old rotary inv_freq buffer skipped', () => {
    const dir = folder();
    const p = editWeights(dir, (ts) => [...ts, { name: 'model.layers.0.self_attn.o_proj.bias', dims: [16], dtype: 'F32', data: new Float32Array(16) }]);
    throwsModelError(
      () => loadHfModel(dir),
      p,
      'E_MODEL_UNSUPPORTED',
      /tensor 'model\.layers\.0\.self_attn\.o_proj\.bias' is not part of the llama architecture/,
    );
    const dir2 = folder();
    editWeights(dir2, (ts) => [...ts, { name: 'model.layers.1.self_attn.rotary_emb.inv_freq', dims: [2], dtype: 'F32', data: Float32Array.from([1, 0.01]) }]);
    assert.deepEqual(loadHfModel(dir2).weights, randomModel(base).weights);
  });

  it('q/k/v biases in a model whose config says it has none; a layer beyond num_hidden_layers', () => {
    const dir = folder();
    const p = editWeights(dir, (ts) => [...ts, { name: 'model.layers.0.self_attn.q_proj.bias', dims: [16], dtype: 'F32', data: new Float32Array(16) }]);
    throwsModelError(() => loadHfModel(dir), p, 'E_MODEL_FILE', /q\/k\/v bias, but config\.json says the model has none/);
    const dir2 = folder();
    const p2 = editWeights(dir2, (ts) => [...ts, { name: 'model.layers.7.mlp.up_proj.weight', dims: [24, 16], dtype: 'F32', data: new Float32Array(24 * 16) }]);
    throwsModelError(() => loadHfModel(dir2), p2, 'E_MODEL_FILE', /belongs to layer 7, but num_hidden_layers is 2/);
  });

  it('weights that do not match the config, a missing weight, a NaN', () => {
    const dir = folder();
    editConfig(dir, { vocab_size: 40 });
    throwsModelError(() => loadHfModel(dir), join(dir, 'model.safetensors'), 'E_MODEL_FILE', /weight 'embed' has dims \[37, 16\], expected \[40, 16\]/);
    const dir2 = folder();
    const p2 = editWeights(dir2, (ts) => ts.filter((t) => t.name !== 'model.layers.1.mlp.down_proj.weight'));
    throwsModelError(() => loadHfModel(dir2), p2, 'E_MODEL_FILE', /missing weight 'layers\.1\.wDown'/);
    const dir3 = folder();
    const p3 = editWeights(dir3, (ts) =>
      ts.map((t) => (t.name === 'model.norm.weight' ? { ...t, data: Float32Array.from(t.data, (x, i) => (i === 3 ? NaN : x)) } : t)),
    );
    // Loading reads no weights; the NaN is found when the graph builder reads the tensor.
    const m3 = loadHfModel(dir3);
    throwsModelError(() => buildDecoderGraph(m3.config, m3.weights, 'x.data', dir3), p3, 'E_MODEL_FILE', /tensor 'model\.norm\.weight' holds NaN at index 3/);
  });

  it('untied config without lm_head.weight', () => {
    const dir = folder({ tied: true });
    editConfig(dir, { tie_word_embeddings: false });
    throwsModelError(() => loadHfModel(dir), join(dir, 'config.json'), 'E_MODEL_FILE', /no 'lm_head\.weight'/);
  });

  it('a path that is not a folder', () => {
    const dir = folder();
    throwsModelError(() => readHfModelHeader(join(dir, 'config.json')), join(dir, 'config.json'), 'E_MODEL_FILE', /not a folder/);
    throwsModelError(() => readHfModelHeader(join(dir, 'nope')), join(dir, 'nope'), 'E_MODEL_FILE', /not found/);
  });
});
