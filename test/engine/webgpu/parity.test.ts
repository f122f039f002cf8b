/**
 * The engine on the WebGPU provider (SwiftShader) against the same engine on
 * the CPU provider, on the random-weight models of test/engine/engine.test.ts:
 * logits of chunked prefill and decode for GQA 1/2/4 and head dims 8/16/64,
 * the attention statistics the methods read, decoding from ragged per-layer
 * Ada-KV caches, and decode-time eviction.
 *
 * Tolerances. Both providers compute in float32 but sum in different orders
 * (tiled GPU matmuls and workgroup reductions vs the CPU's kernels), and
 * WGSL's exp/log are not correctly rounded (WGSL allows 3 + 2·|x| ULP for
 * exp). On these models, whose logits are O(1), that is ~1e-6–1e-5 per
 * logit; the bound is the one the CPU engine meets against the float64
 * reference (1e-4, engine.test.ts), so WebGPU is held to the CPU's bar.
 * Attention sums are probabilities (≤ 1 per query): 1e-5, as for the CPU.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { CompressionConfig } from '@kvlab/core';
import { parseMethodSpec, planCompression } from '@kvlab/core';
import type { Engine } from '../../../electron/engine/engine.ts';
import { generate } from '../../../electron/engine/generate.ts';
import { KvCache } from '../../../electron/engine/kv-cache.ts';
import type { RandomModelOptions } from '../reference/random-model.ts';
import { randomModel } from '../reference/random-model.ts';
import { createEngine, inMemoryModel, maxAbsDiff } from '../engine-helpers.ts';
import { useSwiftShader, webgpuEngine } from './swiftshader.ts';

const LOGIT_TOL = 1e-4;
const PROB_TOL = 1e-5;
const base: Omit<RandomModelOptions, 'heads' | 'kvHeads' | 'headDim' | 'seed'> = {
  vocab: 97,
  hidden: 48,
  inter: 80,
  layers: 2,
  qkvBias: false,
  tied: true,
  ropeLayout: 'halves',
  ropeTheta: 10000,
};
const prompt = [5, 17, 3, 88, 42, 42, 9, 60, 13, 71, 2, 33, 64];

async function both<T>(model: ReturnType<typeof inMemoryModel>, chunk: number, f: (e: Engine) => Promise<T>): Promise<[T, T]> {
  const cpu = await createEngine(model, chunk);
  const gpu = await webgpuEngine(model, chunk);
  try {
    return [await f(cpu), await f(gpu)];
  } finally {
    await cpu.dispose();
    await gpu.dispose();
  }
}

describe('WebGPU vs CPU provider (SwiftShader)', () => {
  before(useSwiftShader);

  const shapes: (Partial<RandomModelOptions> & { label: string })[] = [
    { label: 'GQA 1, d=8', heads: 4, kvHeads: 4, headDim: 8 },
    { label: 'GQA 2, d=16, qkv bias, untied', heads: 4, kvHeads: 2, headDim: 16, qkvBias: true, tied: false },
    { label: 'GQA 4, d=64, interleaved RoPE', heads: 8, kvHeads: 2, headDim: 64, hidden: 64, ropeLayout: 'interleaved' },
  ];
  shapes.forEach((s, i) => {
    it(`${s.label}: prefill in chunks of 5 (every position's logits), then 3 decode steps, within ${LOGIT_TOL}`, async () => {
      const m = inMemoryModel(randomModel({ ...base, heads: 4, kvHeads: 4, headDim: 8, ...s, seed: 200 + i }));
      const V = m.config.vocabSize;
      const [cpu, gpu] = await both(m, 5, async (e) => {
        const pre = await e.prefill(prompt, { allLogits: true });
        const cache = KvCache.full(e.shape, pre.keys, pre.values, prompt.length);
        const steps: Float32Array[] = [];
        for (const tok of [7, 50, 96]) steps.push((await e.step(cache, [tok])).logits);
        return { logits: pre.logits, keys: pre.keys, steps };
      });
      prompt.forEach((_, t) => {
        const d = maxAbsDiff(gpu.logits.subarray(t * V, (t + 1) * V), cpu.logits.subarray(t * V, (t + 1) * V));
        assert.ok(d < LOGIT_TOL, `position ${t}: max |Δlogit| ${d}`);
      });
      cpu.keys.forEach((k, l) => assert.ok(maxAbsDiff(gpu.keys[l] ?? [], k) < LOGIT_TOL, `layer ${l} keys`));
      cpu.steps.forEach((want, k) => assert.ok(maxAbsDiff(gpu.steps[k] ?? [], want) < LOGIT_TOL, `decode step ${k}: ${maxAbsDiff(gpu.steps[k] ?? [], want)}`));
    });
  });

  it('returns the same attention statistics (window sums, squares, entropy, last row, accumulated)', async () => {
    const m = inMemoryModel(randomModel({ ...base, heads: 4, kvHeads: 2, headDim: 8, seed: 3 }));
    const [cpu, gpu] = await both(m, 4, (e) => e.prefill(prompt, { windows: [3, 8], accumulate: true, queries: 2 }));
    cpu.observations.forEach((want, l) => {
      const got = gpu.observations[l];
      assert.ok(got);
      for (const w of want.windows) {
        const g = got.windows.find((x) => x.size === w.size);
        assert.ok(g, `window ${w.size}`);
        assert.ok(maxAbsDiff(g.sum.data, w.sum.data) < PROB_TOL, `layer ${l} α=${w.size} sum`);
        assert.ok(maxAbsDiff(g.sqSum?.data ?? [], w.sqSum?.data ?? []) < PROB_TOL, `layer ${l} α=${w.size} sqSum`);
        assert.ok(maxAbsDiff(g.entropy ?? [], w.entropy ?? []) < LOGIT_TOL, `layer ${l} α=${w.size} entropy`);
      }
      assert.ok(maxAbsDiff(got.lastQuery?.data ?? [], want.lastQuery?.data ?? [0]) < PROB_TOL, `layer ${l} last row`);
      assert.ok(maxAbsDiff(got.accumulated?.data ?? [], want.accumulated?.data ?? [0]) < PROB_TOL, `layer ${l} accumulated`);
      assert.ok(maxAbsDiff(gpu.queries?.[l] ?? [], cpu.queries?.[l] ?? [0]) < LOGIT_TOL, `layer ${l} window queries`);
    });
  });

  it('decodes from a ragged cache (ZigZagKV layer budgets × Ada-KV head budgets) like the CPU', async () => {
    const m = inMemoryModel(randomModel({ ...base, heads: 8, kvHeads: 4, headDim: 8, layers: 3, seed: 7 }));
    const long = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 97);
    const method = { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' }, headwise: { id: 'adakv' } } as const;
    // One plan (the CPU's) for both, so both caches hold the same positions.
    let kept: ReturnType<typeof planCompression>['kept'] | undefined;
    const [cpu, gpu] = await both(m, 16, async (e) => {
      const pre = await e.prefill(long, { windows: [8] });
      kept ??= planCompression(pre.observations, method, 3 * 16).kept;
      const cache = KvCache.fromKept(e.shape, pre.keys, pre.values, long.length, kept);
      const out: Float32Array[] = [];
      for (const tok of [3, 14, 92]) out.push((await e.step(cache, [tok])).logits);
      return out;
    });
    const lens = (kept ?? []).map((layer) => layer.map((k) => k.length));
    assert.ok(new Set(lens.flat()).size > 1, `budgets should differ across layers/heads: ${JSON.stringify(lens)}`);
    cpu.forEach((want, k) => assert.ok(maxAbsDiff(gpu[k] ?? [], want) < LOGIT_TOL, `step ${k}: ${maxAbsDiff(gpu[k] ?? [], want)}`));
  });

  it('evicts while decoding (H2O, driven by the decode-time attention) exactly as the CPU does', async () => {
    const m = inMemoryModel(randomModel({ ...base, vocab: 89, hidden: 32, inter: 48, heads: 4, kvHeads: 2, headDim: 8, seed: 5 }));
    const long = Array.from({ length: 30 }, (_, i) => (i * 13 + 5) % 89);
    for (const spec of ['h2o/zigzagkv']) {
      const method = parseMethodSpec(spec) as CompressionConfig;
      const [cpu, gpu] = await both(m, 8, (e) =>
        generate(e, long, { method, budget: { kind: 'tokensPerLayer', value: 12 }, maxTokens: 5, stopAtEos: false, evictDuringDecode: true }),
      );
      assert.ok((cpu.decodeEvictions ?? 0) > 0, `${spec}: the CPU run evicted while decoding`);
      assert.deepEqual(gpu.tokens, cpu.tokens, `${spec}: tokens`);
      assert.equal(gpu.decodeEvictions, cpu.decodeEvictions, `${spec}: evictions`);
      assert.deepEqual(gpu.heldAtEnd.perHead, cpu.heldAtEnd.perHead, `${spec}: tokens held per head`);
    }
  });
});
