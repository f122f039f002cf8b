/** Cell expansion: the ids and order the runner and the fake API share. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellId, leakCheckId, planCells, resolveBudgets, resolveMethods, sampleCells } from '@kvlab/core';

const methods = resolveMethods(['full', 'snapkv/uniform', { method: 'snapkv/zigzagkv', label: 'zz' }]);
const budgets = resolveBudgets([' 10% ', '128']);

describe('experiment plan', () => {
  it('names a cell m<model>/<sample>/<label>/<budget>, and its leak check with #leak-check', () => {
    assert.equal(cellId(1, 'niah-single/c256/d50/s0', 'snapkv/uniform', '20%'), 'm1/niah-single/c256/d50/s0/snapkv/uniform/20%');
    assert.equal(leakCheckId('m0/a/full/full'), 'm0/a/full/full#leak-check');
  });

  it('expands a sample into full once, then every other method at every budget, in the order written', () => {
    const cells = sampleCells(0, 's', methods, budgets);
    assert.deepEqual(
      cells.map((c) => c.id),
      ['m0/s/full/full', 'm0/s/snapkv/uniform/10%', 'm0/s/snapkv/uniform/128', 'm0/s/zz/10%', 'm0/s/zz/128'],
    );
    assert.equal(cells[0]?.budget.spec, undefined);
    assert.deepEqual(cells[1]?.budget, budgets[0]);
    assert.equal(cells[3]?.method.spec, 'snapkv/zigzagkv');
  });

  it('plans models × samples × cells, model by model', () => {
    const samples = [{ id: 'a' }, { id: 'b' }];
    const cells = planCells({ models: 2, samples, methods, budgets });
    assert.equal(cells.length, 2 * 2 * 5);
    assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
    assert.deepEqual(
      cells.map((c) => `${c.modelIndex}${c.sample.id}`).filter((x, i, xs) => xs.indexOf(x) === i),
      ['0a', '0b', '1a', '1b'],
    );
  });
});
