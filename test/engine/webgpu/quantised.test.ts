/**
 * The quantised graph (graph/nbits.ts: MatMulNBits with default zero points,
 * the block-minimum term, GatherBlockQuantized embeddings, a tied LM head
 * sharing the embedding's blocks) on the WebGPU provider (SwiftShader):
 * every node placed on WebGPU — no silent CPU fallback — and logits against
 * the CPU provider, both in exact mode (8-bit blocks times float32
 * activations). In the default graph (accuracy_level 4 on 8-bit blocks) the
 * WebGPU provider, like the CPU, multiplies 32-element 8-bit blocks with int8
 * activations (measured: 0.04 max |Δlogit| against the exact CPU run on the
 * Q8_0 model below, 2.9e-6 when both run exact), so exact mode is what can be
 * compared at float tolerance.
 *
 * Tolerance: both providers compute with the same block weights (equal to
 * ggml's dequantised weights, nbits.test.ts) and differ only in summation
 * order and WGSL's exp/log rounding, as in parity.test.ts; these models'
 * logits are O(1–5), so the CPU engine's bar against the float64 reference,
 * 1e-4·max(1, max |logit|), applies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRng, mixSeed } from '@kvlab/core';
import { Engine } from '../../../electron/engine/engine.ts';
import { writeGgufModel } from '../../../electron/engine/formats/gguf-model-writer.ts';
import { KvCache } from '../../../electron/engine/kv-cache.ts';
import { loadModel } from '../../../electron/engine/load.ts';
import { maxAbsDiff, testCacheDir } from '../engine-helpers.ts';
import { randomBlocks } from '../reference/random-blocks.ts';
import { randomModel } from '../reference/random-model.ts';
import { nodePlacements } from './placement.ts';
import { useSwiftShader, webgpuEngine } from './swiftshader.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvlab-webgpu-quant-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A 1-layer random model whose matrices are random blocks of typeOf(tensor) (K-quants need 256-wide rows). */
function quantisedModel(name: string, tied: boolean, typeOf: (tensor: string) => string): string {
  const m = randomModel({
    vocab: 160,
    hidden: 256,
    inter: 256,
    layers: 1,
    heads: 4,
    kvHeads: 2,
    headDim: 64,
    qkvBias: false,
    tied,
    ropeLayout: 'interleaved',
    ropeTheta: 10000,
    seed: 61,
  });
  const path = join(dir, `${name}.gguf`);
  let i = 0;
  writeGgufModel(path, m, {
    raw: (tensor, out, inp) => {
      const type = typeOf(tensor);
      return { type, raw: randomBlocks(type, out, inp, 1 / Math.sqrt(inp), createRng(mixSeed(61, i++))) };
    },
  });
  return path;
}

const MODELS = [
  {
    label: 'Q4_K_M-style mix (Q4_K; Q6_K for attn_v, ffn_down, output), untied',
    tied: false,
    typeOf: (t: string) => (/attn_v|ffn_down|^output\./.test(t) ? 'Q6_K' : 'Q4_K'),
  },
  {
    label: 'Q8_0 with Q4_1 projections (block minimum), tied head on a Q8_0 embedding',
    tied: true,
    typeOf: (t: string) => (/attn_q|ffn_up/.test(t) ? 'Q4_1' : 'Q8_0'),
  },
];
const prompt = [1, 17, 3, 88, 42, 42, 9, 150, 13];

describe('quantised graphs on WebGPU (SwiftShader)', () => {
  before(useSwiftShader);

  it('places every node of the quantised decoder graphs on WebGPU', async () => {
    const graphs: string[] = [];
    for (const m of MODELS) {
      const e = await Engine.create(await loadModel(quantisedModel(`placement-${m.tied}`, m.tied, m.typeOf)), { cacheDir: testCacheDir(), threads: 1 });
      graphs.push(e.info.graphPath);
      await e.dispose();
    }
    const placed = await nodePlacements(graphs);
    placed.forEach((p, i) => {
      const off = Object.entries(p.counts).filter(([ep]) => ep !== 'WebGpuExecutionProvider');
      assert.deepEqual(
        off,
        [],
        `${MODELS[i]?.label}: nodes off WebGPU: ${off.map(([ep, n]) => `${n} on ${ep} (${(p.nodes[ep] ?? []).join(', ')})`).join('; ')}`,
      );
      assert.ok((p.counts['WebGpuExecutionProvider'] ?? 0) > 0);
    });
  });

  for (const m of MODELS) {
    it(`${m.label}: prefill and decode logits match the CPU provider (exact mode)`, async (t) => {
      const model = await loadModel(quantisedModel(`parity-${m.tied}`, m.tied, m.typeOf));
      const cpu = await Engine.create(model, { cacheDir: testCacheDir(), threads: 1, exactMatmul: true, prefillChunk: 4 });
      const gpu = await webgpuEngine(model, 4, true);
      try {
        const V = model.config.vocabSize;
        const a = await cpu.prefill(prompt, { allLogits: true });
        const b = await gpu.prefill(prompt, { allLogits: true });
        let worst = 0;
        const check = (x: Float32Array, y: Float32Array, where: string) => {
          const tol = 1e-4 * Math.max(1, ...Array.from(x, Math.abs));
          const d = maxAbsDiff(x, y);
          worst = Math.max(worst, d);
          assert.ok(d <= tol, `${where}: max |Δlogit| ${d} > ${tol}`);
        };
        prompt.forEach((_, p) => check(a.logits.subarray(p * V, (p + 1) * V), b.logits.subarray(p * V, (p + 1) * V), `position ${p}`));
        const ca = KvCache.full(cpu.shape, a.keys, a.values, prompt.length);
        const cb = KvCache.full(gpu.shape, b.keys, b.values, prompt.length);
        for (const [k, tok] of [7, 120].entries()) check((await cpu.step(ca, [tok])).logits, (await gpu.step(cb, [tok])).logits, `decode ${k}`);
        t.diagnostic(`max |Δlogit| CPU vs WebGPU ${worst.toExponential(2)}`);
      } finally {
        await cpu.dispose();
        await gpu.dispose();
      }
    });
  }
});
