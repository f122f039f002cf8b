/**
 * The Runs screen's live summary: one line per (method, budget), means by
 * hand; budgets in reading order; sample ids split so their cell part stays whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyRow } from '@kvlab/core';
import { compareBudgets, splitSampleId, summarizeByMethodBudget } from '../../../renderer/src/util/run-summary.ts';

function cell(methodLabel: string, budget: string, score: number, heldBytes: number, fullBytes = 1000): AnyRow {
  return {
    kind: 'cell',
    cellId: `${methodLabel}|${budget}|${score}|${heldBytes}`,
    methodLabel,
    budget,
    score,
    kv: { heldBytes, fullBytes },
  } as unknown as AnyRow;
}

describe('summarizeByMethodBudget', () => {
  it('keeps a 10 % and a 20 % run apart instead of averaging them', () => {
    const rows = [
      cell('full', 'full', 1, 1000),
      cell('snapkv/uniform', '20%', 1, 200),
      cell('snapkv/uniform', '10%', 0, 100),
      cell('snapkv/uniform', '10%', 1, 100),
      cell('snapkv/uniform', '20%', 0, 200),
      { kind: 'check', cellId: 'x#leak-check' } as unknown as AnyRow,
    ];
    assert.deepEqual(summarizeByMethodBudget(rows), [
      { label: 'full', budget: 'full', cells: 1, meanScore: 1, meanShare: 1 },
      { label: 'snapkv/uniform', budget: '10%', cells: 2, meanScore: 0.5, meanShare: 0.1 },
      { label: 'snapkv/uniform', budget: '20%', cells: 2, meanScore: 0.5, meanShare: 0.2 },
    ]);
  });
  it('methods in the order they first appear; a cell with no full-cache size counts as the whole cache', () => {
    const out = summarizeByMethodBudget([cell('b', '50%', 0.25, 10, 0), cell('a', '50%', 1, 250), cell('b', '50%', 0.75, 10, 0)]);
    assert.deepEqual(
      out.map((o) => [o.label, o.cells, o.meanScore, o.meanShare]),
      [
        ['b', 2, 0.5, 1],
        ['a', 1, 1, 0.25],
      ],
    );
  });
});

describe('compareBudgets', () => {
  it("puts 'full' first and numbers by value", () => {
    assert.deepEqual(['100%', '20%', 'full', '5%'].sort(compareBudgets), ['full', '5%', '20%', '100%']);
    assert.deepEqual(['256', 'full', '64'].sort(compareBudgets), ['full', '64', '256']);
  });
});

describe('splitSampleId', () => {
  it('splits off the workload, leaving context, depth and sample whole', () => {
    assert.deepEqual(splitSampleId('niah-passkey/c256/d75/s0'), { head: 'niah-passkey/', tail: 'c256/d75/s0' });
    assert.deepEqual(splitSampleId('fidelity-0'), { head: 'fidelity-0', tail: '' });
  });
});
