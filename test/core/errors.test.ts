/**
 * core/src/errors.ts: messages in the user's terms. A budget that cannot be
 * parsed is one sentence about the user's text; a missing input names the
 * method, the input and what to do; quoted user text is cut short and its
 * control characters escaped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BudgetError, cake, clipInput, LabError, MissingInputError, parseParams, quoteInput, UnknownMethodError } from '@kvlab/core';

describe('error messages', () => {
  it('quotes user text cut to 60 characters, with control characters and quotes escaped', () => {
    assert.equal(quoteInput('abc'), '"abc"');
    assert.equal(quoteInput('x'.repeat(100)), `"${'x'.repeat(60)}…"`);
    assert.equal(quoteInput('a\u0000b"c\n'), '"a\\u0000b\\"c\\n"');
    assert.equal(clipInput('abcdef', 3), 'abc…');
    assert.equal(new UnknownMethodError('scorer', 'y'.repeat(500), ['snapkv']).message, `unknown scorer '${'y'.repeat(60)}…'; known: snapkv`);
  });

  it('a budget error without a method is the sentence alone; with one it names the method', () => {
    assert.equal(new BudgetError('', 'Budget "x" is not understood').message, 'Budget "x" is not understood');
    assert.equal(new BudgetError('pyramidkv', 'total 3 is below 4').message, "budget for 'pyramidkv': total 3 is below 4");
  });

  it('a missing input names the method and the input, and says what the user can do', () => {
    const e = new MissingInputError('knorm', "the prompt's keys");
    assert.ok(e instanceof LabError);
    assert.equal(e.apiCode, 'E_INVALID');
    assert.match(e.message, /^'knorm' needs the prompt's keys, which it was not given\. Experiments and the playground collect what each method needs/);
    // CAKE's stats, as the layer profile screen shows them: it says where they are measured and what to do there.
    assert.throws(
      () => cake.allocate({ numLayers: 2, seqLen: 100, minPerLayer: 9 }, 100, parseParams(cake, {})),
      (err: unknown) =>
        err instanceof MissingInputError &&
        err.method === 'cake' &&
        /^'cake' needs each layer's attention entropy \(stats\.entropy\), which it was not given\./.test(err.message) &&
        /a layer profile does not, so run CAKE there/.test(err.message) &&
        /cake\.collect\(observations\)/.test(err.message),
    );
  });
});
