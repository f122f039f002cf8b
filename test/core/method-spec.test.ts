import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMethodSpec, parseMethodSpec, UnknownMethodError } from '@kvlab/core';

describe('method strings', () => {
  it('parses every form', () => {
    assert.equal(parseMethodSpec('full'), 'full');
    assert.deepEqual(parseMethodSpec('snapkv'), { scorer: { id: 'snapkv' }, allocator: { id: 'uniform' } });
    assert.deepEqual(parseMethodSpec('ZigZagKV'), { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' } });
    assert.deepEqual(parseMethodSpec('h2o/pyramidkv+adakv', { scorer: { recentSize: 4 } }), {
      scorer: { id: 'h2o', params: { recentSize: 4 } },
      allocator: { id: 'pyramidkv' },
      headwise: { id: 'adakv' },
    });
  });

  it('round-trips through formatMethodSpec', () => {
    for (const s of ['full', 'snapkv/uniform', 'tova/cake+adakv']) assert.equal(formatMethodSpec(parseMethodSpec(s)), s);
  });

  it('names unknown ids and lists the known ones', () => {
    assert.throws(
      () => parseMethodSpec('snap'),
      (e: unknown) => e instanceof UnknownMethodError && /snapkv/.test(e.message),
    );
    assert.throws(
      () => parseMethodSpec('zigzagkv/snapkv'),
      (e: unknown) => e instanceof UnknownMethodError && e.kind === 'scorer',
    );
    assert.throws(
      () => parseMethodSpec('snapkv/uniform+ada'),
      (e: unknown) => e instanceof UnknownMethodError && e.kind === 'headwise',
    );
  });
});
