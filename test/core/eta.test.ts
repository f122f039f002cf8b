/**
 * The token-weighted ETA: hand arithmetic on a sweep whose long contexts come
 * last, where counting cells is far too optimistic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellWeights, weightedEta } from '@kvlab/core';

describe('cellWeights', () => {
  it('is the planned prompt length in tokens', () => {
    assert.deepEqual(cellWeights([256, 1024, 4096]), [256, 1024, 4096]);
  });
  it('counts an unknown length as the mean of the known ones, or 1 when none is known', () => {
    assert.deepEqual(cellWeights([100, 0, 300, Number.NaN, -5]), [100, 200, 300, 200, 200]);
    assert.deepEqual(cellWeights([0, 0]), [1, 1]);
    assert.deepEqual(cellWeights([]), []);
  });
});

describe('weightedEta', () => {
  it('scales the busy time by the tokens left over the tokens done', () => {
    // Four cells at 256 tokens took 8 s (2 s each, 1/128 s per token); four cells at 4096 tokens are left:
    // 16384 tokens at 1/128 s = 128 s. Counting cells would say 8 s.
    const done = 4 * 256;
    const left = 4 * 4096;
    assert.equal(weightedEta(8, done, left), 128);
    const byCells = (8 * 4) / 4;
    assert.ok(weightedEta(8, done, left) > 10 * byCells);
  });
  it('with equal weights it is the cell-count estimate', () => {
    assert.equal(weightedEta(30, 3, 7), 70);
  });
  it('is 0 with nothing left, and 0 (unknown) before anything is done', () => {
    assert.equal(weightedEta(12, 100, 0), 0);
    assert.equal(weightedEta(0, 0, 500), 0);
    assert.equal(weightedEta(Number.NaN, 10, 10), 0);
  });
});
