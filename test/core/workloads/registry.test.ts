/**
 * The workload registry: every kind's sketch names and orders its samples as
 * its generator does (the builder's estimate and the fake API rely on it), the
 * experiment schema is the union of the kinds' schemas, the builder form's
 * initial values write a valid definition, and `sources` names what the host reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkloadDefInput } from '@kvlab/core';
import {
  generateWorkload,
  parseExperiment,
  parseWorkloadDef,
  sketchWorkload,
  WORKLOAD_KINDS,
  WORKLOADS,
  workloadFormDefaults,
  workloadFromForm,
  workloadSources,
  WorkloadError,
} from '@kvlab/core';
import { sharedText, whitespace } from './counters.ts';

const TEXT = 'austen-emma.txt';
const texts = [sharedText(TEXT)];
const jsonl = [
  JSON.stringify({ input: 'q1', context: 'c1', answers: ['a'], length: 2, dataset: 'qasper', language: 'en', all_classes: null, _id: 'x1' }),
  JSON.stringify({ input: 'q2', context: 'c2', answers: ['b'], length: 2, dataset: 'qasper', language: 'en', all_classes: null, _id: 'x2' }),
].join('\n');

/** One definition per kind, with a repeated length (generators run it once) and the texts it needs. */
const CASES: readonly { readonly def: WorkloadDefInput; readonly texts?: readonly string[] }[] = [
  { def: { kind: 'niah', variant: 'multikey', contextLengths: [300, 200, 300], depths: [0, 50, 50, 100], samplesPerCell: 2 } },
  { def: { kind: 'niah', variant: 'passkey', contextLengths: [200], depths: [25], match: 'whole', name: 'pk' } },
  { def: { kind: 'ruler', task: 'kv', contextLengths: [400, 300, 400], samples: 2 } },
  { def: { kind: 'fidelity', texts: [TEXT], promptTokens: [64, 32, 64], continuationTokens: 16, samples: 2 }, texts },
];

const view = (xs: readonly { id: string; workload: string; metric: string }[]) => xs.map(({ id, workload, metric }) => ({ id, workload, metric }));

describe('workload registry', () => {
  it('lists every kind once, keyed by its own kind', () => {
    assert.deepEqual(WORKLOAD_KINDS, Object.keys(WORKLOADS));
    for (const k of WORKLOAD_KINDS) assert.equal(WORKLOADS[k].kind, k);
  });

  for (const c of CASES) {
    it(`${c.def.kind}: the sketch names, orders and scores samples as the generator does`, () => {
      const generated = generateWorkload(c.def, { seed: 5, counter: whitespace, ...(c.texts ? { texts: c.texts } : {}) });
      const sketch = sketchWorkload(c.def);
      assert.ok(sketch.exact);
      assert.deepEqual(view(sketch.samples), view(generated));
      assert.deepEqual(
        sketch.samples.map((s) => s.promptTokens),
        generated.map((s) => (s.meta['contextLength'] ?? s.meta['promptTokens']) as number),
      );
    });
  }

  it('longbench: the sketch is a guess unless limit and datasets are given', () => {
    assert.equal(generateWorkload({ kind: 'longbench', path: 'x.jsonl', limit: 1 }, { seed: 0, counter: whitespace, texts: [jsonl] }).length, 1);
    assert.equal(sketchWorkload({ kind: 'longbench', path: 'x.jsonl' }).exact, false);
    const exact = sketchWorkload({ kind: 'longbench', path: 'x.jsonl', datasets: ['qasper'], limit: 3 });
    assert.equal(exact.exact, true);
    assert.equal(exact.samples.length, 3);
  });

  it('tolerates half-typed input in sketches: NaN lengths and missing counts are skipped or defaulted', () => {
    assert.deepEqual(
      sketchWorkload({ kind: 'niah', contextLengths: [256, Number.NaN], depths: [50] }).samples.map((s) => s.id),
      ['niah-single/c256/d50/s0'],
    );
    assert.deepEqual(sketchWorkload({ kind: 'nope' } as unknown as WorkloadDefInput).samples, []);
  });

  it('the experiment schema accepts every kind and names an unknown one', () => {
    const base = { name: 'x', models: ['m.gguf'], methods: ['full'], budgets: ['20%'] };
    assert.equal(parseExperiment({ ...base, workloads: CASES.map((c) => c.def) }).workloads.length, CASES.length);
    assert.throws(() => parseExperiment({ ...base, workloads: [{ kind: 'quiz' }] }), /workloads\.0/);
    assert.throws(() => parseWorkloadDef({ kind: 'quiz' }), WorkloadError);
  });

  it("each kind's builder form starts from values that write a valid definition (LongBench once given its path)", () => {
    for (const k of WORKLOAD_KINDS) {
      const values = { ...workloadFormDefaults(k), ...(k === 'longbench' ? { path: 'data.jsonl' } : {}) };
      const def = workloadFromForm(k, values);
      assert.equal(def.kind, k);
      assert.doesNotThrow(() => parseWorkloadDef(def), k);
    }
  });

  it('form codecs: defaults are left out, lists are parsed, a bad number stays NaN for validation', () => {
    const niah = workloadFromForm('niah', { ...workloadFormDefaults('niah'), contextLengths: '256, x', haystack: 'a.txt, b.txt', samplesPerCell: '' });
    assert.deepEqual(niah, {
      kind: 'niah',
      variant: 'passkey',
      contextLengths: [256, Number.NaN],
      depths: [0, 50, 100],
      haystack: { kind: 'texts', names: ['a.txt', 'b.txt'] },
    });
    const fid = workloadFromForm('fidelity', { ...workloadFormDefaults('fidelity'), continuationTokens: '' });
    assert.equal(fid.kind === 'fidelity' && fid.texts, 'sampled');
    assert.ok(fid.kind === 'fidelity' && Number.isNaN(fid.continuationTokens));
  });

  it('sources name the files the host reads', () => {
    assert.deepEqual(workloadSources(parseWorkloadDef(CASES[0]?.def)), { kind: 'none' });
    assert.deepEqual(workloadSources(parseWorkloadDef({ kind: 'niah', contextLengths: [256], depths: [0], haystack: { kind: 'texts', names: [TEXT] } })), {
      kind: 'texts',
      names: [TEXT],
    });
    assert.deepEqual(workloadSources(parseWorkloadDef({ kind: 'fidelity', promptTokens: [64], continuationTokens: 8 })), { kind: 'texts', names: [TEXT] });
    assert.deepEqual(workloadSources(parseWorkloadDef({ kind: 'fidelity', texts: 'sampled', promptTokens: [64], continuationTokens: 8 })), { kind: 'sampled' });
    assert.deepEqual(workloadSources(parseWorkloadDef({ kind: 'longbench', path: 'lb' })), { kind: 'jsonl', path: 'lb' });
  });
});
