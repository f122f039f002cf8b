/**
 * The decoder graph's execution order in onnxruntime, read from its own profile: each layer's
 * attention statistics run right after that layer's softmax, so its probabilities [Hq, S, P] are
 * freed before the next layer's exist. When the statistics ran after the last layer, every layer's
 * probabilities stayed alive until then, and the CPU arena kept that peak for good (~500 MiB after
 * an 8K prefill of a 0.85B model).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../../electron/engine/engine.ts';
import { KvCache } from '../../../electron/engine/kv-cache.ts';
import { inMemoryModel, testCacheDir } from '../engine-helpers.ts';
import { randomModel } from '../reference/random-model.ts';

interface ProfileEvent {
  readonly cat?: string;
  readonly name: string;
  readonly ts: number;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

describe('decoder graph: execution order', () => {
  it('runs layer l’s attention statistics before layer l+1’s attention, in prefill chunks and decode steps', async () => {
    const L = 4;
    const m = randomModel({
      vocab: 97,
      hidden: 48,
      inter: 80,
      layers: L,
      heads: 8,
      kvHeads: 2,
      headDim: 16,
      qkvBias: false,
      tied: true,
      ropeLayout: 'halves',
      ropeTheta: 10000,
      seed: 5,
    });
    const dir = mkdtempSync(join(tmpdir(), 'kvlab-order-'));
    const engine = await Engine.create(inMemoryModel(m), { cacheDir: testCacheDir(), threads: 1, prefillChunk: 8, ortProfilePrefix: join(dir, 'ort') });
    const prompt = Array.from({ length: 20 }, (_, i) => (i * 13 + 5) % 97);
    const pre = await engine.prefill(prompt, { windows: [4] });
    const cache = KvCache.full(engine.shape, pre.keys, pre.values, pre.n);
    await engine.step(cache, [3]);
    await engine.step(cache, [9], { attention: true });
    await engine.dispose();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    assert.ok(file, `onnxruntime wrote its profile to ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    const runs = events.filter((e) => e.name === 'model_run');
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((a, b) => a.ts - b.ts);
    assert.equal(runs.length, 5, 'three prefill chunks and two decode steps profiled');
    for (const run of runs) {
      const seq = kernels.filter((k) => k.ts >= run.ts && k.ts <= run.ts + (run.dur ?? 0));
      // One Softmax per layer, in layer order: the k-th is layer k's attention.
      const softmax = seq.flatMap((k, i) => (k.args?.op_name === 'Softmax' ? [i] : []));
      assert.equal(softmax.length, L, 'one softmax per layer');
      for (let l = 0; l < L; l++) {
        const stat = seq.findIndex((k) => k.name === `wsum_${l}_node_kernel_time`);
        assert.ok(stat > (softmax[l] ?? Infinity), `layer ${l}'s statistics run after its softmax`);
        if (l + 1 < L)
          assert.ok(
            stat < (softmax[l + 1] ?? -1),
            `layer ${l}'s statistics run before layer ${l + 1}'s softmax (at ${stat}, softmaxes at ${softmax.join(', ')})`,
          );
      }
    }
  });
});
