/**
 * Correctness group 2, last part (issue #3): the same random model written as
 * a Hugging Face folder (rotate-half Q/K, safetensors) and as a GGUF
 * (llama.cpp's permuted Q/K) loads through the real loaders and gives the
 * same logits through the engine — and both match the float64 reference.
 * A Q8_0 GGUF of the same model stays close (quantisation error only).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeGgufModel } from '../../electron/engine/formats/gguf-model-writer.ts';
import { writeHfFolder } from '../../electron/engine/formats/hf.ts';
import { loadModel } from '../../electron/engine/load.ts';
import { createReference } from './reference/forward.ts';
import { randomModel } from './reference/random-model.ts';
import { createEngine, maxAbsDiff } from './engine-helpers.ts';

const prompt = [1, 40, 7, 99, 23, 23, 5, 61, 80, 3, 11];

describe('one model, two file formats', () => {
  for (const [label, arch, bias, tied] of [
    ['llama, GQA 2, untied', 'llama', false, false],
    ['qwen2, qkv bias, tied', 'qwen2', true, true],
  ] as const) {
    it(`${label}: HF folder and GGUF give the same logits, matching the reference`, async () => {
      const m = randomModel({
        vocab: 300,
        hidden: 32,
        inter: 48,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        headDim: 8,
        qkvBias: bias,
        tied,
        ropeLayout: 'halves',
        ropeTheta: 10000,
        seed: 9,
        architecture: arch,
      });
      const dir = mkdtempSync(join(tmpdir(), 'kvlab-fmt-'));
      writeHfFolder(join(dir, 'hf'), m, { shards: 2 });
      writeGgufModel(join(dir, 'model.gguf'), m);
      const hf = await loadModel(join(dir, 'hf'));
      const gguf = await loadModel(join(dir, 'model.gguf'));
      assert.equal(hf.config.ropeLayout, 'halves');
      assert.equal(gguf.config.ropeLayout, arch === 'llama' ? 'interleaved' : 'halves');
      const want = createReference(m.config, m.weights).prefill(prompt).logits;
      const logits = [];
      for (const model of [hf, gguf]) {
        const engine = await createEngine(model, 4);
        const pre = await engine.prefill(prompt, { allLogits: true });
        logits.push(pre.logits);
        const V = m.config.vocabSize;
        prompt.forEach((_, t) => assert.ok(maxAbsDiff(pre.logits.subarray(t * V, (t + 1) * V), want[t] ?? []) < 1e-4, `${model.format} position ${t}`));
        await engine.dispose();
      }
      assert.ok(maxAbsDiff(logits[0] ?? [], logits[1] ?? []) < 1e-5, `HF vs GGUF: ${maxAbsDiff(logits[0] ?? [], logits[1] ?? [])}`);
    });
  }

  it('a Q8_0 GGUF of the same model loads and stays within quantisation error of F32', async () => {
    const m = randomModel({
      vocab: 300,
      hidden: 64,
      inter: 96,
      layers: 2,
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      qkvBias: false,
      tied: false,
      ropeLayout: 'halves',
      ropeTheta: 10000,
      seed: 10,
    });
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-q8-'));
    writeGgufModel(join(dir, 'f32.gguf'), m);
    writeGgufModel(join(dir, 'q8.gguf'), m, { type: 'Q8_0' });
    const out = [];
    for (const f of ['f32.gguf', 'q8.gguf']) {
      const engine = await createEngine(await loadModel(join(dir, f)));
      out.push((await engine.prefill(prompt)).logits);
      await engine.dispose();
    }
    const d = maxAbsDiff(out[0] ?? [], out[1] ?? []);
    assert.ok(d > 0 && d < 0.15, `Q8_0 vs F32 max |Δlogit| = ${d}`);
  });
});
