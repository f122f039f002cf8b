/**
 * core's one list of model formats: recognition by name and magic (in the
 * loader's order: sure names, then the GGUF magic, then ".bin"), the dialog
 * filter, the file association and the loader's "not a model" message, all
 * derived from the list.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ASSOCIATED_MODEL_EXTENSIONS, MODEL_FORMAT_IDS, modelFileDialogFilter, recogniseModelFile, unreadableModelMessage } from '@kvlab/core';

const noMagic = (): string => {
  throw new Error('the magic was read although the name was sure');
};

describe('model formats', () => {
  it('lists each format once', () => {
    assert.deepEqual(MODEL_FORMAT_IDS, ['gguf', 'llama2c', 'hf']);
  });

  it('recognises sure names without reading the file', () => {
    assert.equal(recogniseModelFile('stories.gguf', noMagic), 'gguf');
    assert.equal(recogniseModelFile('MODEL.GGUF', noMagic), 'gguf');
    assert.equal(recogniseModelFile('config.json', noMagic), 'hf');
    assert.equal(recogniseModelFile('model-00001-of-00002.safetensors', noMagic), 'hf');
    assert.equal(recogniseModelFile('model.safetensors.index.json', noMagic), 'hf');
  });

  it('reads the magic before trusting a weak ending', () => {
    assert.equal(
      recogniseModelFile('weights.bin', () => 'GGUF'),
      'gguf',
    );
    assert.equal(
      recogniseModelFile('stories260K.bin', () => '\u0000\u0001\u0000\u0000'),
      'llama2c',
    );
    assert.equal(
      recogniseModelFile('model', () => 'GGUF'),
      'gguf',
    );
    assert.equal(
      recogniseModelFile('passwd', () => 'root'),
      null,
    );
    assert.equal(
      recogniseModelFile('tokenizer_config.json', () => '{\n  "'),
      null,
    );
  });

  it('derives the dialog filter, the association and the loader message from the list', () => {
    assert.deepEqual(modelFileDialogFilter(), { name: 'Models (GGUF, llama2.c)', extensions: ['gguf', 'bin'] });
    assert.deepEqual(ASSOCIATED_MODEL_EXTENSIONS, ['.gguf']);
    assert.equal(
      unreadableModelMessage(),
      'not a model KV Lab can read: expected a GGUF file (.gguf), a llama2.c checkpoint (.bin) or a Hugging Face folder (config.json + *.safetensors)',
    );
  });
});
