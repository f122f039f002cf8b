/**
 * Fidelity samples (core/src/workloads/fidelity.ts): prompt of N tokens and
 * continuation of M tokens, cut at a seeded sentence start, together exactly
 * the (whitespace-collapsed) source; deterministic; lengths with the
 * whitespace counter and the Llama-3 tokenizer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenCounter } from '@kvlab/core';
import { generateFidelity, parseWorkloadDef, scoreText, WorkloadError } from '@kvlab/core';
import { collapseWhitespace, lengthTolerance } from '../../../core/src/workloads/text.ts';
import { llama3Counter, sharedText, whitespace } from './counters.ts';

const NAMES = ['austen-persuasion.txt', 'melville-mobydick.txt'];
const texts = NAMES.map(sharedText);
const collapsed = texts.map(collapseWhitespace);
const def = { kind: 'fidelity' as const, texts: NAMES, promptTokens: [64, 700], continuationTokens: 96, samples: 3 };

describe('fidelity workload', () => {
  it('definition: defaults, names or "sampled"', () => {
    assert.deepEqual(parseWorkloadDef({ kind: 'fidelity', promptTokens: [512], continuationTokens: 64 }), {
      kind: 'fidelity',
      promptTokens: [512],
      continuationTokens: 64,
      samples: 1,
    });
    assert.equal(parseWorkloadDef({ kind: 'fidelity', texts: 'sampled', promptTokens: [512], continuationTokens: 64 }).kind, 'fidelity');
    assert.throws(() => parseWorkloadDef({ kind: 'fidelity', texts: 'random', promptTokens: [512], continuationTokens: 64 }), WorkloadError);
  });

  it('is deterministic under a seed and differs across seeds', () => {
    const a = generateFidelity(def, { seed: 1, counter: whitespace, texts });
    assert.deepEqual(generateFidelity(def, { seed: 1, counter: whitespace, texts }), a);
    assert.notDeepEqual(
      generateFidelity(def, { seed: 2, counter: whitespace, texts }).map((s) => s.prompt),
      a.map((s) => s.prompt),
    );
    assert.equal(new Set(a.map((s) => s.id)).size, 6);
  });

  for (const [name, counter] of [
    ['whitespace', (): TokenCounter => whitespace],
    ['Llama-3 BPE', llama3Counter],
  ] as const) {
    it(`cuts N + M tokens of a source at a sentence start (${name} counter)`, () => {
      const c = counter();
      for (const s of generateFidelity(def, { seed: 4, counter: c, texts })) {
        const N = Number(s.meta['promptTokens']);
        assert.equal(c.count(s.prompt), s.meta['tokens']);
        assert.ok(Math.abs(c.count(s.prompt) - N) <= lengthTolerance(N), `${s.id}: ${c.count(s.prompt)} for ${N}`);
        const cont = s.continuation ?? '';
        assert.equal(c.count(cont), s.meta['continuationTokens']);
        assert.ok(Math.abs(c.count(cont) - 96) <= lengthTolerance(96), `${s.id}: continuation ${c.count(cont)}`);
        assert.ok(cont.startsWith(' ') && !cont.startsWith('  '));
        assert.equal(s.metric, 'fidelity');
        assert.equal(s.maxNewTokens, 96);
        assert.deepEqual(s.answers, []);
        const src = collapsed[NAMES.indexOf(String(s.meta['text']))] ?? '';
        const at = src.indexOf(s.prompt + cont);
        assert.ok(at >= 0, `${s.id}: prompt + continuation is a slice of ${s.meta['text']}`);
        assert.ok(at === 0 || /[.!?]["'’”)\]]* $/.test(src.slice(Math.max(0, at - 5), at)), `${s.id} starts at a sentence start`);
      }
    });
  }

  it('needs texts, and is not scored as text', () => {
    assert.throws(() => generateFidelity(def, { seed: 0, counter: whitespace }), WorkloadError);
    const [s] = generateFidelity({ ...def, promptTokens: [32], samples: 1 }, { seed: 0, counter: whitespace, texts });
    assert.ok(s);
    assert.throws(() => scoreText(s, 'anything'), /fidelity sample/);
  });
});
