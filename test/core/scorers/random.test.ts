import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LayerObservation, RandomParams, ScorerDef } from '@kvlab/core';
import { ParamError, createRng, mixSeed, parseParams, random, selectTokens } from '@kvlab/core';

/** The scorer through its contract type (its literal functions declare only the parameters they use). */
const asDef = (s: ScorerDef<'random', RandomParams>) => s;

function bare(layer: number, n: number, Hkv: number): LayerObservation {
  return { layer, seqLen: n, numQueryHeads: Hkv * 2, numKvHeads: Hkv, headDim: 4, windows: [] };
}

describe('random scorer', () => {
  it('defaults: seed 0, no window, no inputs', () => {
    const p = parseParams(random, {});
    assert.deepEqual(p, { seed: 0, windowSize: 0 });
    assert.deepEqual(random.protect(p), { sinks: 0, window: 0 });
    assert.deepEqual(asDef(random).needs(p), []);
  });

  it('scores are the documented draws: createRng(mixSeed(seed, layer, head)), one per position', () => {
    const p = parseParams(random, { seed: 42 });
    const s = random.score(bare(3, 10, 2), p);
    assert.deepEqual(s.dims, [2, 10]);
    for (let h = 0; h < 2; h++) {
      const rng = createRng(mixSeed(42, 3, h));
      for (let j = 0; j < 10; j++) assert.equal(s.data[h * 10 + j], Math.fround(rng.next()));
    }
    for (const v of s.data) assert.ok(v >= 0 && v <= 1);
  });

  it('is deterministic for the same seed and layer, and differs across seeds, layers and heads', () => {
    const row = (seed: number, layer: number, h: number) => [
      ...random.score(bare(layer, 32, 2), parseParams(random, { seed })).data.subarray(h * 32, (h + 1) * 32),
    ];
    assert.deepEqual(row(7, 1, 0), row(7, 1, 0));
    assert.notDeepEqual(row(7, 1, 0), row(8, 1, 0));
    assert.notDeepEqual(row(7, 1, 0), row(7, 2, 0));
    assert.notDeepEqual(row(7, 1, 0), row(7, 1, 1));
  });

  it('windowSize protects the tail and leaves the other scores unchanged; a longer prompt extends a shorter one', () => {
    const a = random.score(bare(0, 20, 1), parseParams(random, { seed: 5 }));
    const b = random.score(bare(0, 20, 1), parseParams(random, { seed: 5, windowSize: 4 }));
    const c = random.score(bare(0, 26, 1), parseParams(random, { seed: 5 }));
    for (let j = 0; j < 20; j++) {
      assert.equal(b.data[j], j >= 16 ? Infinity : a.data[j]);
      assert.equal(c.data[j], a.data[j]);
    }
    const kept = selectTokens(b, [6], random.protect(parseParams(random, { seed: 5, windowSize: 4 })), 'random');
    assert.deepEqual([...(kept[0] ?? [])].slice(-4), [16, 17, 18, 19]);
  });

  it('keeps every position about equally often across seeds', () => {
    const n = 20;
    const budget = 5;
    const counts = new Array<number>(n).fill(0);
    const trials = 2000;
    for (let seed = 0; seed < trials; seed++) {
      const p = parseParams(random, { seed });
      const kept = selectTokens(random.score(bare(0, n, 1), p), [budget], random.protect(p), 'random');
      for (const j of kept[0] ?? []) counts[j] = (counts[j] ?? 0) + 1;
    }
    // Expected rate 0.25, binomial sd ≈ 0.0097 per position: allow ±5 sd.
    for (let j = 0; j < n; j++) assert.ok(Math.abs((counts[j] ?? 0) / trials - budget / n) < 0.05, `position ${j}: ${counts[j]}`);
  });

  it('rejects invalid parameters with a ParamError naming method and parameter', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ seed: -1 }, 'seed'],
      [{ seed: 1.5 }, 'seed'],
      [{ seed: 2 ** 31 }, 'seed'],
      [{ seed: '0' }, 'seed'],
      [{ windowSize: -2 }, 'windowSize'],
    ];
    for (const [raw, param] of bad) {
      assert.throws(
        () => parseParams(random, raw),
        (e: unknown) => e instanceof ParamError && e.method === 'random' && e.param === param && new RegExp(`${param} for 'random'`).test(e.message),
        JSON.stringify(raw),
      );
    }
  });
});
