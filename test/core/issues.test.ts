/**
 * Schema problems in the user's terms (core/src/issues.ts), from real zod
 * issues of the contract's and the experiment's schemas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeIssues, joinIssues, LAB_API, parseExperiment, ExperimentError } from '@kvlab/core';

const problems = (schema: { safeParse(x: unknown): { success: boolean; error?: { issues: unknown[] } } }, x: unknown): string[] => {
  const r = schema.safeParse(x);
  assert.equal(r.success, false);
  return describeIssues((r.error?.issues ?? []) as Parameters<typeof describeIssues>[0]);
};

describe('schema problems in plain words', () => {
  it('missing, wrong kind, out of range, unknown field, not one of the choices', () => {
    assert.deepEqual(problems(LAB_API.getResults.input, { limit: 0, offset: 1.5, extra: 1 }), [
      'runId: is missing (text)',
      'offset: should be a whole number, not a number',
      'limit: must be at least 1',
      '(root): has an unknown field "extra" (check the spelling)',
    ]);
    assert.deepEqual(problems(LAB_API.exportReport.input, { runId: 'r', format: 'docx' }), ['format: must be one of "html", "pdf", "csv", "json"']);
    assert.deepEqual(problems(LAB_API.updateSettings.input, { threads: Infinity }), ['threads: should be a number, not an infinite number']);
    assert.deepEqual(problems(LAB_API.openModel.input, { path: '' }), ['path: must not be empty']);
    assert.deepEqual(problems(LAB_API.openModel.input, { path: 'a\u0000b' }), ['path: a path cannot contain a NUL character (\\u0000)']);
    assert.deepEqual(problems(LAB_API.startRun.input, 'x'), ['(root): should be an object {…}, not text']);
  });

  it('an experiment file lists each problem with its place', () => {
    assert.throws(
      () =>
        parseExperiment(
          { name: 'x', models: [], methods: ['snapkv'], budgets: ['20%'], workloads: [{ kind: 'niah', variant: 'single', contextLengths: [64] }], sede: 1 },
          'exp.json',
        ),
      (e: unknown) =>
        e instanceof ExperimentError &&
        e.issues.includes('models: needs at least one entry') &&
        e.issues.includes('(root): has an unknown field "sede" (check the spelling)'),
    );
  });

  it('a payload with thousands of problems is one short line', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    const lines = problems(LAB_API.getSettings.input, many);
    const line = joinIssues(lines);
    assert.ok(line.length < 400, line);
    assert.match(joinIssues(['a', 'b', 'c'], 2), /^a; b; and 1 more$/);
  });
});
