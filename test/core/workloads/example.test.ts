/**
 * The Playground's retrieval example (core/src/workloads/example.ts): the NIAH
 * generator's own sample — the same prompt an experiment with that seed would
 * build — with the template the user picked, its needle sentence exactly as it
 * stands in the prompt, and a clear error for a template that does not exist.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleSample, exampleTemplates, generateWorkload, NEEDLE_TEMPLATES, PASSKEY_TEMPLATES, WorkloadError } from '@kvlab/core';
import { whitespace } from './counters.ts';

describe('exampleSample', () => {
  it('offers every template of a kind, trained ones first', () => {
    assert.deepEqual(
      exampleTemplates('needle').map((t) => t.id),
      [...NEEDLE_TEMPLATES.train.map((_, i) => `train-${i}`), ...NEEDLE_TEMPLATES.heldOut.map((_, i) => `heldOut-${i}`)],
    );
    assert.deepEqual(
      exampleTemplates('passkey').map((t) => [t.id, t.heldOut]),
      [
        ['train-0', false],
        ['train-1', false],
        ['heldOut-0', true],
      ],
    );
  });

  for (const kind of ['passkey', 'needle'] as const)
    for (const t of exampleTemplates(kind))
      it(`${kind} ${t.id}: the generator's sample at the seed it returns, with that template and its needle in the prompt`, () => {
        const ex = exampleSample({ kind, contextLength: 300, depth: 40, template: t.id, seed: 5 }, whitespace);
        assert.equal(ex.template, t.id);
        assert.equal(ex.sample.meta['template'], t.id);
        assert.ok(ex.seed >= 5);
        // The same workload definition, generated directly at that seed, gives the same sample.
        const [direct] = generateWorkload(
          { kind: 'niah', variant: kind === 'passkey' ? 'passkey' : 'single', contextLengths: [300], depths: [40], heldOutTemplates: t.heldOut },
          { seed: ex.seed, counter: whitespace },
        );
        assert.deepEqual(direct, ex.sample);
        const answer = ex.sample.answers[0] ?? '';
        assert.match(answer, kind === 'passkey' ? /^\d{5}$/ : /^\d{7}$/);
        assert.ok(ex.needle.includes(answer), ex.needle);
        assert.equal(ex.sample.prompt.split(ex.needle).length, 2, 'the needle sentence stands once in the prompt');
        // The trained layout: the question, then the answer's first words for the model to go on from.
        assert.ok(
          ex.sample.prompt.endsWith(`\nAnswer: ${t.template.answerPrefix.replaceAll('{key}', String(ex.sample.meta['key']))}`),
          ex.sample.prompt.slice(-120),
        );
      });

  it('without a template: the seed as asked, the train template the generator picks for it', () => {
    const ex = exampleSample({ kind: 'passkey', contextLength: 200, depth: 50, seed: 3 }, whitespace);
    assert.equal(ex.seed, 3);
    assert.match(ex.template, /^train-\d$/);
    const statement = PASSKEY_TEMPLATES.train[Number(ex.template.slice(6))]?.statement ?? '';
    assert.equal(ex.needle, statement.replaceAll('{value}', ex.sample.answers[0] ?? ''));
  });

  it('is deterministic', () => {
    const a = exampleSample({ kind: 'needle', contextLength: 256, depth: 10, template: 'train-3', seed: 9 }, whitespace);
    const b = exampleSample({ kind: 'needle', contextLength: 256, depth: 10, template: 'train-3', seed: 9 }, whitespace);
    assert.deepEqual(a, b);
  });

  it('a template that does not exist is a WorkloadError naming the ones that do', () => {
    assert.throws(
      () => exampleSample({ kind: 'passkey', contextLength: 256, depth: 50, template: 'train-4', seed: 1 }, whitespace),
      (e: unknown) => e instanceof WorkloadError && /no passkey template 'train-4' \(there are train-0, train-1, heldOut-0\)/.test(e.message),
    );
  });
});
