import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { syntheticVocab, writeGgufModel } from '../../../electron/engine/formats/gguf-model-writer.ts';
import { loadModel } from '../../../electron/engine/load.ts';
import { convertRopeLayout, randomModel } from '../reference/random-model.ts';

describe('writeGgufModel', () => {
  it('round-trips a model with a 32,000-token vocabulary (a header far over the writer’s first 64 KiB buffer)', async () => {
    const m = randomModel({
      vocab: 32000,
      hidden: 16,
      inter: 24,
      layers: 2,
      heads: 2,
      kvHeads: 1,
      headDim: 8,
      qkvBias: false,
      tied: false,
      ropeLayout: 'halves',
      ropeTheta: 500000,
      seed: 4,
    });
    const path = join(mkdtempSync(join(tmpdir(), 'kvlab-gw-')), 'm.gguf');
    writeGgufModel(path, m);
    const back = await loadModel(path);
    assert.equal(back.tokenizer.vocabSize, 32000);
    assert.equal(back.tokenizer.piece(31999), syntheticVocab(32000).tokens[31999]?.replace('▁', ' '));
    assert.equal(back.config.ropeTheta, 500000);
    // Llama GGUFs hold Q/K in llama.cpp's interleaved order: the loader reports it, and the rows are the permuted ones.
    assert.equal(back.config.ropeLayout, 'interleaved');
    const inter = convertRopeLayout(m, 'interleaved');
    for (const [name, w] of inter.weights) assert.deepEqual(back.weights.get(name)?.data, w.data, name);
  });
});
