import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MissingInputError } from '../../../core/src/errors.ts';
import type { LayerObservation, WindowAttention } from '../../../core/src/observation.ts';
import { f32 } from '../../../core/src/tensor.ts';
import type { Tensor } from '../../../core/src/tensor.ts';
import { sliceWindow, windowAttentionProbs, windowStatsFromProbs } from '../../../core/src/analysis/attention.ts';
import { cakeLayerStats } from '../../../core/src/analysis/layer-stats.ts';
import { randomQkv } from '../fixtures.ts';

function observation(window: WindowAttention, Hq: number, Hkv: number, n: number): LayerObservation {
  return { layer: 0, seqLen: n, numQueryHeads: Hq, numKvHeads: Hkv, headDim: 1, windows: [window] };
}

/**
 * Independent reference: CAKE's modify_llama.py on the raw window probabilities A [Hq, α, n]:
 *   disp = −Σ p·log(p + 1e−10) over heads, queries and PREFIX keys (upstream),
 *   var  = Σ over heads and prefix keys of torch.var(A, dim=queries) (unbiased).
 * `fullEntropy` is the same sum over ALL keys with log p: what the observation can give.
 */
function upstreamCake(probs: Tensor<'float32'>) {
  const [Hq = 0, alpha = 0, n = 0] = probs.dims;
  const prefix = n - alpha;
  let disp = 0;
  let fullEntropy = 0;
  let variance = 0;
  for (let h = 0; h < Hq; h++) {
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < n; j++) {
        const p = probs.data[(h * alpha + i) * n + j] ?? 0;
        if (j < prefix) disp -= p * Math.log(p + 1e-10);
        if (p > 0) fullEntropy -= p * Math.log(p);
      }
    }
    for (let j = 0; j < prefix; j++) {
      let mean = 0;
      for (let i = 0; i < alpha; i++) mean += (probs.data[(h * alpha + i) * n + j] ?? 0) / alpha;
      let ss = 0;
      for (let i = 0; i < alpha; i++) ss += ((probs.data[(h * alpha + i) * n + j] ?? 0) - mean) ** 2;
      variance += ss / (alpha - 1);
    }
  }
  return { disp, fullEntropy, variance };
}

describe('cakeLayerStats', () => {
  it('worked example: Hq=1, α=2, n=4', () => {
    // Window query 0 (position 2) attends [1/2, 1/4, 1/4, 0]; query 1 (position 3) attends [1/4]·4.
    // sum = [3/4, 1/2, 1/2, 1/4], sqSum = [5/16, 1/8, 1/8, 1/16]; prefix keys j < n − α = 2.
    // variance: key 0: (5/16 − (3/4)²/2) / (2 − 1) = 5/16 − 9/32 = 1/32; key 1: 1/8 − (1/2)²/2 = 0 → V = 1/32.
    //   (directly: key 0 sees 1/2 and 1/4, mean 3/8, unbiased var = 2·(1/8)² / 1 = 1/32 ✓)
    // entropy: row 0 = −(½ln½ + 2·¼ln¼) = 1.5 ln 2; row 1 = ln 4 = 2 ln 2; observation entropy[0] = mean = 1.75 ln 2;
    //   H = α · 1.75 ln 2 = 3.5 ln 2 (the sum over both window queries).
    const probs = f32([1, 2, 4], [0.5, 0.25, 0.25, 0, 0.25, 0.25, 0.25, 0.25]);
    const { window } = windowStatsFromProbs(probs);
    const s = cakeLayerStats(observation(window, 1, 1, 4), 2);
    assert.equal(s.variance, 1 / 32);
    assert.ok(Math.abs(s.entropy - 3.5 * Math.LN2) < 1e-6, `${s.entropy}`);
    // Upstream's entropy leaves out the window keys 2 and 3: −(½ln½ + ¼ln¼) − (2·¼ln¼) = 0.5ln2 + 0.5ln2 + ln2 = 2 ln 2.
    const up = upstreamCake(probs);
    assert.ok(Math.abs(up.disp - 2 * Math.LN2) < 1e-6);
    assert.ok(Math.abs(up.variance - 1 / 32) < 1e-12);
  });

  it('matches the upstream variance exactly and the full-row entropy on real attention (GQA, several windows)', () => {
    for (const [seed, n, Hq, Hkv, alpha] of [
      [1, 40, 4, 2, 8],
      [2, 64, 8, 2, 16],
      [3, 17, 2, 1, 3],
    ] as const) {
      const qkv = randomQkv(seed, n, Hq, Hkv, 8, 2);
      const probs = windowAttentionProbs(f32([Hq, alpha, 8], sliceWindow(qkv.queries.data, Hq, n, 8, alpha)), qkv.keys);
      const { window } = windowStatsFromProbs(probs);
      const s = cakeLayerStats(observation(window, Hq, Hkv, n), alpha);
      const up = upstreamCake(probs);
      assert.ok(Math.abs(s.variance - up.variance) <= 1e-4 * up.variance + 1e-9, `variance ${s.variance} vs ${up.variance}`);
      assert.ok(Math.abs(s.entropy - up.fullEntropy) <= 1e-5 * up.fullEntropy, `entropy ${s.entropy} vs ${up.fullEntropy}`);
      // The documented deviation: the window keys only add (non-negative) entropy.
      assert.ok(s.entropy >= up.disp - 1e-4);
    }
  });

  it('α = 1 has no variance over time (torch would give NaN)', () => {
    const { window } = windowStatsFromProbs(f32([1, 1, 3], [0.5, 0.25, 0.25]));
    const s = cakeLayerStats(observation(window, 1, 1, 3), 1);
    assert.equal(s.variance, 0);
    assert.ok(s.entropy > 0);
  });

  it('throws MissingInputError when the window, sqSum or entropy is absent', () => {
    const { window } = windowStatsFromProbs(f32([1, 2, 4], [0.5, 0.25, 0.25, 0, 0.25, 0.25, 0.25, 0.25]));
    const obs = observation(window, 1, 1, 4);
    assert.throws(
      () => cakeLayerStats(obs, 3),
      (e: unknown) => e instanceof MissingInputError && /'cake'/.test(e.message) && /α = 3/.test(e.message),
    );
    assert.throws(
      () => cakeLayerStats(observation({ size: 2, sum: window.sum }, 1, 1, 4), 2),
      (e: unknown) => e instanceof MissingInputError && /sqSum/.test(e.message),
    );
    assert.throws(
      () => cakeLayerStats(observation({ size: 2, sum: window.sum, ...(window.sqSum ? { sqSum: window.sqSum } : {}) }, 1, 1, 4), 2),
      (e: unknown) => e instanceof MissingInputError && /entropy/.test(e.message),
    );
  });
});
