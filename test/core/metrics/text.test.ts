/**
 * Text metrics (core/src/metrics/text.ts) against hand-computed examples, with
 * the arithmetic in the comments. The LongBench ones reproduce metrics.py
 * (THUDM/LongBench), the `rouge` 1.0.1 package and fuzzywuzzy 0.18 + difflib,
 * quirks included; the values marked "Python:" were also checked against
 * Python 3.11 (stdlib difflib, and metrics.py/rouge code ported line by line).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  classificationScore,
  codeSimScore,
  countScore,
  exactScore,
  fuzzRatio,
  levenshteinRatio,
  METRICS,
  niahScore,
  niahWholeScore,
  normalizeAnswer,
  qaF1Score,
  retrievalScore,
  rougeLScore,
  roundHalfEven,
  sequenceMatcherRatio,
} from '@kvlab/core';

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

describe('qa_f1 (metrics.py qa_f1_score)', () => {
  it('normalizes: lower case, no punctuation, no articles, single spaces', () => {
    assert.equal(normalizeAnswer('The  Cat, sat!\n(An) apple-pie'), 'cat sat applepie');
    // Python's \b is Unicode: the "a" of "éa" is inside a word and stays.
    assert.equal(normalizeAnswer('éa a théâtre'), 'éa théâtre');
  });

  it('"the cat sat" vs "a cat sat down" = 0.8', () => {
    // pred → [cat, sat], ref → [cat, sat, down]; common 2; P = 2/2 = 1, R = 2/3;
    // F1 = 2·1·(2/3) / (1 + 2/3) = (4/3)/(5/3) = 0.8
    close(qaF1Score('the cat sat', 'a cat sat down'), 0.8);
  });

  it('counts tokens as a multiset: "cat cat" vs "cat" = 2/3', () => {
    // common = min(2, 1) = 1; P = 1/2, R = 1/1; F1 = 2·0.5·1/1.5 = 2/3
    close(qaF1Score('cat cat', 'cat'), 2 / 3);
    assert.equal(qaF1Score('dog', 'cat'), 0);
    assert.equal(qaF1Score('the', 'a'), 0); // both normalize to nothing
  });

  it('takes the max over the references', () => {
    close(METRICS.qa_f1('Paris, France', ['London', 'paris', 'Paris France']), 1);
    // vs "paris": P = 1/2, R = 1 → 2/3; vs "London": 0; max = 1 from the third.
    close(METRICS.qa_f1('Paris, France', ['London', 'paris']), 2 / 3);
    assert.equal(METRICS.qa_f1('x', []), 0);
  });
});

describe('rouge_l (rouge 1.0.1, as LongBench calls it)', () => {
  it('counts distinct words, not positions: "the cat sat on the mat" vs "the cat is on the mat" = 0.8 − ε', () => {
    // One sentence each. m = |{the,cat,is,on,mat}| = 5, n = |{the,cat,sat,on,mat}| = 5.
    // LCS = the cat on the mat; its distinct words {the,cat,on,mat} = 4.
    // P = R = 4/5; F = 2·(0.64 / (1.6 + 1e-8)) = 0.79999999500… (Python: 0.7999999950000002)
    close(rougeLScore('the cat sat on the mat', 'the cat is on the mat'), 2 * (0.64 / (1.6 + 1e-8)));
  });

  it('sentences are the pieces between dots; the union of LCSs runs over every pair', () => {
    // hyp ["x y", "z"], ref ["x z", "y"]: ref "x z" → LCS with "x y" = {x}, with "z" = {z};
    // ref "y" → {y} from "x y". Union {x, y, z} = 3; m = n = 3 → P = R = 1 → F = 2/(2 + 1e-8)
    close(rougeLScore('x y. z', 'x z. y'), 2 / (2 + 1e-8));
  });

  it('reconstructs the LCS with the package tie rule (move in the prediction when the table ties)', () => {
    // ref ["a b"], hyp ["b a", "b"]: LCS("a b", "b a") has length 1; at (2,2) table[1][2] = 1 is not > table[2][1] = 1,
    // so the walk moves in the prediction and picks "b"; with "b" → "b". Union {b} = 1, m = n = 2 → P = R = 1/2
    // F = 2·(0.25 / (1 + 1e-8)) (Python: 0.4999999950000001). Picking "a" first would give 1.
    close(rougeLScore('b a. b', 'a b'), 0.5 / (1 + 1e-8));
  });

  it('scores 0 when a side has no sentence (the package raises, LongBench catches)', () => {
    assert.equal(rougeLScore('', 'a b'), 0);
    assert.equal(rougeLScore('...', 'a b'), 0);
    assert.equal(rougeLScore('a b', '.'), 0);
  });
});

describe('classification (metrics.py classification_score)', () => {
  const classes = ['Human', 'Location', 'Entity'];
  it('1/len(matches) when the answer is among the classes found in the prediction', () => {
    assert.equal(classificationScore('Human', 'Human', classes), 1);
    assert.equal(classificationScore('Human or Location', 'Location', classes), 0.5);
    assert.equal(classificationScore('Entity', 'Location', classes), 0);
    assert.equal(classificationScore('no idea', 'Location', classes), 0); // the difflib fallback is dead code upstream
  });

  it('drops classes that are substrings of the answer — skipping one after each removal, as Python does', () => {
    // matches = [cat, category]; "cat" ⊂ "category" → removed → [category] → 1
    assert.equal(classificationScore('category', 'category', ['cat', 'category', 'dog']), 1);
    // matches = [a, ab, abc]: i=0 removes "a" → [ab, abc]; i=1 is "abc" (equal, kept): "ab" was skipped → 1/2
    assert.equal(classificationScore('abc', 'abc', ['a', 'ab', 'abc']), 0.5);
  });

  it('reads the classes from meta.allClasses and scores the first line when meta.firstLine', () => {
    const meta = { allClasses: JSON.stringify(classes), firstLine: true };
    assert.equal(METRICS.classification('\n\nLocation\nHuman', ['Location'], meta), 1);
    assert.equal(METRICS.classification('\n\nLocation\nHuman', ['Location'], { ...meta, firstLine: false }), 0.5);
    assert.equal(METRICS.classification('Location', ['Location'], {}), 0);
  });
});

describe('retrieval and count (metrics.py)', () => {
  it('retrieval: the share of the numbers in the prediction equal to the paragraph id', () => {
    assert.equal(retrievalScore('Paragraph 12', 'Paragraph 12'), 1);
    assert.equal(retrievalScore('Paragraph 3, or maybe Paragraph 12', 'Paragraph 12'), 0.5);
    assert.equal(retrievalScore('none of them', 'Paragraph 12'), 0);
    assert.equal(retrievalScore('12', 'no id here'), 0);
  });

  it('count: the share of the numbers in the prediction equal to the answer', () => {
    assert.equal(countScore('There are 14 unique paragraphs.', '14'), 1);
    assert.equal(countScore('14 or 15', '14'), 0.5);
    assert.equal(countScore('1, 4', '14'), 0);
    assert.equal(countScore('', '14'), 0);
  });
});

describe('code_sim (fuzz.ratio on the first code line)', () => {
  it('difflib ratio = 2M/T: "abcd" vs "bcde" = 0.75', () => {
    // longest block "bcd" (3); nothing left on either side → M = 3, T = 8 → 6/8
    assert.equal(sequenceMatcherRatio('abcd', 'bcde'), 0.75);
    assert.equal(fuzzRatio('abcd', 'bcde'), 75);
    assert.equal(sequenceMatcherRatio('', ''), 1);
  });

  it('fuzz.ratio: 100 when equal, 0 when one side is empty, round half to even', () => {
    assert.equal(fuzzRatio('', ''), 100);
    assert.equal(fuzzRatio('', 'x'), 0);
    // "abcdefgh" vs "aZZZZZZZ": M = 1, T = 16 → 12.5 → 12; vs "abcZZZZZ": M = 3 → 37.5 → 38 (Python round)
    assert.equal(fuzzRatio('abcdefgh', 'aZZZZZZZ'), 12);
    assert.equal(fuzzRatio('abcdefgh', 'abcZZZZZ'), 38);
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 0, 2, 3]);
  });

  it('difflib autojunk: with len(b) ≥ 200 a popular character cannot start a match (Python: 0.0)', () => {
    // b = "x" + 199 × "a": "a" occurs 199 > ⌊200/100⌋ + 1 = 3 times → not indexed; "aa" finds no block → M = 0.
    const b = `x${'a'.repeat(199)}`;
    assert.equal(sequenceMatcherRatio('aa', b), 0);
    // …but a block may still extend over it: "a" vs 200 × "a" extends from (0, 0) → M = 1, T = 201 (Python: 0.00995…)
    close(sequenceMatcherRatio('a', 'a'.repeat(200)), 2 / 201);
    // python-Levenshtein's ratio (LCS-based) has no such heuristic: 2·2/202
    close(levenshteinRatio('aa', b), 4 / 202);
    assert.equal(fuzzRatio('aa', b, 'levenshtein'), 2);
  });

  it('picks the first line without ` # or //, after leading newlines', () => {
    // "x = foo(1)" vs "x = foo(2)": block "x = foo(" (8), then ")" (1) → M = 9, T = 20 → 90
    close(codeSimScore('\n```python\n# a comment\nx = foo(1)\n', 'x = foo(2)'), 0.9);
    assert.equal(codeSimScore('// only comments\n# here', 'x'), 0);
    assert.equal(METRICS.code_sim('    return 1', ['    return 0', '    return 1']), 1);
  });

  it('difflib never finds more than the longest common subsequence (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' ', '\n'), maxLength: 300 }),
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' '), maxLength: 300 }),
        (a, b) => {
          const d = sequenceMatcherRatio(a, b);
          assert.ok(d >= 0 && d <= levenshteinRatio(a, b) + 1e-12);
        },
      ),
    );
  });
});

describe('niah and exact', () => {
  it('niah: the fraction of answers found, ignoring case', () => {
    // 2 of 3 values present → 2/3
    close(niahScore('The codes are 123 and 456.', ['123', '456', '789']), 2 / 3);
    assert.equal(niahScore('VAR ABCDE and var fghij', ['ABCDE', 'FGHIJ']), 1);
    assert.equal(niahScore('anything', []), 0);
  });

  it('niah_whole: only occurrences with no letter, digit or _ directly before or after count', () => {
    // The demo model's run-on passkey: RULER's substring match credits it, whole-word matching does not.
    assert.equal(niahScore('819955.', ['81995']), 1);
    assert.equal(niahWholeScore('819955.', ['81995']), 0);
    assert.equal(niahWholeScore('981995', ['81995']), 0);
    assert.equal(niahWholeScore('x81995', ['81995']), 0);
    assert.equal(niahWholeScore('_81995', ['81995']), 0);
    assert.equal(niahWholeScore('é81995', ['81995']), 0); // a letter outside ASCII is still a letter
    // Punctuation, spaces and the ends of the text are boundaries.
    assert.equal(niahWholeScore('81995.', ['81995']), 1);
    assert.equal(niahWholeScore(' (81995) ', ['81995']), 1);
    assert.equal(niahWholeScore('81995', ['81995']), 1);
    // Any whole occurrence will do, after a run-on one; case is ignored as in niah.
    assert.equal(niahWholeScore('819955, no: 81995', ['81995']), 1);
    assert.equal(niahWholeScore('The word is COBALT.', ['cobalt']), 1);
    // Several answers: the fraction found whole (1 of 2).
    close(niahWholeScore('12 and 345', ['12', '34']), 1 / 2);
    // An answer with RegExp metacharacters is taken literally.
    assert.equal(niahWholeScore('value a+b.', ['a+b']), 1);
    assert.equal(niahWholeScore('value aab', ['a+b']), 0);
    assert.equal(niahWholeScore('anything', []), 0);
  });

  it('niah_whole never exceeds niah, and equals it when every occurrence is surrounded by spaces (property)', () => {
    const word = fc.stringMatching(/^[a-z0-9]{1,6}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), fc.array(word, { minLength: 1, maxLength: 3 }), (words, answers) => {
        const p = words.join(' ');
        assert.ok(niahWholeScore(p, answers) <= niahScore(p, answers));
        // Whole words of p only: both metrics agree exactly on answers that are among its words or absent from it.
        const whole = answers.filter((a) => words.includes(a) || !p.includes(a));
        assert.equal(niahWholeScore(p, whole), niahScore(p, whole));
      }),
    );
  });

  it('exact: trimmed equality with one of the answers', () => {
    assert.equal(exactScore(' 42\n', ['41', '42']), 1);
    assert.equal(exactScore('42.', ['42']), 0);
  });
});

describe('METRICS registry', () => {
  it('every metric is in [0, 1] on arbitrary text (property)', () => {
    const meta = { allClasses: JSON.stringify(['a', 'b c', 'Paragraph 1']), firstLine: true };
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }), (p, answers) => {
        for (const [id, fn] of Object.entries(METRICS)) {
          const v = fn(p, answers, meta);
          assert.ok(v >= 0 && v <= 1, `${id}: ${v}`);
        }
      }),
    );
  });
});
