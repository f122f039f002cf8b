/**
 * Models stored in every quantised ggml type run with their weights in that
 * form (graph/nbits.ts → MatMulNBits / GatherBlockQuantized), checked against
 * the independent float64 reference forward pass (reference/forward.ts) on the
 * weights ggml's dequantiser gives for the same file.
 *
 * Tolerances:
 *   - exact mode (`exactMatmul`: weight blocks multiply float32 activations):
 *     the graph's weights equal ggml's (nbits.test.ts), so only float32
 *     accumulation separates it from the float64 reference: |Δlogit| ≤ 2e-4
 *     with logits of magnitude ~1–5 and dot products of up to 512 terms.
 *   - default mode: weight blocks multiply activations quantised to int8 per
 *     kernel block (step amax/127, error ≤ amax/254 per element), as
 *     llama.cpp's CPU path does. The error is relative to each block's largest
 *     activation (≈ 2.3× the rms for 32 Gaussian values), ~0.5 % of a dot
 *     product, and it compounds over the 4 quantised matmuls on each layer's
 *     path. Measured on these 2-layer random models: relative rms logit error
 *     0.75–2.1 %, max |Δlogit| ≤ 3.3 % of max |logit|; bounds 5 % rms and 10 %
 *     of max |logit|. (Before the block-minimum types' codes were centred,
 *     Q5_K measured 11.9 % rms: the bound catches that.)
 * Greedy tokens must equal the reference's wherever the reference's top two
 * logits differ by more than twice the tolerance.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRng, mixSeed } from '@kvlab/core';
import { Engine } from '../../electron/engine/engine.ts';
import { writeGgufModel } from '../../electron/engine/formats/gguf-model-writer.ts';
import { NBITS_TYPES } from '../../electron/engine/graph/nbits.ts';
import { KvCache } from '../../electron/engine/kv-cache.ts';
import { loadModel } from '../../electron/engine/load.ts';
import { isResident, type LoadedModel } from '../../electron/engine/model.ts';
import { argmax, createReference } from './reference/forward.ts';
import { randomBlocks } from './reference/random-blocks.ts';
import { randomModel, type RandomModelOptions } from './reference/random-model.ts';
import { maxAbsDiff, testCacheDir } from './engine-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvlab-quantised-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// K-quants need rows of whole 256-element blocks: every matrix's input dim is 256 or 512.
const shape: RandomModelOptions = {
  vocab: 300,
  hidden: 256,
  inter: 512,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 64,
  qkvBias: false,
  tied: false,
  ropeLayout: 'interleaved',
  ropeTheta: 10000,
  seed: 41,
};
const prompt = [1, 17, 3, 88, 42, 42, 9, 260, 13, 71, 2, 33];
const EXACT_TOL = 2e-4;

/** A GGUF of the random shape whose matrices are random blocks of `typeOf(tensor)`. */
function writeModel(name: string, typeOf: (tensor: string) => string, opts: Partial<RandomModelOptions> = {}): string {
  const m = randomModel({ ...shape, ...opts });
  const path = join(dir, `${name}.gguf`);
  let i = 0;
  writeGgufModel(path, m, {
    raw: (tensor, out, inp) => {
      const type = typeOf(tensor);
      return { type, raw: randomBlocks(type, out, inp, 1 / Math.sqrt(inp), createRng(mixSeed(shape.seed, i++))) };
    },
  });
  return path;
}

async function open(path: string, exactMatmul: boolean): Promise<{ model: LoadedModel; engine: Engine }> {
  const model = await loadModel(path);
  const engine = await Engine.create(model, { cacheDir: testCacheDir(), threads: 1, prefillChunk: 5, exactMatmul });
  return { model, engine };
}

/** Largest |Δlogit| over every prompt position and 3 decode steps, and whether greedy choices agree where they are clear. */
async function compare(model: LoadedModel, engine: Engine, tol: (ref: Float64Array) => number): Promise<{ worst: number; ratio: number; rms: number }> {
  const ref = createReference(model.config, model.weights);
  const want = ref.prefill(prompt).logits;
  const pre = await engine.prefill(prompt, { allLogits: true });
  const V = model.config.vocabSize;
  let worst = 0;
  let ratio = 0;
  let rms = 0;
  const check = (got: Float32Array, w: Float64Array, where: string) => {
    let se = 0;
    let sw = 0;
    for (let i = 0; i < w.length; i++) {
      se += ((got[i] ?? 0) - (w[i] ?? 0)) ** 2;
      sw += (w[i] ?? 0) ** 2;
    }
    rms = Math.max(rms, Math.sqrt(se / sw));
    const d = maxAbsDiff(got, w);
    const t = tol(w);
    worst = Math.max(worst, d);
    ratio = Math.max(ratio, d / t);
    assert.ok(d <= t, `${where}: max |Δlogit| ${d} > ${t}`);
    const sorted = [...w].sort((a, b) => b - a);
    if ((sorted[0] ?? 0) - (sorted[1] ?? 0) > 2 * t) assert.equal(argmax(got), argmax(w), `${where}: greedy token`);
  };
  prompt.forEach((_, t) => check(pre.logits.subarray(t * V, (t + 1) * V), want[t] ?? new Float64Array(V), `position ${t}`));
  const cache = KvCache.full(engine.shape, pre.keys, pre.values, prompt.length);
  for (const [k, tok] of [7, 250, 1].entries()) {
    const w = ref.step(tok, prompt.length + k);
    check((await engine.step(cache, [tok])).logits, w, `decode step ${k}`);
  }
  return { worst, ratio, rms };
}

describe('quantised GGUF weights in the graph, against the reference on ggml-dequantised weights', () => {
  for (const type of NBITS_TYPES) {
    it(`${type}: every matrix and the embedding in ${type}, exact mode, |Δlogit| ≤ ${EXACT_TOL}`, async (t) => {
      const path = writeModel(type, () => type, { seed: shape.seed + NBITS_TYPES.indexOf(type) });
      const { model, engine } = await open(path, true);
      try {
        // Loading read no weights: every tensor reads itself from the file on demand.
        assert.ok([...model.weights.values()].every((w) => !isResident(w)));
        const { worst } = await compare(model, engine, () => EXACT_TOL);
        t.diagnostic(`${type}: max |Δlogit| ${worst.toExponential(2)}`);
      } finally {
        await engine.dispose();
      }
    });
  }

  it('a Q4_K_M-style mix (Q4_K, with Q6_K for attn_v, ffn_down and the output) and a tied Q4_K embedding read by the LM head', async (t) => {
    const q6 = (tensor: string) => /attn_v|ffn_down|^output\./.test(tensor);
    for (const tied of [false, true]) {
      const path = writeModel(`q4_k_m-${tied}`, (tensor) => (q6(tensor) ? 'Q6_K' : 'Q4_K'), { tied, seed: 77 });
      const { model, engine } = await open(path, true);
      try {
        const { worst } = await compare(model, engine, () => EXACT_TOL);
        t.diagnostic(`tied ${tied}: max |Δlogit| ${worst.toExponential(2)}`);
      } finally {
        await engine.dispose();
      }
    }
  });

  for (const type of ['Q8_0', 'Q6_K', 'Q5_K', 'Q4_K', 'Q4_0']) {
    it(`${type}, default mode (int8 activations): rms logit error ≤ 5 %, |Δlogit| ≤ 10 % of max |logit|`, async (t) => {
      const path = writeModel(`${type}-fast`, () => type, { seed: 90 });
      const { model, engine } = await open(path, false);
      try {
        const rel = (w: Float64Array) => 0.1 * Math.max(...w.map(Math.abs));
        const { worst, ratio, rms } = await compare(model, engine, rel);
        t.diagnostic(
          `${type}: max |Δlogit| ${worst.toExponential(2)} (${(ratio * 100).toFixed(0)} % of the bound), relative rms error ${(rms * 100).toFixed(2)} %`,
        );
        assert.ok(rms <= 0.05, `${type}: relative rms logit error ${rms}`);
      } finally {
        await engine.dispose();
      }
    });
  }
});
