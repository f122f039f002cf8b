import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BudgetError, createRng, f32, kthLargest, selectTokens } from '@kvlab/core';

/** Independent reference: full sort of (score desc, index asc), then the protected tokens. */
function naiveSelect(s: Float32Array, budget: number, sinks: number, window: number): number[] {
  const n = s.length;
  if (budget >= n) return Array.from({ length: n }, (_, i) => i);
  const cand = [];
  for (let i = sinks; i < n - window; i++) cand.push(i);
  cand.sort((a, b) => (s[b] ?? 0) - (s[a] ?? 0) || a - b);
  const keep = new Set(cand.slice(0, budget - sinks - window));
  for (let i = 0; i < sinks; i++) keep.add(i);
  for (let i = n - window; i < n; i++) keep.add(i);
  return [...keep].sort((a, b) => a - b);
}

describe('selectTokens', () => {
  it('keeps exactly the top scores plus the protected tokens, ascending', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.int(60);
      const hkv = 1 + rng.int(3);
      // Coarse values so ties are common.
      const data = new Float32Array(hkv * n).map(() => Math.round(rng.next() * 5));
      const sinks = rng.int(3);
      const window = rng.int(4);
      const budgets = Int32Array.from({ length: hkv }, () => Math.min(n, sinks + window) + rng.int(n + 2));
      const kept = selectTokens(f32([hkv, n], data), budgets, { sinks, window });
      for (let h = 0; h < hkv; h++) {
        const expected = naiveSelect(data.subarray(h * n, (h + 1) * n), budgets[h] ?? 0, Math.min(sinks, n), Math.min(window, n - Math.min(sinks, n)));
        assert.deepEqual([...(kept[h] ?? [])], expected, `trial ${trial} head ${h}`);
      }
    }
  });

  it('rejects a budget below the protected tokens with a BudgetError', () => {
    assert.throws(
      () => selectTokens(f32([1, 10]), [3], { sinks: 2, window: 2 }, 'streamingllm'),
      (e: unknown) => e instanceof BudgetError && /streamingllm/.test(e.message) && /4 protected/.test(e.message),
    );
  });

  it('rejects NaN scores', () => {
    assert.throws(() => selectTokens(f32([1, 3], [0, NaN, 1]), [2], { sinks: 0, window: 0 }), /NaN/);
  });

  it('kthLargest agrees with a sort', () => {
    const rng = createRng(3);
    for (let t = 0; t < 100; t++) {
      const a = new Float32Array(1 + rng.int(100)).map(() => (rng.next() < 0.1 ? -Infinity : rng.int(20)));
      const k = 1 + rng.int(a.length);
      const sorted = [...a].sort((x, y) => y - x);
      assert.equal(kthLargest(a.slice(), k), sorted[k - 1]);
    }
  });
});
