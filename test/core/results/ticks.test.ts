/**
 * Round axis ticks: steps of 1, 2 or 5 × 10^k, the axis ending on a tick,
 * checked against hand-worked axes (the ones recharts drew as 0/65/130/195/250
 * and 0.95/1.90/2.85 MiB).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { niceStep, niceTicks, tickDigits, ticksFromZero } from '@kvlab/core';

const isNice = (step: number): boolean => {
  const mag = 10 ** Math.floor(Math.log10(step) + 1e-9);
  return [1, 2, 5].some((m) => Math.abs(step / mag - m) < 1e-9);
};

describe('niceStep', () => {
  it('is 1, 2 or 5 × 10^k, the smallest that keeps to the tick count', () => {
    assert.equal(niceStep(250, 6), 50);
    assert.equal(niceStep(3.8, 6), 1);
    assert.equal(niceStep(0.3, 4), 0.1);
    assert.equal(niceStep(1, 6), 0.2);
    assert.equal(niceStep(7000, 5), 2000);
  });
  it('a degenerate span gets 1', () => {
    assert.equal(niceStep(0), 1);
    assert.equal(niceStep(Number.NaN), 1);
  });
});

describe('niceTicks', () => {
  it('a budget axis up to 250 tokens: 0, 50, … 250 (not 0/65/130/195/250)', () => {
    assert.deepEqual(ticksFromZero(250), [0, 50, 100, 150, 200, 250]);
  });
  it('a KV axis up to 3.8 MiB: 0, 1, 2, 3, 4 (not 0.95/1.90/2.85)', () => {
    assert.deepEqual(ticksFromZero(3.8), [0, 1, 2, 3, 4]);
  });
  it('prints decimal steps without float noise', () => {
    assert.deepEqual(niceTicks(0, 0.3, 4), [0, 0.1, 0.2, 0.3]);
    assert.deepEqual(niceTicks(0.13, 0.97, 6), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
  it('never exceeds the tick count, and ends at or beyond the data', () => {
    for (const [lo, hi, n] of [
      [0.5, 8.5, 5],
      [0, 1023, 6],
      [-3, 17, 5],
      [12, 13.7, 4],
      [0, 1e-4, 6],
    ] as const) {
      const t = niceTicks(lo, hi, n);
      assert.ok(t.length >= 2 && t.length <= n, `${lo}..${hi}: ${t.join(' ')}`);
      assert.ok((t[0] ?? Infinity) <= lo && (t.at(-1) ?? -Infinity) >= hi, `${lo}..${hi}: ${t.join(' ')}`);
      assert.ok(isNice((t[1] ?? 0) - (t[0] ?? 0)), `${lo}..${hi}: ${t.join(' ')}`);
    }
  });
  it('an empty range still has two ends', () => {
    assert.deepEqual(niceTicks(0, 0), [0, 1]);
    assert.deepEqual(ticksFromZero(0), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(Number.NaN, 1), [0, 1]);
  });
});

describe('tickDigits', () => {
  it('prints as many decimals as the step needs', () => {
    assert.equal(tickDigits([0, 50, 100]), 0);
    assert.equal(tickDigits([0, 0.5, 1]), 1);
    assert.equal(tickDigits([0, 0.05]), 2);
  });
});
