import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canonicalJson, EXECUTION_PROVIDER_CHOICES, ExperimentError, parseExperiment, resolveBudgets, resolveMethods } from '@kvlab/core';

const base = { name: 'x', models: ['m.gguf'], methods: ['full'], budgets: ['20%'], workloads: [{ kind: 'ruler', task: 'kv', contextLengths: [256] }] };

describe('experiment definitions', () => {
  it('fills defaults and resolves methods and budgets', () => {
    const d = parseExperiment({ ...base, methods: ['full', 'zigzagkv', { method: 'snapkv/zigzagkv+adakv', label: 'ada-zz', allocator: { tau: 0.8 } }] });
    assert.equal(d.seed, 0);
    assert.equal(d.engine.executionProvider, 'cpu');
    const m = resolveMethods(d.methods);
    assert.deepEqual(
      m.map((x) => [x.label, x.spec]),
      [
        ['full', 'full'],
        ['snapkv/zigzagkv', 'snapkv/zigzagkv'],
        ['ada-zz', 'snapkv/zigzagkv+adakv'],
      ],
    );
    assert.deepEqual(m[2]?.config !== 'full' && m[2]?.config.allocator, { id: 'zigzagkv', params: { tau: 0.8 } });
    assert.deepEqual(resolveBudgets(['20%', '128']), [
      { text: '20%', spec: { kind: 'keepRatio', value: 0.2 } },
      { text: '128', spec: { kind: 'tokensPerLayer', value: 128 } },
    ]);
  });

  it("takes every provider of core's one list, and 'auto'; refuses others", () => {
    for (const executionProvider of EXECUTION_PROVIDER_CHOICES)
      assert.equal(parseExperiment({ ...base, engine: { executionProvider } }).engine.executionProvider, executionProvider);
    assert.ok(EXECUTION_PROVIDER_CHOICES.includes('webgpu') && EXECUTION_PROVIDER_CHOICES.includes('auto'));
    assert.throws(() => parseExperiment({ ...base, engine: { executionProvider: 'gpu' } }), ExperimentError);
  });

  it('lists every problem with its path', () => {
    assert.throws(
      () =>
        parseExperiment(
          { ...base, methods: ['snapkv', 'snapkv'], budgets: ['2x'], workloads: [{ kind: 'niah', contextLengths: [], depths: [50] }], extra: 1 },
          'exp.json',
        ),
      (e: unknown) =>
        e instanceof ExperimentError &&
        e.message.startsWith('exp.json:') &&
        /budgets\.0: .*Budget "2x" is not understood/.test(e.message) &&
        /share the label 'snapkv\/uniform'/.test(e.message) &&
        /workloads\.0\.contextLengths/.test(e.message) &&
        /extra/.test(e.message),
    );
  });

  it('hashes the same definition the same way whatever the key order', () => {
    assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), canonicalJson({ a: [1, { c: 3, d: 2 }], b: 1 }));
  });

  it('every example experiment in docs/ is valid', () => {
    const dir = join(import.meta.dirname, '../../docs/examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0);
    for (const f of files) assert.doesNotThrow(() => parseExperiment(JSON.parse(readFileSync(join(dir, f), 'utf8')), f), f);
  });
});
