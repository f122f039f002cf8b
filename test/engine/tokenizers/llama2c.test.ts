/**
 * llama2.c's tokenizer (tok512.bin, data.md §1.1) against the GGUF SentencePiece
 * tokenizer built from stories260K.gguf — the same model's vocabulary in two
 * formats, encoded by two different algorithms (run.c's rescanning greedy merge
 * vs llama.cpp's bigram queue) — and against the golden text (data.md §1.2).
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { readGgufHeader } from '../../../electron/engine/formats/gguf.ts';
import { ModelFileError } from '../../../electron/engine/model.ts';
import { LLAMA2C_BOS, createLlama2cTokenizer, loadLlama2cTokenizer, parseLlama2cVocab } from '../../../electron/engine/tokenizers/llama2c.ts';
import type { Llama2cTokenizer } from '../../../electron/engine/tokenizers/llama2c.ts';
import { createSpmTokenizer, spmVocabFromGguf } from '../../../electron/engine/tokenizers/spm.ts';
import type { SpmTokenizer } from '../../../electron/engine/tokenizers/spm.ts';
import { sharedPath } from '../shared-data.ts';

/** stories260K's greedy output from BOS (data.md §1.2). */
const GOLDEN_TEXT = [
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.',
  'Lily\'s mom said, "Lily, let\'s go to the park." Lily was sad and didn\'t know what to do. She said, "I want to play with your ball, but I can\'t find it."',
  "Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"",
  "Lily didn't want to help her mom, so she said, \"I'm sorry, mom. I didn't know what to do.\" Her mom said, \"Don't worry, Lily. We can help you.",
].join('\n');
const GOLDEN_FIRST_20 = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];

const STRINGS = [
  GOLDEN_TEXT,
  '',
  ' ',
  'a',
  'Once upon a time',
  ' Once upon a time',
  '  two leading spaces',
  'trailing space ',
  'tabs\tand\nnewlines\n\n',
  'Lily, Tom and Sue went to the park!',
  'UPPER lower MiXeD 1234567890',
  'symbols: ~!@#$%^&*()_+{}|:"<>?`-=[]\\;\',./',
  'Führer Cửa Việt ½ — “quotes” … ©',
  'нещо на Български 我想在apple工作 🦙🚀😁',
  'ied 4 ½ months',
  '\u200a hair space',
];

describe('llama2.c tokenizer (tok512.bin)', () => {
  let tok: Llama2cTokenizer;
  let spm: SpmTokenizer;
  before(() => {
    tok = loadLlama2cTokenizer(sharedPath('models/stories260K/tok512.bin'), 512);
    const gguf = sharedPath('models/stories260K/stories260K.gguf');
    spm = createSpmTokenizer(spmVocabFromGguf(readGgufHeader(gguf).metadata, gguf));
  });

  it('loads the documented layout', () => {
    const v = tok.vocab;
    assert.equal(v.maxTokenLength, 7);
    assert.equal(tok.vocabSize, 512);
    assert.deepEqual(
      [0, 1, 2, 3, 258, 259, 261].map((id) => new TextDecoder().decode(v.pieces[id])),
      ['<unk>', '\n<s>\n', '\n</s>\n', '<0x00>', '<0xFF>', ' t', ' a'],
    );
    assert.deepEqual([(v.scores[259] ?? NaN) + 0, v.scores[260], v.scores[511]], [0, -1, -252]); // + 0: the file stores -0
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.eosIds, [2]);
    // Without vocabSize it reads to the end of the file: the same 512 tokens.
    assert.equal(loadLlama2cTokenizer(sharedPath('models/stories260K/tok512.bin')).vocabSize, 512);
  });

  it('has the same scores and (modulo ▁ and <s>/</s>) the same pieces as the GGUF vocabulary', () => {
    for (let id = 0; id < 512; id++) {
      assert.equal(tok.vocab.scores[id], spm.vocab.scores[id], `score of ${id}`);
      if (id === 1 || id === 2) continue;
      assert.equal(new TextDecoder().decode(tok.vocab.pieces[id]), (spm.vocab.tokens[id] as string).replaceAll('\u2581', ' '), `piece ${id}`);
    }
  });

  it('encodes like the SPM tokenizer of stories260K.gguf, golden text included', () => {
    for (const s of STRINGS) {
      assert.deepEqual(tok.encode(s), spm.encode(s), JSON.stringify(s));
      assert.deepEqual(tok.encode(s, { addBos: false }), spm.encode(s, { addBos: false }), JSON.stringify(s));
    }
    for (const line of GOLDEN_TEXT.split('\n')) assert.deepEqual(tok.encode(line), spm.encode(line), line);
  });

  it('encodes like the SPM tokenizer on random text (property)', () => {
    const alphabet = fc.constantFrom(...' aeiou tnsrhldLOS,.!?\'"\n\t—é🦙'.split(/(?:)/u));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 30 })), (s) => {
        assert.deepEqual(tok.encode(s), spm.encode(s), JSON.stringify(s));
      }),
      { numRuns: 300 },
    );
  });

  it("merges exactly as run.c's quadratic rescanning loop (property)", () => {
    const texts = tok.vocab.pieces.map((p) => Buffer.from(p).toString('latin1'));
    const lookup = new Map<string, number>();
    texts.forEach((t, id) => lookup.set(t, lookup.get(t) ?? id));
    /** run.c encode(), transcribed: BOS, dummy prefix, code points or byte fallbacks, then rescan-and-merge. */
    const runc = (text: string): number[] => {
      const tokens = [1];
      if (text !== '') tokens.push(lookup.get(' ') ?? -1);
      const bytes = Buffer.from(text, 'utf8');
      let buf: number[] = [];
      for (let c = 0; c < bytes.length; c++) {
        if (((bytes[c] as number) & 0xc0) !== 0x80) buf = [];
        buf.push(bytes[c] as number);
        if (c + 1 < bytes.length && ((bytes[c + 1] as number) & 0xc0) === 0x80 && buf.length < 4) continue;
        const id = lookup.get(String.fromCharCode(...buf));
        if (id !== undefined) tokens.push(id);
        else for (const b of buf) tokens.push(b + 3);
        buf = [];
      }
      for (;;) {
        let best = -1e10;
        let bestId = -1;
        let bestIdx = -1;
        for (let i = 0; i < tokens.length - 1; i++) {
          const id = lookup.get((texts[tokens[i] as number] as string) + (texts[tokens[i + 1] as number] as string));
          if (id !== undefined && (tok.vocab.scores[id] as number) > best) {
            best = tok.vocab.scores[id] as number;
            bestId = id;
            bestIdx = i;
          }
        }
        if (bestIdx === -1) break;
        tokens.splice(bestIdx, 2, bestId);
      }
      return tokens;
    };
    for (const s of STRINGS) assert.deepEqual(tok.encode(s), runc(s), JSON.stringify(s));
    const alphabet = fc.constantFrom(...' aaaeeiou tnsrhldLOS,.!?\'"\n—é🦙'.split(/(?:)/u));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 30 })), (s) => {
        assert.deepEqual(tok.encode(s), runc(s), JSON.stringify(s));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes the golden ids', () => {
    assert.equal(tok.decode(GOLDEN_FIRST_20.slice(0, 15)), 'Once upon a time, there was a little girl named Lily.');
    assert.equal(tok.decode([LLAMA2C_BOS, ...GOLDEN_FIRST_20.slice(0, 15)]), 'Once upon a time, there was a little girl named Lily.');
    assert.deepEqual(
      [403, 407, 261, 378].map((id) => tok.piece(id)),
      [' Once', ' upon', ' a', ' time'],
    );
    assert.equal(tok.piece(13), '<0x0A>');
    assert.equal(tok.piece(0x41 + 3), 'A');
  });

  it('decode(encode(s)) gives back s', () => {
    for (const s of STRINGS) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
    assert.equal(tok.decode(tok.encode(GOLDEN_TEXT)), GOLDEN_TEXT);
  });
});

describe('llama2.c tokenizer: malformed files', () => {
  const file = (records: [number, string][], maxLen = 7): Uint8Array => {
    const parts: number[] = [];
    const i32 = (x: number): void => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, x, true);
      parts.push(...b);
    };
    i32(maxLen);
    for (const [score, text] of records) {
      const f = new Uint8Array(4);
      new DataView(f.buffer).setFloat32(0, score, true);
      parts.push(...f);
      const bytes = new TextEncoder().encode(text);
      i32(bytes.length);
      parts.push(...bytes);
    }
    return Uint8Array.from(parts);
  };
  const HEX = '0123456789ABCDEF';
  const minimal: [number, string][] = [
    [0, '<unk>'],
    [0, '\n<s>\n'],
    [0, '\n</s>\n'],
    ...Array.from({ length: 256 }, (_, b): [number, string] => [0, `<0x${HEX[b >> 4]}${HEX[b & 15]}>`]),
    [0, ' '],
    [-1, 'ab'],
    [-2, 'a'],
    [-3, 'b'],
  ];

  it('parses a minimal vocabulary and byte-falls-back what it cannot spell', () => {
    const t = createLlama2cTokenizer(parseLlama2cVocab(file(minimal), 'tok.bin'));
    assert.deepEqual(t.encode('abc'), [1, 259, 260, 0x63 + 3]);
    assert.equal(t.decode(t.encode('abc')), 'abc');
  });

  const rejects = (data: Uint8Array, what: RegExp, vocabSize?: number): void => {
    assert.throws(
      () => parseLlama2cVocab(data, 'tok.bin', vocabSize),
      (e: unknown) => e instanceof ModelFileError && e.file === 'tok.bin' && what.test(e.message),
    );
  };

  it('rejects truncated and inconsistent files with a ModelFileError naming the file', () => {
    const good = file(minimal);
    rejects(good.subarray(0, 2), /too short/);
    rejects(good.subarray(0, good.length - 1), /runs past the end/);
    rejects(good.subarray(0, good.length - 3), /ends inside token 262|runs past the end/);
    rejects(good, /ends inside token 263 .*; expected 300 tokens/, 300);
    rejects(file(minimal, 0), /max_token_len 0/);
    rejects(file(minimal.slice(0, 100)), /has 100 tokens/);
    rejects(file([[0, 'toolongpiece'], ...minimal]), /token 0 has length 12/);
  });

  it('a missing file is a ModelFileError naming it', () => {
    assert.throws(
      () => loadLlama2cTokenizer('/nonexistent/tok512.bin'),
      (e: unknown) => e instanceof ModelFileError && e.file === '/nonexistent/tok512.bin',
    );
  });

  it('reads the shared tok512.bin bytes the same as the file loader', () => {
    const path = sharedPath('models/stories260K/tok512.bin');
    const a = parseLlama2cVocab(readFileSync(path), path);
    assert.equal(a.pieces.length, 512);
  });
});
