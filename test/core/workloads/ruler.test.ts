/**
 * RULER-style generators (core/src/workloads/ruler.ts): determinism, lengths
 * (whitespace counter and the Llama-3 tokenizer), and for each task that the
 * expected answers really are the answers — recomputed from the prompt by an
 * independent reading of it (follow the VAR chains, count the words, parse
 * the JSON).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sample, TokenCounter } from '@kvlab/core';
import { generateRuler, parseWorkloadDef, WorkloadError } from '@kvlab/core';
import { lengthTolerance } from '../../../core/src/workloads/text.ts';
import { llama3Counter, whitespace } from './counters.ts';

const TASKS = ['vt', 'cwe', 'fwe', 'kv'] as const;

/** The body between the instruction and the question. */
function body(s: Sample): string {
  return s.prompt.slice(s.prompt.indexOf('\n\n') + 2, s.prompt.lastIndexOf('\n\nQuestion:'));
}

function counts(words: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of words) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

/** Largest tokens one unit of the task may add (the fit may fall short by less than one unit). */
const UNIT: Record<(typeof TASKS)[number], number> = { vt: 0, cwe: 12, fwe: 0, kv: 60 };

describe('RULER workload definition', () => {
  it('fills defaults and rejects an unknown task', () => {
    assert.deepEqual(parseWorkloadDef({ kind: 'ruler', task: 'kv', contextLengths: [512] }), { kind: 'ruler', task: 'kv', contextLengths: [512], samples: 1 });
    assert.throws(() => parseWorkloadDef({ kind: 'ruler', task: 'qa', contextLengths: [512] }), WorkloadError);
  });
});

for (const task of TASKS) {
  describe(`RULER ${task}`, () => {
    const def = { kind: 'ruler' as const, task, contextLengths: [400, 1500], samples: 2 };

    it('is deterministic under a seed and differs across seeds', () => {
      const a = generateRuler(def, { seed: 11, counter: whitespace });
      assert.deepEqual(generateRuler(def, { seed: 11, counter: whitespace }), a);
      assert.notDeepEqual(
        generateRuler(def, { seed: 12, counter: whitespace }).map((s) => s.prompt),
        a.map((s) => s.prompt),
      );
      assert.deepEqual(
        a.map((s) => s.id),
        [`ruler-${task}/c400/s0`, `ruler-${task}/c400/s1`, `ruler-${task}/c1500/s0`, `ruler-${task}/c1500/s1`],
      );
    });

    for (const [name, counter] of [
      ['whitespace', (): TokenCounter => whitespace],
      ['Llama-3 BPE', llama3Counter],
    ] as const) {
      it(`hits the requested length (${name} counter): never over target + tol, short by less than one unit`, () => {
        const c = counter();
        for (const s of generateRuler({ ...def, contextLengths: [500, 3000] }, { seed: 1, counter: c })) {
          const L = Number(s.meta['contextLength']);
          const n = c.count(s.prompt);
          assert.equal(n, s.meta['tokens']);
          const tol = lengthTolerance(L);
          assert.ok(n <= L + tol && n >= L - Math.max(tol, UNIT[task]), `${s.id}: ${n} tokens for ${L}`);
        }
      });
    }

    it('expects exactly the answers the prompt implies', () => {
      for (const s of generateRuler({ ...def, contextLengths: [600, 2000], samples: 3 }, { seed: 5, counter: whitespace })) {
        assert.equal(s.metric, 'niah');
        const text = body(s);
        if (task === 'vt') {
          // Follow the assignments in order: a variable equals the value if it is assigned the value or a variable that does.
          const value = String(s.meta['value']);
          const equal = new Set<string>();
          const seen = new Set<string>();
          for (const m of text.matchAll(/VAR ([A-Z]{5}) = (VAR ([A-Z]{5})|\d+)\./g)) {
            const [, x = '', , y] = m;
            if (y !== undefined) assert.ok(seen.has(y), `${x} is assigned from ${y} before ${y} is defined`);
            seen.add(x);
            if (m[2] === value || (y !== undefined && equal.has(y))) equal.add(x);
          }
          assert.equal(seen.size, 10);
          assert.deepEqual([...equal].sort(), [...s.answers].sort());
          assert.equal(s.answers.length, 5);
        } else if (task === 'cwe') {
          const c = counts(text.split(', '));
          const fc = Number(s.meta['commonFrequency']);
          assert.ok(fc > 3);
          for (const a of s.answers) assert.equal(c.get(a), fc);
          for (const [w, k] of c) if (!s.answers.includes(w)) assert.equal(k, 3, w);
          assert.equal(s.answers.length, 10);
        } else if (task === 'fwe') {
          const ranked = [...counts(text.split(' '))].sort((x, y) => y[1] - x[1]);
          assert.deepEqual(new Set(s.answers), new Set(ranked.slice(0, 3).map((e) => e[0])));
          assert.ok((ranked[2]?.[1] ?? 0) > (ranked[3]?.[1] ?? 0), '3rd strictly more frequent than 4th');
        } else {
          const obj = JSON.parse(text) as Record<string, string>;
          const key = String(s.meta['key']);
          assert.equal(obj[key], s.answers[0]);
          assert.ok(s.prompt.endsWith(`The value stored under "${key}" is`));
          assert.equal(Object.keys(obj).length, s.meta['pairs']);
        }
        for (const a of s.answers) assert.ok(text.includes(a));
      }
    });

    it('rejects a length below the smallest prompt with a WorkloadError', () => {
      assert.throws(() => generateRuler({ ...def, contextLengths: [16] }, { seed: 0, counter: whitespace }), WorkloadError);
    });
  });
}
