/**
 * Token-level fidelity metrics (core/src/metrics/fidelity.ts) on a
 * hand-computed 3-token × 3-word example, plus numerical stability and shape
 * errors.
 *
 * Full-cache logits (natural logs, so the softmaxes are exact fractions):
 *   row 0: [0, 0, 0]            → P = [1/3, 1/3, 1/3]
 *   row 1: [ln 2, 0, 0]         → P = [1/2, 1/4, 1/4]
 *   row 2: [0, ln 3, 0]         → P = [1/5, 3/5, 1/5]
 * Compressed-cache logits:
 *   row 0: [ln 2, 0, 0]         → Q = [1/2, 1/4, 1/4]
 *   row 1: [ln 2, 0, 0]         → Q = [1/2, 1/4, 1/4]
 *   row 2: [0, 0, 0]            → Q = [1/3, 1/3, 1/3]
 * Targets [0, 0, 1].
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deltaNll, f32, fidelitySummary, greedyPrefixMatch, klDivergence, perplexity, ShapeError, tokenNll, top1Agreement } from '@kvlab/core';

const L2 = Math.log(2);
const L3 = Math.log(3);
const full = { dims: [3, 3], data: Float64Array.from([0, 0, 0, L2, 0, 0, 0, L3, 0]) };
const comp = { dims: [3, 3], data: Float64Array.from([L2, 0, 0, L2, 0, 0, 0, 0, 0]) };
const targets = [0, 0, 1];

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

describe('teacher-forced NLL and perplexity', () => {
  it('NLL_t = −log p_t(y_t): [ln 3, ln 2, ln 5/3]; perplexity = exp(mean) = 10^(1/3)', () => {
    const nll = tokenNll(full, targets);
    close(nll[0] ?? NaN, L3); // −ln 1/3
    close(nll[1] ?? NaN, L2); // −ln 1/2
    close(nll[2] ?? NaN, Math.log(5 / 3)); // −ln 3/5
    // mean = (ln 3 + ln 2 + ln 5/3)/3 = ln(3·2·5/3)/3 = ln(10)/3
    close(perplexity(nll), Math.cbrt(10));
  });

  it('ΔNLL = compressed − full: [ln 2/3, 0, ln 9/5]', () => {
    const d = deltaNll(tokenNll(comp, targets), tokenNll(full, targets));
    // compressed NLL = [ln 2, ln 2, ln 3]
    close(d[0] ?? NaN, Math.log(2 / 3));
    close(d[1] ?? NaN, 0);
    close(d[2] ?? NaN, Math.log(9 / 5));
  });

  it('works on float32 tensors and is stable for huge logits', () => {
    const t = f32([1, 3], [1000, 1000, -1000]);
    close(tokenNll(t, [0])[0] ?? NaN, L2); // two equal logits dominate: p = 1/2
    close(tokenNll(t, [2])[0] ?? NaN, 2000 + L2, 1e-9);
  });
});

describe('KL(full ‖ compressed)', () => {
  it('matches the hand computation per position', () => {
    const kl = klDivergence(full, comp);
    // row 0: Σ 1/3·ln((1/3)/q) = 1/3·[ln(2/3) + 2 ln(4/3)] = 1/3·ln(32/27)
    close(kl[0] ?? NaN, Math.log(32 / 27) / 3);
    // row 1: P = Q → 0
    close(kl[1] ?? NaN, 0);
    // row 2: 0.2 ln(0.6) + 0.6 ln(1.8) + 0.2 ln(0.6) = 0.4 ln 0.6 + 0.6 ln 1.8
    close(kl[2] ?? NaN, 0.4 * Math.log(0.6) + 0.6 * Math.log(1.8));
  });

  it('is ≥ 0 and 0 against itself (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -30, max: 30, noNaN: true }), { minLength: 8, maxLength: 8 }),
        fc.array(fc.double({ min: -30, max: 30, noNaN: true }), { minLength: 8, maxLength: 8 }),
        (a, b) => {
          const p = { dims: [2, 4], data: Float64Array.from(a) };
          const q = { dims: [2, 4], data: Float64Array.from(b) };
          for (const v of klDivergence(p, q)) assert.ok(v >= 0);
          for (const v of klDivergence(p, p)) close(v, 0, 1e-12);
        },
      ),
    );
  });
});

describe('top-1 agreement and greedy prefix', () => {
  it('top-1: rows 0 and 1 agree (row 0 ties → id 0), row 2 does not (1 vs 0) → 2/3', () => {
    close(top1Agreement(full, comp), 2 / 3);
    assert.equal(top1Agreement(full, full), 1);
  });

  it('greedy prefix match: the common prefix of two generations', () => {
    assert.equal(greedyPrefixMatch([5, 6, 7, 8], [5, 6, 9]), 2);
    assert.equal(greedyPrefixMatch(Int32Array.from([1, 2]), [1, 2, 3]), 2);
    assert.equal(greedyPrefixMatch([], [1]), 0);
    assert.equal(greedyPrefixMatch([4], [3]), 0);
  });

  it('fidelitySummary gathers the means', () => {
    const s = fidelitySummary(full, comp, targets);
    close(s.nllFull, Math.log(10) / 3);
    close(s.nllCompressed, (L2 + L2 + L3) / 3);
    close(s.perplexityCompressed, Math.cbrt(12));
    close(s.deltaNll, s.nllCompressed - s.nllFull);
    close(s.kl, (Math.log(32 / 27) / 3 + 0.4 * Math.log(0.6) + 0.6 * Math.log(1.8)) / 3);
    close(s.top1Agreement, 2 / 3);
    assert.equal(s.tokens, 3);
  });
});

describe('shape errors', () => {
  it('reject mismatched targets, out-of-range ids and mismatched logits', () => {
    assert.throws(() => tokenNll(full, [0, 1]), ShapeError);
    assert.throws(() => tokenNll(full, [0, 1, 3]), /target 2 is 3, outside \[0, 3\)/);
    assert.throws(() => klDivergence(full, { dims: [3, 2], data: new Float64Array(6) }), ShapeError);
    assert.throws(() => top1Agreement(full, { dims: [9], data: new Float64Array(9) }), ShapeError);
    assert.throws(() => tokenNll({ dims: [2, 3], data: new Float32Array(5) }, [0, 0]), /need 6 elements/);
  });
});
