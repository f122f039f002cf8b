/**
 * Editing a per-layer allocation by hand conserves the total (property
 * checked with fast-check over random allocations, targets and bounds) and
 * respects the bounds; rescaling to a new total hits it exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { redistribute, rescaleTotal } from '../../../renderer/src/charts/budget-edit.ts';

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('redistribute', () => {
  it('sets the layer and takes the difference from the others in proportion', () => {
    assert.deepEqual(redistribute([40, 30, 20, 10], 3, 34), [29, 22, 15, 34]);
    assert.deepEqual(redistribute([10, 10, 10, 10], 0, 4), [4, 12, 12, 12]);
  });

  it('clamps to what the other layers can give or hold', () => {
    assert.deepEqual(redistribute([5, 5, 5], 0, 100, { min: 4 }), [7, 4, 4]);
    assert.deepEqual(redistribute([5, 5, 5], 0, 0, { min: 4 }), [4, 6, 5]);
    assert.deepEqual(redistribute([8, 8], 0, 15, { max: 9 }), [9, 7]);
  });

  it('leaves a single layer or an index out of range alone', () => {
    assert.deepEqual(redistribute([12], 0, 3), [12]);
    assert.deepEqual(redistribute([1, 2], 5, 3), [1, 2]);
  });

  it('conserves the total and the bounds for any allocation and target', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 2, max: 300 }), { minLength: 2, maxLength: 48 }),
        fc.nat(),
        fc.double({ min: -50, max: 2000, noNaN: true }),
        fc.integer({ min: 0, max: 2 }),
        (budgets, i, v, min) => {
          const idx = i % budgets.length;
          const out = redistribute(budgets, idx, v, { min });
          assert.equal(out.length, budgets.length);
          assert.equal(sum(out), sum(budgets));
          assert.ok(out.every((x) => Number.isInteger(x) && x >= min));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('rescaleTotal', () => {
  it('keeps the shape and hits the new total exactly', () => {
    assert.deepEqual(rescaleTotal([40, 30, 20, 10], 50), [20, 15, 10, 5]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 40, max: 5000 }), (b, t) => {
        assert.equal(sum(rescaleTotal(b, t)), t);
      }),
      { numRuns: 200 },
    );
  });
});
