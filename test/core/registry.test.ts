import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeMethods, getAllocator, getScorer, ParamError, planCompression, UnknownMethodError, validateMethod } from '@kvlab/core';

interface JsonProp {
  type?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: unknown[];
  description?: string;
}

describe('registry descriptions (drive the UI pickers)', () => {
  const methods = describeMethods();
  it('lists every kind of method', () => {
    const kinds = new Set(methods.map((m) => m.kind));
    assert.deepEqual([...kinds].sort(), ['allocator', 'headwise', 'scorer']);
    assert.ok(methods.length >= 11);
  });

  for (const m of methods) {
    const props = ((m.schema as { properties?: Record<string, JsonProp> }).properties ?? {}) as Record<string, JsonProp>;
    it(`${m.kind} '${m.id}': every parameter is described, and an out-of-range value throws a ParamError naming '${m.id}' and the parameter`, () => {
      for (const [name, p] of Object.entries(props)) {
        assert.ok(p.description && p.description.length > 5, `${m.id}.${name} has no description`);
        const bad: unknown[] = [];
        if (p.maximum !== undefined) bad.push(p.maximum + 1);
        if (p.exclusiveMaximum !== undefined) bad.push(p.exclusiveMaximum);
        if (p.minimum !== undefined) bad.push(p.minimum - 1);
        if (p.exclusiveMinimum !== undefined) bad.push(p.exclusiveMinimum);
        if (p.enum) bad.push('not-a-valid-choice');
        if (p.type === 'boolean') bad.push('yes');
        for (const v of bad) {
          assert.throws(
            () => validateMethod(m.kind, m.id, { [name]: v }),
            (e: unknown) => e instanceof ParamError && e.method === m.id && e.param === name && e.message.startsWith(`${name} for '${m.id}' `),
            `${m.id}.${name} = ${JSON.stringify(v)} was accepted`,
          );
        }
      }
      assert.throws(
        () => validateMethod(m.kind, m.id, { noSuchParam: 1 }),
        (e: unknown) => e instanceof ParamError && /noSuchParam/.test(e.message),
      );
    });
  }

  it('the descriptions are plain JSON (they cross IPC and HTTP)', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(methods)), methods);
  });

  it('unknown ids are typed errors listing what exists', () => {
    assert.throws(
      () => getScorer('snap'),
      (e: unknown) => e instanceof UnknownMethodError && /snapkv/.test(e.message),
    );
    assert.throws(() => getAllocator('toString'), UnknownMethodError);
    assert.throws(() => planCompression([], { scorer: { id: 'snapkv' }, allocator: { id: 'uniform' } }, 10), /at least one layer/);
  });

  it('the error message format is stable', () => {
    assert.throws(() => validateMethod('scorer', 'snapkv', { windowSize: 0 }), { message: "windowSize for 'snapkv' must be an integer in [1, 4096], got 0" });
  });
});
