/**
 * The text plumbing under the generators (core/src/workloads/text.ts):
 * sentence splitting, endless sentence streams over texts, the per-sentence
 * pool and `fitUnits`, which sizes prompts with few full token counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { WorkloadError } from '@kvlab/core';
import { collapseWhitespace, fitUnits, lengthTolerance, SentencePool, splitSentences, textSentences } from '../../../core/src/workloads/text.ts';
import { sharedText, whitespace } from './counters.ts';

function take<T>(it: Iterator<T>, n: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('splitSentences', () => {
  it('splits after . ! ? (and closing quotes), not after abbreviations, initials or before lower case', () => {
    assert.deepEqual(splitSentences('Mr. Knightley came in.\r\n  "Yes!" she said. J. Smith wrote (twice). Is it? It is'), [
      'Mr. Knightley came in.',
      '"Yes!" she said.',
      'J. Smith wrote (twice).',
      'Is it?',
      'It is',
    ]);
  });

  it('joining the sentences with spaces gives the collapsed text back', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('Hello', 'world.', 'Mr.', 'A', 'b!', '"Quoted."', '\n', '  ', 'end?'), { maxLength: 40 }), (words) => {
        const text = words.join(' ');
        assert.equal(splitSentences(text).join(' '), collapseWhitespace(text));
      }),
    );
  });
});

describe('textSentences', () => {
  it('streams a whole long text across chunk boundaries without splitting words, then wraps to the next text', () => {
    const emma = sharedText('austen-emma.txt');
    const all = splitSentences(emma);
    const it = textSentences('test', [emma, 'Second text. Two.'], 0, 0);
    const streamed = take(it, all.length + 2);
    assert.equal(streamed.slice(0, all.length).join(' '), collapseWhitespace(emma));
    assert.deepEqual(streamed.slice(all.length), ['Second text.', 'Two.']);
  });

  it('starts at the sentence after a mid-sentence offset', () => {
    const text = 'One two three. Four five six. Seven eight.';
    assert.deepEqual(take(textSentences('test', [text], 0, 5), 3), ['Four five six.', 'Seven eight.', 'One two three.']);
  });

  it('throws a WorkloadError for no texts or texts without sentences', () => {
    assert.throws(() => take(textSentences('niah-single', [], 0, 0), 1), WorkloadError);
    assert.throws(() => take(textSentences('niah-single', ['', '   '], 0, 0), 1), /no sentences/);
  });
});

describe('SentencePool', () => {
  it('predicts a word prefix from per-sentence counts (whole sentences, then pro rata)', () => {
    const pool = new SentencePool(textSentences('t', ['Ab cd ef. Gh ij. Kl mn op qr.'], 0, 0), whitespace);
    assert.equal(pool.tokensOf(3), 3);
    assert.equal(pool.tokensOf(5), 5);
    assert.deepEqual(pool.pieces(7), ['Ab cd ef.', 'Gh ij.', 'Kl mn']);
    assert.equal(pool.wholeSentences(7), 2);
    assert.equal(pool.wordsFor(6), 6);
    assert.equal(pool.wordsFor(0), 0);
  });
});

describe('fitUnits', () => {
  it('corrects a biased prediction with few full counts', () => {
    let counts = 0;
    // True cost 3 tokens per unit + 10; the prediction thinks 2 per unit.
    const r = fitUnits(3000, lengthTolerance(3000), { predict: (n) => 2 * n, unitsFor: (t) => Math.max(0, Math.floor(t / 2)) }, (n) => {
      counts++;
      return 3 * n + 10;
    });
    assert.ok(Math.abs(r.tokens - 3000) <= lengthTolerance(3000));
    assert.ok(counts <= 3, `${counts} full counts`);
  });

  it('never overshoots target + tol with coarse units, and falls short by less than a unit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 0, max: 20_000 }),
        (unit, fixed, guess, extra) => {
          const target = fixed + extra;
          const tol = lengthTolerance(target);
          const r = fitUnits(
            target,
            tol,
            { predict: (n) => fixed + guess * n, unitsFor: (t) => Math.max(0, Math.floor((t - fixed) / guess)) },
            (n) => fixed + unit * n,
          );
          assert.ok(r.tokens <= target + tol, `${r.tokens} > ${target} + ${tol}`);
          assert.ok(target - r.tokens < Math.max(unit, tol + 1), `${r.tokens} too short for ${target} (unit ${unit})`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns the shortest prompt when even zero units overshoot', () => {
    const r = fitUnits(5, 2, { predict: (n) => 20 + n, unitsFor: () => 0 }, (n) => 20 + n);
    assert.deepEqual(r, { n: 0, tokens: 20 });
  });
});
