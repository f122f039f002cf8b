/**
 * Token pieces as the retention overlay draws them (renderer/src/util/tokens.ts),
 * checked against the demo model's real pieces for a known text: byte tokens
 * read as their characters, and a needle found among the pieces by its text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModelSync } from '../../electron/engine/load.ts';
import { defaultModelPath } from '../../electron/host/default-model.ts';
import { decodeByteTokens, displayPieces, findTextSpan, pieceTexts } from '../../renderer/src/util/tokens.ts';

describe('token pieces for display', () => {
  it("the demo model's pieces of a text with a newline, an accent and CJK read back as the text", () => {
    const tok = loadModelSync(defaultModelPath()).tokenizer;
    const text = 'Hello.\nWorld é 日本 x';
    const pieces = tok.encode(text, { addBos: false }).map((id) => tok.piece(id));
    assert.ok(pieces.includes('<0x0A>') && pieces.includes('<0xE6>'), `byte tokens in ${JSON.stringify(pieces)}`);
    // The tokenizer's own decode is the independent reference for what the pieces spell (less SentencePiece's dummy prefix space).
    assert.equal(pieceTexts(pieces).join('').replace(/^ /, ''), tok.decode(tok.encode(text, { addBos: false })));
    const shown = displayPieces(pieces);
    assert.equal(shown[pieces.indexOf('<0x0A>')], '↵\n');
    assert.equal(shown.length, pieces.length, 'one entry per token: the overlay keeps one span per position');
    assert.ok(!shown.some((s) => /<0x/.test(s)));
  });

  it('a multi-byte character sits on its first byte token; stray and control bytes are shown as \\xNN', () => {
    assert.deepEqual(displayPieces(['a', '<0xE6>', '<0x97>', '<0xA5>', '<0x09>', '<0x00>']), ['a', '日', '', '', '⇥\t', '\\x00']);
    assert.deepEqual(displayPieces(['<0x97>', '<0xE6>', 'x']), ['\\x97', '\\xE6', 'x'], 'a continuation byte alone, a lead byte cut short');
    assert.deepEqual(pieceTexts(['▁the', 'Ġcat', 'Ċ']), [' the', ' cat', '\n']);
  });

  it('byte tokens left in an output text are decoded', () => {
    assert.equal(decodeByteTokens('one<0x0A>two <0xC3><0xA9>'), 'one\ntwo é');
    assert.equal(decodeByteTokens('plain'), 'plain');
  });

  it("finds a needle's tokens by its text, whatever the pieces do with spaces", () => {
    const tok = loadModelSync(defaultModelPath()).tokenizer;
    const needle = 'Keep this number in mind, it is the passkey: 43508.';
    const prompt = `The grass is green.\nThe sky is blue. ${needle} The sun is yellow.`;
    const ids = tok.encode(prompt, { addBos: true });
    const pieces = ids.map((id) => tok.piece(id));
    const span = findTextSpan(pieces, needle);
    assert.ok(span);
    assert.equal(tok.decode(ids.slice(span.start, span.end)).trim(), needle);
    assert.equal(findTextSpan(pieces, 'not in the prompt'), null);
    assert.equal(findTextSpan(pieces, '  '), null);
  });
});
