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
 * logit (measured on SwiftShader: max |Δlogit| 2.2e-6–3.8e-6 for logits up
 * to 3.7; window sums 0.6e-6–1.3e-6). The bound is the one the CPU engine
 * meets against the float64 reference (1e-4, engine.test.ts), so WebGPU is
 * held to the CPU's bar with ~25× headroom. Attention sums are probabilities
 * (≤ 1 per query): 1e-5, as for the CPU.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
/**
 * The statistics, ragged-cache and eviction tests share one shape (GQA 2, d=16): SwiftShader compiles a
 * pipeline for every new tensor shape, which dominates this group's time, and the pipelines are cached
 * per process across sessions of the same shape.
 */
const GQA2: Pick<RandomModelOptions, 'heads' | 'kvHeads' | 'headDim'> = { heads: 4, kvHeads: 2, headDim: 16 };

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

/** One CPU + WebGPU engine pair on the shared GQA 2 model, reused by the tests after the first (one session: its compiled pipelines are reused). */
let shared: Promise<[Engine, Engine]> | undefined;
const sharedModel = () => inMemoryModel(randomModel({ ...base, ...GQA2, qkvBias: true, tied: false, seed: 201 }));
function sharedPair(): Promise<[Engine, Engine]> {
  shared ??= (async () => [await createEngine(sharedModel(), 5), await webgpuEngine(sharedModel(), 5)] as [Engine, Engine])();
  return shared;
}
async function onShared<T>(f: (e: Engine) => Promise<T>): Promise<[T, T]> {
  const [cpu, gpu] = await sharedPair();
  return [await f(cpu), await f(gpu)];
}

describe('WebGPU vs CPU provider (SwiftShader)', () => {
  before(useSwiftShader);
  after(async () => {
    for (const e of shared ? await shared : []) await e.dispose();
  });

  const shapes: (Partial<RandomModelOptions> & { label: string })[] = [
    { label: 'GQA 1, d=8', heads: 4, kvHeads: 4, headDim: 8 },
    { label: 'GQA 2, d=16, qkv bias, untied (the shared model)', ...GQA2, qkvBias: true, tied: false },
    { label: 'GQA 4, d=64, interleaved RoPE', heads: 8, kvHeads: 2, headDim: 64, hidden: 64, ropeLayout: 'interleaved' },
  ];
  shapes.forEach((s, i) => {
    it(`${s.label}: prefill in chunks of 5 (every position's logits), then 3 decode steps, within ${LOGIT_TOL}`, async () => {
      const m = i === 1 ? sharedModel() : inMemoryModel(randomModel({ ...base, heads: 4, kvHeads: 4, headDim: 8, ...s, seed: 200 + i }));
      const V = m.config.vocabSize;
      const run = async (e: Engine) => {
        const pre = await e.prefill(prompt, { allLogits: true });
        const cache = KvCache.full(e.shape, pre.keys, pre.values, prompt.length);
        const steps: Float32Array[] = [];
        for (const tok of [7, 50, 96]) steps.push((await e.step(cache, [tok])).logits);
        return { logits: pre.logits, keys: pre.keys, steps };
      };
      const [cpu, gpu] = i === 1 ? await onShared(run) : await both(m, 5, run);
      prompt.forEach((_, t) => {
        const d = maxAbsDiff(gpu.logits.subarray(t * V, (t + 1) * V), cpu.logits.subarray(t * V, (t + 1) * V));
        assert.ok(d < LOGIT_TOL, `position ${t}: max |Δlogit| ${d}`);
      });
      cpu.keys.forEach((k, l) => assert.ok(maxAbsDiff(gpu.keys[l] ?? [], k) < LOGIT_TOL, `layer ${l} keys`));
      cpu.steps.forEach((want, k) => assert.ok(maxAbsDiff(gpu.steps[k] ?? [], want) < LOGIT_TOL, `decode step ${k}: ${maxAbsDiff(gpu.steps[k] ?? [], want)}`));
    });
  });

  it('returns the same attention statistics (window sums, squares, entropy, last row, accumulated)', async () => {
    const [cpu, gpu] = await onShared((e) => e.prefill(prompt, { windows: [3, 8], accumulate: true, queries: 2 }));
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
    const long = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 97);
    const method = { scorer: { id: 'snapkv' }, allocator: { id: 'zigzagkv' }, headwise: { id: 'adakv' } } as const;
    // One plan (the CPU's) for both, so both caches hold the same positions.
    let kept: ReturnType<typeof planCompression>['kept'] | undefined;
    const [cpu, gpu] = await onShared(async (e) => {
      const pre = await e.prefill(long, { windows: [8] });
      kept ??= planCompression(pre.observations, method, 2 * 16).kept;
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
    const long = Array.from({ length: 30 }, (_, i) => (i * 13 + 5) % 97);
    for (const spec of ['h2o/zigzagkv']) {
      const method = parseMethodSpec(spec) as CompressionConfig;
      const [cpu, gpu] = await onShared((e) =>
        generate(e, long, { method, budget: { kind: 'tokensPerLayer', value: 12 }, maxTokens: 5, stopAtEos: false, evictDuringDecode: true }),
      );
      assert.ok((cpu.decodeEvictions ?? 0) > 0, `${spec}: the CPU run evicted while decoding`);
      assert.deepEqual(gpu.tokens, cpu.tokens, `${spec}: tokens`);
      assert.equal(gpu.decodeEvictions, cpu.decodeEvictions, `${spec}: evictions`);
      assert.deepEqual(gpu.heldAtEnd.perHead, cpu.heldAtEnd.perHead, `${spec}: tokens held per head`);
    }
  });
});
