import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShapeError, accumulatedAttention, f32, observationFromQkv, windowAttentionProbs, windowStatsFromProbs } from '@kvlab/core';
import { expectArraysClose, randomQkv } from '../fixtures.ts';

/*
 * Hand example: 1 head, d = 2, n = 3, α = 2, so 1/√d = 1/√2.
 *   keys     k0 = (0, 0), k1 = (ln 2, ln 3), k2 = (ln 3, 0)
 *   queries  q_a = (√2, 0) at position 1, q_b = (0, √2) at position 2
 * Logits q·k/√2 pick one coordinate of each key:
 *   q_a: (0, ln 2) over keys 0..1, key 2 masked   → exp (1, 2)    → p_a = (1/3, 2/3, 0)
 *   q_b: (0, ln 3, 0) over keys 0..2             → exp (1, 3, 1) → p_b = (1/5, 3/5, 1/5)
 * Statistics:
 *   sum     = (1/3 + 1/5, 2/3 + 3/5, 1/5)           = (8/15, 19/15, 3/15)
 *   sqSum   = (1/9 + 1/25, 4/9 + 9/25, 1/25)        = (34/225, 181/225, 9/225)
 *   H(p_a)  = ln 3 − (2/3) ln 2;  H(p_b) = ln 5 − (3/5) ln 3;  entropy = their mean
 *   lastQuery = p_b
 */
const LN2 = Math.log(2);
const LN3 = Math.log(3);
const LN5 = Math.log(5);
const keys = f32([1, 3, 2], [0, 0, LN2, LN3, LN3, 0]);
const queries = f32([1, 2, 2], [Math.SQRT2, 0, 0, Math.SQRT2]);

describe('windowAttentionProbs / windowStatsFromProbs', () => {
  it('hand-computed example', () => {
    const probs = windowAttentionProbs(queries, keys);
    assert.deepEqual(probs.dims, [1, 2, 3]);
    expectArraysClose(probs.data, [1 / 3, 2 / 3, 0, 1 / 5, 3 / 5, 1 / 5], 1e-6, 'probs');
    assert.equal(probs.data[2], 0, 'the first window query gives exactly 0 to the later key');

    const { window, lastQuery } = windowStatsFromProbs(probs);
    assert.equal(window.size, 2);
    assert.deepEqual(window.sum.dims, [1, 3]);
    expectArraysClose(window.sum.data, [8 / 15, 19 / 15, 3 / 15], 1e-6, 'sum');
    expectArraysClose(window.sqSum?.data ?? [], [34 / 225, 181 / 225, 9 / 225], 1e-6, 'sqSum');
    expectArraysClose(window.entropy ?? [], [(LN3 - (2 / 3) * LN2 + LN5 - (3 / 5) * LN3) / 2], 1e-6, 'entropy');
    expectArraysClose(lastQuery.data, [1 / 5, 3 / 5, 1 / 5], 1e-6, 'lastQuery');
  });

  it('GQA: two query heads sharing one KV head read the same keys', () => {
    // Head 0 = the example's queries, head 1 = the same queries swapped.
    const q2 = f32([2, 2, 2], [Math.SQRT2, 0, 0, Math.SQRT2, 0, Math.SQRT2, Math.SQRT2, 0]);
    const probs = windowAttentionProbs(q2, keys);
    // Head 1: q_b at position 1 → logits (0, ln 3) → (1/4, 3/4, 0); q_a at position 2 → (0, ln 2, ln 3) → (1/6, 2/6, 3/6).
    expectArraysClose(probs.data, [1 / 3, 2 / 3, 0, 1 / 5, 3 / 5, 1 / 5, 1 / 4, 3 / 4, 0, 1 / 6, 2 / 6, 3 / 6], 1e-6, 'probs');
  });

  it('rows sum to 1 and are causal on random layers', () => {
    for (const [n, Hq, Hkv, d, alpha] of [
      [20, 4, 2, 8, 6],
      [7, 3, 1, 4, 7],
      [15, 2, 2, 16, 1],
    ] as const) {
      const qkv = randomQkv(n * 7 + alpha, n, Hq, Hkv, d, 3);
      const q = new Float32Array(Hq * alpha * d);
      for (let h = 0; h < Hq; h++) q.set(qkv.queries.data.subarray((h * n + n - alpha) * d, (h * n + n) * d), h * alpha * d);
      const probs = windowAttentionProbs(f32([Hq, alpha, d], q), qkv.keys);
      for (let h = 0; h < Hq; h++) {
        for (let i = 0; i < alpha; i++) {
          const pos = n - alpha + i;
          let s = 0;
          for (let j = 0; j < n; j++) {
            const p = probs.data[(h * alpha + i) * n + j] ?? NaN;
            if (j > pos) assert.equal(p, 0, `head ${h} query ${i} key ${j} is in the future`);
            else assert.ok(p > 0 && p <= 1, `head ${h} query ${i} key ${j}: ${p}`);
            s += p;
          }
          assert.ok(Math.abs(s - 1) < 1e-5, `row sum ${s}`);
        }
      }
      // The window sum of the statistics is the explicit sum of the rows, and totals α per head.
      const { window } = windowStatsFromProbs(probs);
      for (let h = 0; h < Hq; h++) {
        let total = 0;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < alpha; i++) s += probs.data[(h * alpha + i) * n + j] ?? 0;
          assert.ok(Math.abs((window.sum.data[h * n + j] ?? NaN) - s) < 1e-6);
          total += s;
        }
        assert.ok(Math.abs(total - alpha) < 1e-4);
      }
    }
  });

  it('accumulated attention totals n per head, and observationFromQkv agrees with the window statistics', () => {
    const n = 12;
    const qkv = randomQkv(9, n, 4, 2, 8, 2);
    const acc = accumulatedAttention(qkv.queries, qkv.keys);
    for (let h = 0; h < 4; h++) {
      let total = 0;
      for (let j = 0; j < n; j++) total += acc.data[h * n + j] ?? 0;
      assert.ok(Math.abs(total - n) < 1e-4, `head ${h} total ${total}`);
    }
    // α = n: the window sum equals the accumulated attention.
    const obs = observationFromQkv({ layer: 0, ...qkv, windowSizes: [n, 1], accumulated: true });
    expectArraysClose(obs.windows[0]?.sum.data ?? [], acc.data, 1e-6, 'α = n window vs accumulated');
    expectArraysClose(obs.accumulated?.data ?? [], acc.data, 1e-6, 'observation accumulated');
  });

  it('rejects mismatched shapes', () => {
    assert.throws(() => windowAttentionProbs(f32([1, 2, 3]), keys), ShapeError); // head dim 3 vs 2
    assert.throws(() => windowAttentionProbs(f32([1, 4, 2]), keys), ShapeError); // α 4 > n 3
    assert.throws(() => windowAttentionProbs(f32([3, 1, 2]), f32([2, 3, 2])), ShapeError); // 3 heads over 2 KV heads
  });
});
