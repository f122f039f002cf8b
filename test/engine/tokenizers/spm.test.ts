/**
 * The hand-written GGUF "llama" SentencePiece tokenizer against llama.cpp's
 * test vectors (../shared/vocab/ggml-vocab-llama-spm.gguf + .inp/.out, data.md §2)
 * and stories260K's vocabulary (data.md §1), plus the corner cases of
 * llm_tokenizer_spm on small hand-made vocabularies.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { readGgufHeader } from '../../../electron/engine/formats/gguf.ts';
import { ModelFileError } from '../../../electron/engine/model.ts';
import { SpmTokenType, createSpmTokenizer, spmVocabFromGguf } from '../../../electron/engine/tokenizers/spm.ts';
import type { SpmTokenizer, SpmVocab } from '../../../electron/engine/tokenizers/spm.ts';
import { sharedPath } from '../shared-data.ts';
import { vectors } from './vectors.ts';

const loadGgufTokenizer = (rel: string): SpmTokenizer => {
  const path = sharedPath(rel);
  return createSpmTokenizer(spmVocabFromGguf(readGgufHeader(path).metadata, path));
};

/** stories260K's greedy output, data.md §1.2: the first 20 generated ids. */
const GOLDEN_FIRST_20 = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];

describe('SPM tokenizer: Llama-2 vocab (llama.cpp test vectors)', () => {
  let tok: SpmTokenizer;
  before(() => {
    tok = loadGgufTokenizer('vocab/ggml-vocab-llama-spm.gguf');
  });

  it('reads the vocabulary from the GGUF metadata', () => {
    const v = tok.vocab;
    assert.equal(tok.vocabSize, 32000);
    assert.equal(v.tokens.length, 32000);
    assert.equal(v.scores.length, 32000);
    assert.deepEqual([v.bosId, v.eosId, v.unkId, v.addBos, v.addSpacePrefix], [1, 2, 0, true, true]);
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.eosIds, [2]);
    assert.deepEqual([v.tokens[0], v.tokens[1], v.tokens[2], v.tokens[13]], ['<unk>', '<s>', '</s>', '<0x0A>']);
  });

  it('encodes all 46 vectors exactly (no BOS)', () => {
    const cases = vectors('llama-spm');
    const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text, { addBos: false })) !== JSON.stringify(c.ids));
    assert.deepEqual(
      bad.map((c) => ({ text: c.text, want: c.ids.join(' '), got: tok.encode(c.text, { addBos: false }).join(' ') })),
      [],
    );
    assert.equal(cases.length - bad.length, 46);
  });

  it('decode(encode(s)) gives back every vector string', () => {
    // Byte fallback covers every byte, and decode drops exactly the space the
    // encoder prefixed, so all 46 strings round-trip — including the empty
    // string, leading spaces, tabs, newlines, emoji and Khmer.
    for (const { text } of vectors('llama-spm')) {
      assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
      assert.equal(tok.decode(tok.encode(text, { addBos: false })), text, JSON.stringify(text));
    }
  });

  it('adds BOS by default; BOS and EOS are dropped by decode', () => {
    assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
    assert.deepEqual(tok.encode(''), [1]);
    assert.deepEqual(tok.encode('', { addBos: false }), []);
    assert.equal(tok.decode([1, 15043, 3186, 2]), 'Hello world');
    assert.equal(tok.piece(15043), ' Hello');
    assert.equal(tok.piece(13), '<0x0A>');
    assert.equal(tok.piece(1), '<s>');
  });

  it('matches control tokens written in the text only with parseSpecial, then prefixes the next fragment with a space', () => {
    // parse_special = false (default): "<s>" is plain text.
    const plain = tok.encode('<s>Hi', { addBos: false });
    assert.ok(!plain.includes(1));
    assert.equal(tok.decode(plain), '<s>Hi');
    // parse_special = true: BOS, then " Hi" (llama.cpp prefixes a space after a special token).
    const parsed = tok.encode('<s>Hi</s>', { addBos: false, parseSpecial: true });
    assert.deepEqual(parsed, [1, ...tok.encode('Hi', { addBos: false }), 2]);
    assert.equal(tok.decode(parsed), 'Hi');
  });
});

describe('SPM tokenizer: stories260K vocab', () => {
  let tok: SpmTokenizer;
  before(() => {
    tok = loadGgufTokenizer('models/stories260K/stories260K.gguf');
  });

  it('has the documented vocabulary (data.md §1.1)', () => {
    const v = tok.vocab;
    assert.equal(tok.vocabSize, 512);
    const count = (t: number): number => v.types.filter((x) => x === t).length;
    assert.deepEqual([count(SpmTokenType.normal), count(SpmTokenType.unknown), count(SpmTokenType.control), count(SpmTokenType.byte)], [253, 1, 2, 256]);
    assert.deepEqual([v.bosId, v.eosId, v.unkId], [1, 2, 0]);
    assert.equal(v.addBos, true);
    assert.equal(v.addSpacePrefix, true);
  });

  it('encodes "Once upon a time" as the golden text begins: " Once" " upon" " a" " time"', () => {
    assert.deepEqual(tok.encode('Once upon a time', { addBos: false }), [403, 407, 261, 378]);
    assert.deepEqual(tok.encode('Once upon a time'), [1, 403, 407, 261, 378]);
    assert.deepEqual(
      [403, 407, 261, 378].map((id) => tok.piece(id)),
      [' Once', ' upon', ' a', ' time'],
    );
  });

  it('decodes the golden ids', () => {
    assert.equal(tok.decode(GOLDEN_FIRST_20.slice(0, 15)), 'Once upon a time, there was a little girl named Lily.');
    assert.equal(tok.decode([1, ...GOLDEN_FIRST_20.slice(0, 15)]), 'Once upon a time, there was a little girl named Lily.');
    assert.deepEqual(tok.encode('Once upon a time, there was a little girl named Lily.', { addBos: false }), GOLDEN_FIRST_20.slice(0, 15));
  });

  it('round-trips any Unicode text through byte fallback (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\u2581')),
        (s) => tok.decode(tok.encode(s)) === s,
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------
// Small vocabularies: the algorithm's corners
// ---------------------------------------------------------------------------

const HEX = '0123456789ABCDEF';
/** <unk>, <s>, </s>, 256 byte tokens, then `pieces` (text, score, type). */
function smallVocab(pieces: [string, number, number?][], extra: Partial<SpmVocab> = {}): SpmVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const scores = [0, 0, 0];
  const types: number[] = [SpmTokenType.unknown, SpmTokenType.control, SpmTokenType.control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${HEX[b >> 4]}${HEX[b & 15]}>`);
    scores.push(0);
    types.push(SpmTokenType.byte);
  }
  for (const [t, s, ty] of pieces) {
    tokens.push(t);
    scores.push(s);
    types.push(ty ?? SpmTokenType.normal);
  }
  return { tokens, scores, types, bosId: 1, eosId: 2, unkId: 0, addBos: false, addSpacePrefix: true, ...extra };
}
const B = 259; // first id after the byte tokens
const byteId = (b: number): number => 3 + b;

describe('SPM tokenizer: algorithm', () => {
  it('merges the highest-scoring pair first', () => {
    // "▁abc": ab (-1) beats bc (-2) → ▁, ab, c; "abc" exists but needs ab+c or a+bc.
    const tok = createSpmTokenizer(
      smallVocab([
        ['▁', -10],
        ['a', -10],
        ['b', -10],
        ['c', -10],
        ['ab', -1],
        ['bc', -2],
        ['abc', -5],
      ]),
    );
    assert.deepEqual(tok.encode('abc'), [B + 0, B + 6]); // ▁ + (ab + c → abc)
    const tok2 = createSpmTokenizer(
      smallVocab([
        ['▁', -10],
        ['a', -10],
        ['b', -10],
        ['c', -10],
        ['ab', -1],
        ['bc', -2],
      ]),
    );
    assert.deepEqual(tok2.encode('abc'), [B + 0, B + 4, B + 3]); // ▁, ab, c
  });

  it('breaks score ties to the leftmost pair', () => {
    // "aaa": both "aa" pairs score the same; the left one merges → aa, a.
    const tok = createSpmTokenizer(
      smallVocab(
        [
          ['a', -10],
          ['aa', -1],
        ],
        { addSpacePrefix: false },
      ),
    );
    assert.deepEqual(tok.encode('aaa'), [B + 1, B + 0]);
    assert.deepEqual(tok.encode('aaaaa'), [B + 1, B + 1, B + 0]);
  });

  it('falls back to <0xNN> bytes for code points with no token', () => {
    const tok = createSpmTokenizer(smallVocab([['▁', -1]]));
    // "é" = C3 A9; "🦙" = F0 9F A6 99
    assert.deepEqual(tok.encode('é🦙'), [B, byteId(0xc3), byteId(0xa9), byteId(0xf0), byteId(0x9f), byteId(0xa6), byteId(0x99)]);
    assert.equal(tok.decode(tok.encode('é🦙')), 'é🦙');
    // A lone byte token in decode that is not valid UTF-8 becomes U+FFFD.
    assert.equal(tok.decode([byteId(0xc3)]), '\ufffd');
  });

  it('a byte with no token gives <unk>, or an error when there is no unknown id', () => {
    // A vocabulary without <0xNN> tokens (or one-byte tokens) cannot spell unknown code points.
    const v = smallVocab([['▁', -1]]);
    const noBytes: SpmVocab = {
      ...v,
      types: v.types.map((t) => (t === SpmTokenType.byte ? SpmTokenType.normal : t)),
      tokens: v.tokens.map((t, i) => (i >= 3 && i < B ? `[b${i}]` : t)),
      unkId: undefined,
    };
    assert.throws(() => createSpmTokenizer(noBytes).encode('x'), /no token for byte 0x78/);
    // With an unknown id, such bytes give <unk> (llama.cpp would throw std::out_of_range).
    assert.deepEqual(createSpmTokenizer({ ...noBytes, unkId: 0 }).encode('x'), [B, 0]);
  });

  it('cuts user-defined tokens out of the text before merging, longest first', () => {
    const tok = createSpmTokenizer(
      smallVocab([
        ['▁', -1],
        ['x', -1],
        ['<tool>', 0, SpmTokenType.userDefined],
        ['<tool>x', 0, SpmTokenType.userDefined],
      ]),
    );
    // "<tool>x" is longer, so it is matched first; the rest gets a space prefix (previous was special).
    assert.deepEqual(tok.encode('x<tool>xx'), [B, B + 1, B + 3, B, B + 1]);
    assert.equal(tok.decode(tok.encode('x<tool>xx')), 'x<tool>xx');
  });

  it('without addSpacePrefix, no dummy space is added or removed', () => {
    const tok = createSpmTokenizer(
      smallVocab(
        [
          ['▁', -1],
          ['a', -1],
        ],
        { addSpacePrefix: false },
      ),
    );
    assert.deepEqual(tok.encode('a a'), [B + 1, B, B + 1]);
    assert.equal(tok.decode([B, B + 1]), ' a');
  });

  it('rejects ids outside the vocabulary', () => {
    const tok = createSpmTokenizer(smallVocab([]));
    assert.throws(() => tok.decode([9999]), RangeError);
    assert.throws(() => tok.piece(-1), RangeError);
  });
});

describe('spmVocabFromGguf', () => {
  const base = (): Map<string, unknown> =>
    new Map<string, unknown>([
      ['tokenizer.ggml.model', 'llama'],
      ['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', '▁a']],
      ['tokenizer.ggml.scores', [0, 0, 0, -1]],
      ['tokenizer.ggml.token_type', [2, 3, 3, 1]],
    ]);

  it('applies llama.cpp defaults for absent keys', () => {
    const v = spmVocabFromGguf(base(), 'm.gguf');
    assert.deepEqual([v.bosId, v.eosId, v.unkId, v.addBos, v.addSpacePrefix], [1, 2, 0, true, true]);
    const m = base();
    m.delete('tokenizer.ggml.scores');
    m.delete('tokenizer.ggml.token_type');
    const w = spmVocabFromGguf(m, 'm.gguf');
    assert.deepEqual(w.scores, [0, 0, 0, 0]);
    assert.deepEqual(w.types, [1, 1, 1, 1]);
  });

  it('reads explicit ids and flags (numbers or bigints)', () => {
    const m = base();
    m.set('tokenizer.ggml.bos_token_id', 3);
    m.set('tokenizer.ggml.eos_token_id', 0n);
    m.set('tokenizer.ggml.add_bos_token', false);
    m.set('tokenizer.ggml.add_space_prefix', false);
    const v = spmVocabFromGguf(m, 'm.gguf');
    assert.deepEqual([v.bosId, v.eosId, v.addBos, v.addSpacePrefix], [3, 0, false, false]);
  });

  const rejects = (edit: (m: Map<string, unknown>) => void, what: RegExp, code = 'E_MODEL_FILE'): void => {
    const m = base();
    edit(m);
    assert.throws(
      () => spmVocabFromGguf(m, 'bad.gguf'),
      (e: unknown) => e instanceof ModelFileError && e.file === 'bad.gguf' && e.code === code && what.test(e.message),
    );
  };

  it('throws ModelFileError naming the file for missing or ill-typed keys', () => {
    rejects((m) => m.delete('tokenizer.ggml.tokens'), /tokenizer\.ggml\.tokens' is missing/);
    rejects((m) => m.set('tokenizer.ggml.tokens', 'abc'), /not an array/);
    rejects((m) => m.set('tokenizer.ggml.tokens', ['a', 1]), /tokens'\[1\] is not a string/);
    rejects((m) => m.set('tokenizer.ggml.tokens', ['a', 'a']), /duplicate token/);
    rejects((m) => m.set('tokenizer.ggml.scores', [0, 0]), /2 entries for 4 tokens/);
    rejects((m) => m.set('tokenizer.ggml.scores', [0, 0, 'x', 0]), /scores'\[2\]/);
    rejects((m) => m.set('tokenizer.ggml.token_type', [1, 1, 1.5, 1]), /token_type'\[2\] is not an integer/);
    rejects((m) => m.set('tokenizer.ggml.bos_token_id', 'one'), /bos_token_id' is not a token id/);
    rejects((m) => m.set('tokenizer.ggml.add_bos_token', 1), /add_bos_token' is not a boolean/);
    rejects((m) => m.set('tokenizer.ggml.model', 'gpt2'), /'gpt2' is not supported/, 'E_MODEL_UNSUPPORTED');
  });
});
