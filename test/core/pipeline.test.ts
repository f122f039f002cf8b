/**
 * The pipeline on prompts shorter than a method's observation window (issue
 * #15) and on budgets below what a method can keep (issue #17): windows are
 * clamped to the prompt in the request (windowsNeeded) and in the lookup
 * (windowOf) alike, and a too-small total is raised to minimumTotal with a
 * notice instead of failing. The conformance suite covers long prompts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompressionConfig, KvModelShape } from '@kvlab/core';
import {
  ALLOCATORS,
  fitBudget,
  getScorer,
  HEADWISE,
  minimumTotal,
  observationFromQkv,
  observedWindow,
  parseParams,
  planCompression,
  PRESETS,
  resolveBudget,
  SCORERS,
  windowOf,
  windowsNeeded,
  withTotalTokens,
  BudgetError,
  MissingInputError,
} from '@kvlab/core';
import { randomQkv } from './fixtures.ts';

const L = 3;
const Hq = 4;
const Hkv = 2;
const d = 8;

/** Observations of an n-token prompt carrying exactly the windows a config asks for at that length. */
function observationsFor(config: CompressionConfig, n: number, seed = 5) {
  const windowSizes = windowsNeeded(config, n);
  return Array.from({ length: L }, (_, l) => observationFromQkv({ layer: l, ...randomQkv(seed * 31 + l, n, Hq, Hkv, d), windowSizes, accumulated: true }));
}

const scorerCases = Object.values(SCORERS).flatMap((s) => [
  { label: s.id, id: s.id, params: {} as Record<string, unknown> },
  ...Object.entries(PRESETS[s.id] ?? {}).map(([name, params]) => ({ label: `${s.id} [${name}]`, id: s.id, params: { ...params } })),
]);
const configs: { label: string; config: CompressionConfig }[] = scorerCases.flatMap((c) =>
  Object.keys(ALLOCATORS).flatMap((a) =>
    [undefined, ...Object.keys(HEADWISE)].map((h) => ({
      label: `${c.label} × ${a}${h ? ` + ${h}` : ''}`,
      config: { scorer: { id: c.id, params: c.params }, allocator: { id: a }, ...(h ? { headwise: { id: h } } : {}) },
    })),
  ),
);

describe('observation windows on short prompts', () => {
  it('observedWindow is min(α, n), never below 1', () => {
    assert.equal(observedWindow(8, 20), 8);
    assert.equal(observedWindow(8, 8), 8);
    assert.equal(observedWindow(8, 3), 3);
    assert.equal(observedWindow(64, 1), 1);
  });

  it('windowsNeeded clamps every window to the prompt when given its length, and only then', () => {
    const zz: CompressionConfig = { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' } };
    assert.deepEqual(windowsNeeded(zz), [8]);
    assert.deepEqual(windowsNeeded(zz, 100), [8]);
    assert.deepEqual(windowsNeeded(zz, 3), [3]);
    assert.deepEqual(windowsNeeded(zz, 1), [1]);
    const two: CompressionConfig = { scorer: { id: 'snapkv', params: { windowSize: 16 } }, allocator: { id: 'zigzagkv', params: { windowSize: 32 } } };
    assert.deepEqual(windowsNeeded(two, 20), [16, 20]);
    assert.deepEqual(windowsNeeded(two, 10), [10], 'two windows that both cover the prompt are one');
  });

  it('windowOf finds the clamped window, and names both sizes when it is missing', () => {
    const [obs] = observationsFor({ scorer: { id: 'snapkv' }, allocator: { id: 'uniform' } }, 3);
    assert.ok(obs);
    assert.equal(windowOf(obs, 8, 'snapkv').size, 3);
    assert.equal(windowOf(obs, 3, 'snapkv').size, 3);
    const bare = { ...obs, windows: [] };
    assert.throws(
      () => windowOf(bare, 8, 'snapkv'),
      (e: unknown) =>
        e instanceof MissingInputError && /last 3 prompt tokens \(its 8-token observation window, clamped to the 3-token prompt\)/.test(e.message),
    );
  });
});

describe('minimumTotal and fitBudget', () => {
  const shape: KvModelShape = { numLayers: 5, numKvHeads: 4, headDim: 8, dtype: 'float32' };
  const zz: CompressionConfig = { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' } };

  it('is the protected tokens + 1 per layer, or the allocator’s own minimum, capped at the whole prompt', () => {
    assert.equal(minimumTotal(zz, 5, 17).tokens, 45, 'README example: 5 layers × (8-token window + 1)');
    assert.equal(minimumTotal({ scorer: { id: 'snapkv' }, allocator: { id: 'uniform' } }, 5, 17).tokens, 45);
    // StreamingLLM protects 4 sinks (5 per layer), but PyramidKV needs B_avg > its α = 8.
    assert.equal(minimumTotal({ scorer: { id: 'streamingllm' }, allocator: { id: 'uniform' } }, 5, 17).tokens, 25);
    assert.equal(minimumTotal({ scorer: { id: 'streamingllm' }, allocator: { id: 'pyramidkv' } }, 5, 17).tokens, 41);
    assert.equal(minimumTotal({ scorer: { id: 'streamingllm' }, allocator: { id: 'pyramidkv', params: { schedule: 'kvcacheFactory' } } }, 5, 17).tokens, 45);
    assert.equal(minimumTotal({ scorer: { id: 'streamingllm' }, allocator: { id: 'cake' } }, 5, 17).tokens, 41);
    assert.equal(minimumTotal({ scorer: { id: 'knorm' }, allocator: { id: 'uniform' } }, 5, 17).tokens, 5, 'nothing protected: 1 per layer');
    for (const n of [1, 2, 8, 9]) assert.equal(minimumTotal(zz, 5, n).tokens, 5 * n, `n = ${n} ≤ α + 1: only the full cache works`);
    assert.match(minimumTotal(zz, 5, 3).why, /whole prompt, 15 tokens/);
  });

  it('raises a budget below the minimum to it, says so in one line, and reports the raised numbers', () => {
    const asked = resolveBudget({ kind: 'keepRatio', value: 0.2 }, shape, 17);
    assert.equal(asked.totalTokens, 17);
    const fit = fitBudget(asked, zz);
    assert.equal(fit.totalTokens, 45);
    assert.equal(fit.compress, true);
    assert.equal(fit.keepRatio, 45 / 85);
    assert.equal(fit.bytes, resolveBudget({ kind: 'totalTokens', value: 45 }, shape, 17).bytes);
    assert.equal(fit.fullBytes, asked.fullBytes);
    assert.deepEqual(fit.spec, asked.spec, 'the stated spec is kept, so results still group under it');
    assert.equal(fit.adjusted?.requestedTokens, 17);
    assert.match(
      fit.adjusted?.notice ?? '',
      /^budget 20% = 17 tokens over 5 layers is below what snapkv\/zigzagkv can keep of this 17-token prompt.*raised to 45$/,
    );
    assert.doesNotMatch(fit.adjusted?.notice ?? '', /\n/);
  });

  it('raises to the full cache when the prompt is no longer than what the method protects', () => {
    const fit = fitBudget(resolveBudget({ kind: 'keepRatio', value: 0.2 }, shape, 4), zz);
    assert.equal(fit.totalTokens, 20);
    assert.equal(fit.compress, false);
    assert.match(fit.adjusted?.notice ?? '', /kept the full cache \(20 tokens\)$/);
  });

  it('leaves a budget that works, or one that covers the prompt, untouched', () => {
    const ok = resolveBudget({ kind: 'tokensPerLayer', value: 9 }, shape, 17);
    assert.equal(fitBudget(ok, zz), ok);
    const all = resolveBudget({ kind: 'keepRatio', value: 1 }, shape, 3);
    assert.equal(fitBudget(all, zz), all);
  });

  it('withTotalTokens refuses a total outside [1, L·n]', () => {
    const b = resolveBudget({ kind: 'keepRatio', value: 0.5 }, shape, 10);
    assert.throws(() => withTotalTokens(b, 0, { requestedTokens: 1, notice: '' }), BudgetError);
    assert.throws(() => withTotalTokens(b, 51, { requestedTokens: 1, notice: '' }), BudgetError);
    assert.equal(withTotalTokens(b, 50, { requestedTokens: 25, notice: 'x' }).compress, false);
  });
});

describe('planCompression on every prompt length up to past the windows, every method, every budget', () => {
  const lengths = Array.from({ length: 11 }, (_, i) => i + 1);
  for (const { label, config } of configs) {
    it(label, () => {
      const s = getScorer(config.scorer.id);
      const protect = s.protect(parseParams(s, config.scorer.params));
      for (const n of lengths) {
        const obs = observationsFor(config, n, n);
        const floor = minimumTotal(config, L, n).tokens;
        for (const total of new Set([1, L, Math.ceil((L * n) / 5), floor - 1, floor, L * n - 1, L * n, L * n + 7])) {
          if (total < 1) continue;
          const where = `n = ${n}, total ${total}`;
          const plan = planCompression(obs, config, total);
          const raised = total < floor && total < L * n;
          assert.equal(plan.notices.length, raised ? 1 : 0, `${where}: one notice iff raised`);
          if (total >= L * n || floor >= L * n) {
            // A budget covering the prompt, or a prompt the method protects whole: the full cache.
            assert.equal(plan.compress, false, where);
            for (const layer of plan.kept) for (const kept of layer) assert.deepEqual([...kept], [...Array(n).keys()], where);
            continue;
          }
          assert.equal(plan.totalTokens, Math.max(total, floor), where);
          const sum = plan.layerBudgets.reduce((a, b) => a + b, 0);
          if (!config.allocator.params) assert.equal(sum, plan.totalTokens, `${where}: the (raised) total is conserved`);
          for (const layer of plan.kept) {
            for (const kept of layer) {
              // The protected window, clamped to the prompt, is always kept.
              const w = Math.min(protect.window, n);
              for (let j = n - w; j < n; j++) assert.ok(kept.includes(j), `${where}: window token ${j} kept`);
            }
          }
        }
      }
    });
  }
});
