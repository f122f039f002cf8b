/**
 * NIAH generator (core/src/workloads/niah.ts): determinism, prompt lengths in
 * tokens (whitespace counter and the real Llama-3 tokenizer), the needle really
 * at the requested depth, answers in the prompt, the variants, and held-out
 * templates disjoint from the training ones. Haystacks: ../shared/texts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Sample, TokenCounter } from '@kvlab/core';
import { generateNiah, METRICS, NEEDLE_TEMPLATES, PASSKEY_TEMPLATES, parseWorkloadDef, WorkloadError } from '@kvlab/core';
import { lengthTolerance, splitSentences } from '../../../core/src/workloads/text.ts';
import { llama3Counter, sharedText, whitespace } from './counters.ts';

const TEXTS = ['austen-emma.txt', 'kjv.txt', 'melville-mobydick.txt'];
const texts = TEXTS.map(sharedText);
const textsHaystack = { kind: 'texts' as const, names: TEXTS };

/** The fixed text around every statement of a template (placeholders removed), e.g. 'Remember this: the locker code for'. */
const frames = (t: string): string[] =>
  t
    .split(/\{key\}|\{value\}/)
    .map((x) => x.trim().replace(/^[.,:;]+|[.,:;]+$/g, ''))
    .filter((x) => x.length >= 6);

/** Splits a prompt into the instruction, the haystack (with needles) and the question. */
function parts(s: Sample): { head: string; haystack: string; tail: string } {
  const a = s.prompt.indexOf('\n\n');
  const b = s.prompt.lastIndexOf('\n\nQuestion:');
  return { head: s.prompt.slice(0, a), haystack: s.prompt.slice(a + 2, b), tail: s.prompt.slice(b + 2) };
}

/** The needle statements of a sample, found through the template that made it. */
function needles(s: Sample): string[] {
  const [set, idx] = String(s.meta['template']).split('-');
  const tpl = (s.meta['variant'] === 'passkey' ? PASSKEY_TEMPLATES : NEEDLE_TEMPLATES)[set as 'train' | 'heldOut'][Number(idx)];
  assert.ok(tpl);
  const re = new RegExp(
    tpl.statement
      .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
      .replace('\\{key\\}', '[a-z]+ [a-z]+')
      .replaceAll('{value}', '\\d+')
      .replaceAll('{key}', '[a-z]+ [a-z]+'),
    'g',
  );
  return parts(s).haystack.match(re) ?? [];
}

/** Measured depth of the target needle: tokens of the haystack before it / tokens of the haystack without needles. */
function measuredDepth(s: Sample, counter: TokenCounter): { depth: number; slack: number } {
  const all = needles(s);
  const target = all.find((n) => n.includes(String(s.answers[0])));
  assert.ok(target, 'target needle present');
  let hay = parts(s).haystack;
  const at = hay.indexOf(target);
  let before = hay.slice(0, at);
  for (const n of all) {
    hay = hay.replace(n, '');
    before = before.replace(n, '');
  }
  const total = counter.count(hay);
  // Needles go between sentences: the depth can miss by half the longest sentence.
  const longest = Math.max(...splitSentences(hay).map((x) => counter.count(x)));
  return { depth: (100 * counter.count(before)) / total, slack: (100 * (longest / 2 + 3)) / total };
}

describe('NIAH workload definition', () => {
  it('fills defaults and rejects unknown keys with a WorkloadError', () => {
    const d = parseWorkloadDef({ kind: 'niah', contextLengths: [1024], depths: [50] });
    assert.deepEqual(d, {
      kind: 'niah',
      variant: 'single',
      contextLengths: [1024],
      depths: [50],
      samplesPerCell: 1,
      haystack: { kind: 'filler' },
      heldOutTemplates: false,
      needles: 4,
    });
    assert.throws(() => parseWorkloadDef({ kind: 'niah', contextLengths: [1024], depths: [50], depht: 3 }), WorkloadError);
    assert.throws(() => parseWorkloadDef({ kind: 'niah', contextLengths: [1024], depths: [150] }), /depths/);
  });
});

describe('NIAH samples', () => {
  const grid = { kind: 'niah' as const, contextLengths: [300, 1200, 3000], depths: [0, 10, 50, 90, 100], haystack: textsHaystack, samplesPerCell: 2 };

  it('are deterministic under a seed and differ across seeds', () => {
    const a = generateNiah(grid, { seed: 7, counter: whitespace, texts });
    assert.deepEqual(generateNiah(grid, { seed: 7, counter: whitespace, texts }), a);
    assert.notDeepEqual(
      generateNiah(grid, { seed: 8, counter: whitespace, texts }).map((s) => s.prompt),
      a.map((s) => s.prompt),
    );
    assert.equal(a.length, 3 * 5 * 2);
    assert.equal(new Set(a.map((s) => s.id)).size, a.length);
  });

  for (const [name, counter] of [
    ['whitespace', () => whitespace],
    ['Llama-3 BPE', llama3Counter],
  ] as const) {
    it(`hit the requested length and depth (${name} counter)`, () => {
      const c = counter();
      const samples = generateNiah({ ...grid, samplesPerCell: 1, contextLengths: [600, 2500] }, { seed: 3, counter: c, texts });
      for (const s of samples) {
        const L = Number(s.meta['contextLength']);
        const n = c.count(s.prompt);
        assert.equal(n, s.meta['tokens']);
        assert.ok(Math.abs(n - L) <= lengthTolerance(L), `${s.id}: ${n} tokens for ${L}`);
        const { depth, slack } = measuredDepth(s, c);
        assert.ok(Math.abs(depth - Number(s.meta['depth'])) <= slack, `${s.id}: needle at ${depth.toFixed(1)} %, slack ${slack.toFixed(1)}`);
      }
    });
  }

  it('hold their answers in the prompt and score 1 on them with the niah metric', () => {
    for (const s of generateNiah(grid, { seed: 1, counter: whitespace, texts })) {
      assert.equal(s.metric, 'niah');
      assert.equal(s.answers.length, 1);
      for (const a of s.answers) assert.ok(parts(s).haystack.includes(a));
      assert.ok(s.prompt.includes(String(s.meta['key'])));
      assert.equal(METRICS.niah(`It is ${s.answers.join(', ')}.`, s.answers, s.meta), 1);
      assert.equal(METRICS.niah('I do not know.', s.answers, s.meta), 0);
    }
  });

  it('keep the haystack, key and value of a (length, sample) pair at every depth: only the needle moves', () => {
    const samples = generateNiah({ ...grid, contextLengths: [1200] }, { seed: 2, counter: whitespace, texts });
    for (const k of [0, 1]) {
      const cell = samples.filter((s) => s.meta['sample'] === k);
      const stripped = cell.map((s) =>
        needles(s)
          .reduce((h, n) => h.replace(n, ''), parts(s).haystack)
          .replace(/\s+/g, ' ')
          .trim(),
      );
      assert.equal(new Set(cell.map((s) => s.answers[0])).size, 1);
      // The same text from the same place (lengths agree within the tolerance, so compare a prefix).
      const shortest = Math.min(...stripped.map((x) => x.length));
      assert.equal(new Set(stripped.map((x) => x.slice(0, shortest - 40))).size, 1);
    }
  });

  it('put needles at sentence boundaries: depth 0 first, depth 100 last', () => {
    const [first, last] = generateNiah({ ...grid, contextLengths: [800], depths: [0, 100], samplesPerCell: 1 }, { seed: 4, counter: whitespace, texts });
    assert.ok(first && last);
    assert.ok(parts(first).haystack.startsWith(needles(first)[0] ?? '?'));
    assert.ok(parts(last).haystack.endsWith(needles(last)[0] ?? '?'));
  });

  it('multikey: the target plus distractor needles with other keys; only the target value is expected', () => {
    for (const s of generateNiah(
      { kind: 'niah', variant: 'multikey', contextLengths: [1500], depths: [20, 80], needles: 5, haystack: textsHaystack },
      { seed: 5, counter: whitespace, texts },
    )) {
      const found = needles(s);
      assert.equal(found.length, 5);
      const key = String(s.meta['key']);
      assert.equal(found.filter((n) => n.includes(key)).length, 1);
      assert.equal(s.answers.length, 1);
      assert.ok(found.find((n) => n.includes(key))?.includes(s.answers[0] ?? '?'));
      assert.ok(parts(s).tail.includes(key));
    }
  });

  it('multivalue: several values for one key, consecutive at the depth, all expected', () => {
    for (const s of generateNiah({ kind: 'niah', variant: 'multivalue', contextLengths: [1500], depths: [30], needles: 3 }, { seed: 6, counter: whitespace })) {
      assert.equal(s.answers.length, 3);
      assert.equal(new Set(s.answers).size, 3);
      const found = needles(s);
      assert.equal(found.length, 3);
      assert.ok(parts(s).haystack.includes(found.join(' ')));
      assert.match(parts(s).tail, /There are 3 of them/);
      assert.equal(METRICS.niah(`${s.answers[0]} and ${s.answers[2]}`, s.answers, s.meta), 2 / 3);
    }
  });

  it('passkey: a 5-digit number in the built-in filler', () => {
    const [s] = generateNiah({ kind: 'niah', variant: 'passkey', contextLengths: [500], depths: [40] }, { seed: 9, counter: whitespace });
    assert.ok(s);
    assert.match(s.answers[0] ?? '', /^\d{5}$/);
    assert.equal(s.meta['haystack'], 'filler');
    assert.ok(parts(s).haystack.includes(s.answers[0] ?? '?'));
    assert.match(parts(s).tail, /passkey/);
  });

  it("match 'whole': the same prompts as RULER's substring scoring, under their own workload name and the niah_whole metric", () => {
    const def = { kind: 'niah' as const, variant: 'passkey' as const, contextLengths: [300], depths: [0, 50], samplesPerCell: 2 };
    const ruler = generateNiah(def, { seed: 5, counter: whitespace });
    const whole = generateNiah({ ...def, match: 'whole' }, { seed: 5, counter: whitespace });
    assert.equal(whole.length, ruler.length);
    whole.forEach((w, i) => {
      const r = ruler[i] as Sample;
      assert.equal(w.workload, 'niah-passkey-whole');
      assert.equal(w.id, r.id.replace(/^niah-passkey\//, 'niah-passkey-whole/'));
      assert.equal(w.metric, 'niah_whole');
      assert.equal(r.metric, 'niah');
      assert.deepEqual({ ...w, id: r.id, workload: r.workload, metric: r.metric }, r);
    });
    // Left out, the field stays out of the parsed definition, so older experiments keep their hash.
    assert.equal('match' in parseWorkloadDef(def), false);
    assert.throws(() => parseWorkloadDef({ ...def, match: 'exact' }), /match/);
  });

  it('a name replaces the workload name in samples and their ids; names with other characters are refused', () => {
    const def = { kind: 'niah' as const, contextLengths: [300], depths: [50], heldOutTemplates: true, haystack: textsHaystack };
    const [s] = generateNiah({ ...def, name: 'single-heldout.v2' }, { seed: 1, counter: whitespace, texts });
    assert.equal(s?.workload, 'single-heldout.v2');
    assert.equal(s?.id, 'single-heldout.v2/c300/d50/s0');
    assert.throws(() => parseWorkloadDef({ ...def, name: 'a/b' }), /name/);
    assert.throws(() => parseWorkloadDef({ ...def, name: '' }), /name/);
  });

  it('held-out templates share no sentence frame with the training templates', () => {
    for (const sets of [NEEDLE_TEMPLATES, PASSKEY_TEMPLATES]) {
      const train = sets.train.flatMap((t) => [t.statement, t.question, t.answerPrefix, t.questionAll].flatMap(frames));
      const held = sets.heldOut.flatMap((t) => [t.statement, t.question, t.answerPrefix, t.questionAll].flatMap(frames));
      assert.ok(train.length > 0 && held.length > 0);
      for (const h of held) for (const t of train) assert.ok(!h.includes(t) && !t.includes(h), `'${h}' overlaps '${t}'`);
    }
    const heldOut = generateNiah({ ...grid, heldOutTemplates: true, variant: 'multikey' }, { seed: 1, counter: whitespace, texts });
    const trainFrames = NEEDLE_TEMPLATES.train.flatMap((t) => frames(t.statement));
    for (const s of heldOut) {
      assert.match(String(s.meta['template']), /^heldOut-/);
      for (const f of trainFrames) assert.ok(!s.prompt.includes(f), `${s.id} contains the training frame '${f}'`);
    }
  });

  it('any length, depth and seed: length within tolerance, answer in the prompt (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 150, max: 4000 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.nat(1000), (L, depth, seed) => {
        const [s] = generateNiah({ kind: 'niah', contextLengths: [L], depths: [depth], haystack: textsHaystack }, { seed, counter: whitespace, texts });
        assert.ok(s);
        assert.ok(Math.abs(whitespace.count(s.prompt) - L) <= lengthTolerance(L));
        assert.ok(parts(s).haystack.includes(s.answers[0] ?? '?'));
      }),
      { numRuns: 40 },
    );
  });

  it('reject a length below the template and a texts/names mismatch with WorkloadErrors', () => {
    assert.throws(() => generateNiah({ kind: 'niah', contextLengths: [20], depths: [50] }, { seed: 0, counter: whitespace }), /contextLength 20 is below/);
    assert.throws(
      () => generateNiah({ kind: 'niah', contextLengths: [500], depths: [50], haystack: textsHaystack }, { seed: 0, counter: whitespace, texts: [] }),
      WorkloadError,
    );
  });
});
