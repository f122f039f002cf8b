/**
 * The conformance suite, parametrised over the registry: every scorer (with
 * its defaults and presets) × every allocator × {no head-wise split, every
 * head-wise method} × {easy, hard} budgets, on seeded random layers with real
 * attention. A method added to core/src/registry.ts is covered here with no
 * new test code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompressionConfig, LayerObservation } from '@kvlab/core';
import { ALLOCATORS, defaultParams, getAllocator, getScorer, HEADWISE, parseParams, planCompression, PRESETS, SCORERS, windowsNeeded } from '@kvlab/core';
import { randomModelObservations } from './fixtures.ts';

const L = 4;
const spec = { n: 96, Hq: 4, Hkv: 2, d: 16, windowSizes: [1, 8, 16, 32, 64], accumulated: true };
const observations: LayerObservation[] = randomModelObservations(11, L, spec);
const n = spec.n;

const scorerCases = Object.values(SCORERS).flatMap((s) => [
  { label: `${s.id}`, id: s.id, params: {} as Record<string, unknown> },
  ...Object.entries(PRESETS[s.id] ?? {}).map(([name, params]) => ({ label: `${s.id} [${name}]`, id: s.id, params: { ...params } })),
]);
const headwiseCases: (string | undefined)[] = [undefined, ...Object.keys(HEADWISE)];

function budgetsFor(scorerId: string, params: unknown): { easy: number; hard: number } {
  const s = getScorer(scorerId);
  const p = s.protect(parseParams(s, params));
  const min = p.sinks + p.window + 1;
  return { easy: L * Math.max(Math.round(0.5 * n), Math.ceil((min + n) / 2)), hard: L * Math.max(min + 3, Math.ceil(0.1 * n)) };
}

describe('conformance: scorers', () => {
  for (const c of scorerCases) {
    it(`${c.label}: scores are [Hkv, n], never NaN, finite outside the protected tokens, deterministic`, () => {
      const s = getScorer(c.id);
      const p = parseParams(s, c.params);
      const prot = s.protect(p);
      for (const obs of observations) {
        const a = s.score(obs, p);
        const b = s.score(obs, p);
        assert.deepEqual(a.dims, [spec.Hkv, n]);
        assert.deepEqual(a.data, b.data, 'same inputs and seed → same scores');
        for (let h = 0; h < spec.Hkv; h++) {
          for (let j = 0; j < n; j++) {
            const v = a.data[h * n + j] ?? NaN;
            assert.ok(!Number.isNaN(v), `NaN at head ${h} token ${j}`);
            const isProtected = j < prot.sinks || j >= n - prot.window;
            if (!isProtected) assert.ok(Number.isFinite(v), `non-finite ${v} at unprotected token ${j}`);
          }
        }
      }
    });
  }
});

describe('conformance: scorer × allocator × head-wise × budget', () => {
  for (const c of scorerCases) {
    for (const allocatorId of Object.keys(ALLOCATORS)) {
      for (const headwiseId of headwiseCases) {
        const { easy, hard } = budgetsFor(c.id, c.params);
        for (const [level, total] of [
          ['easy', easy],
          ['hard', hard],
        ] as const) {
          const name = `${c.label} × ${allocatorId}${headwiseId ? ` + ${headwiseId}` : ''} @ ${level} (${total / L} tok/layer of ${n})`;
          it(name, () => {
            const config: CompressionConfig = {
              scorer: { id: c.id, params: c.params },
              allocator: { id: allocatorId },
              ...(headwiseId ? { headwise: { id: headwiseId } } : {}),
            };
            const plan = planCompression(observations, config, total);
            checkPlan(plan, total);
            const again = planCompression(observations, config, total);
            assert.deepEqual(again.kept, plan.kept, 'deterministic');
            const scorer = getScorer(c.id);
            const sp = parseParams(scorer, c.params);
            plan.kept.forEach((layer, l) => {
              const obs = observations[l];
              assert.ok(obs);
              const scores = scorer.score(obs, sp);
              layer.forEach((kept, h) => checkTopScores(scores.data.subarray(h * n, (h + 1) * n), kept, plan.protect, `layer ${l} head ${h}`));
            });
          });
        }
        it(`${c.label} × ${allocatorId}${headwiseId ? ` + ${headwiseId}` : ''}: a budget ≥ the prompt keeps everything`, () => {
          const plan = planCompression(
            observations,
            { scorer: { id: c.id, params: c.params }, allocator: { id: allocatorId }, ...(headwiseId ? { headwise: { id: headwiseId } } : {}) },
            L * n,
          );
          assert.equal(plan.compress, false);
          for (const layer of plan.kept) for (const kept of layer) assert.deepEqual([...kept], [...Array(n).keys()]);
        });
      }
    }
  }
});

function checkPlan(plan: ReturnType<typeof planCompression>, total: number): void {
  assert.equal(plan.compress, true);
  const sum = plan.layerBudgets.reduce((a, b) => a + b, 0);
  assert.equal(sum, total, 'layer budgets conserve the total');
  plan.layerBudgets.forEach((b, l) => {
    assert.ok(b >= plan.stats.minPerLayer && b <= n, `layer ${l} budget ${b} outside [${plan.stats.minPerLayer}, ${n}]`);
    const heads = plan.headBudgets[l];
    assert.ok(heads);
    assert.equal(
      heads.reduce((a, x) => a + x, 0),
      b * plan.numKvHeads,
      `layer ${l}: head budgets sum to Hkv·B_l`,
    );
    plan.kept[l]?.forEach((kept, h) => {
      assert.equal(kept.length, heads[h], `layer ${l} head ${h} keeps its budget`);
      for (let i = 1; i < kept.length; i++) assert.ok((kept[i] ?? 0) > (kept[i - 1] ?? 0), 'ascending, unique');
    });
  });
}

/** Every protected token is kept, and no dropped token scores above a kept unprotected one. */
function checkTopScores(scores: Float32Array, kept: Int32Array, prot: { sinks: number; window: number }, where: string): void {
  const keep = new Set(kept);
  for (let j = 0; j < n; j++) if (j < prot.sinks || j >= n - prot.window) assert.ok(keep.has(j), `${where}: protected token ${j} dropped`);
  let minKept = Infinity;
  let maxDropped = -Infinity;
  for (let j = prot.sinks; j < n - prot.window; j++) {
    const v = scores[j] ?? 0;
    if (keep.has(j)) minKept = Math.min(minKept, v);
    else maxDropped = Math.max(maxDropped, v);
  }
  assert.ok(maxDropped <= minKept, `${where}: dropped score ${maxDropped} > kept score ${minKept}`);
}

describe('registry', () => {
  it('every method has an id matching its key, a label, a summary, a paper URL and parseable defaults', () => {
    for (const group of [SCORERS, ALLOCATORS, HEADWISE]) {
      for (const [key, m] of Object.entries(group)) {
        assert.equal(m.id, key);
        assert.ok(m.label.length > 0 && m.summary.length > 20);
        assert.match(m.paperUrl, /^https:\/\//);
        assert.doesNotThrow(() => defaultParams(m));
      }
    }
  });
});

describe('pipeline window inheritance', () => {
  it("an allocator's windowSize defaults to the scorer's window, so SnapKV α=64 + PyramidKV uses one window", () => {
    const cfg = { scorer: { id: 'snapkv', params: { windowSize: 64 } }, allocator: { id: 'pyramidkv' } };
    const plan = planCompression(observations, cfg, L * 80);
    assert.deepEqual(plan.config.allocator.params, { ...(parseParams(getAllocator('pyramidkv'), {}) as object), windowSize: 64 });
    assert.deepEqual(windowsNeeded({ scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' } }), [8]);
    assert.deepEqual(
      windowsNeeded({ scorer: { id: 'snapkv', params: { windowSize: 16 } }, allocator: { id: 'zigzagkv', params: { windowSize: 32 } } }),
      [16, 32],
    );
    assert.deepEqual(windowsNeeded({ scorer: { id: 'streamingllm' }, allocator: { id: 'uniform' } }), []);
  });
});
