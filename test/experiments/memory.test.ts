/**
 * The K/V a sample holds at once (electron/experiments/memory.ts), in tokens
 * of K/V: the prompt's prefill, a compressed cache built beside it, the full
 * cache's copy for a fidelity reference, and the tokens decoded. Checked
 * against the sums written out by hand from the runner's order of work.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KvModelShape } from '@kvlab/core';
import { parseBudget, parseMethodSpec } from '@kvlab/core';
import { ModelFileError } from '../../electron/engine/model.ts';
import type { KvRoom } from '../../electron/experiments/memory.ts';
import { compressedShare, planSampleKv, sampleKvBytes } from '../../electron/experiments/memory.ts';

const SHAPE: KvModelShape = { numLayers: 4, numKvHeads: 2, headDim: 8, dtype: 'float32' };
const snapkv = parseMethodSpec('snapkv');

describe('sampleKvBytes', () => {
  const s = { what: 's', promptTokens: 1000, decodeTokens: 50 };
  it('generating: the prompt, the largest compressed cache beside it, the answer', () => {
    assert.equal(sampleKvBytes(1, { ...s, fidelity: false }), 1050);
    assert.equal(sampleKvBytes(1, { ...s, fidelity: false, compressedShare: 0.2 }), 1250);
    // A share above 1 is a cache of the whole prompt at most.
    assert.equal(sampleKvBytes(2, { ...s, fidelity: false, compressedShare: 3 }), 2 * 2050);
  });
  it('fidelity: a copied reference is two prompts whatever the share; in place, the prompt and the share', () => {
    assert.equal(sampleKvBytes(1, { ...s, fidelity: true, compressedShare: 0.5 }), 2050);
    assert.equal(sampleKvBytes(1, { ...s, fidelity: true, compressedShare: 0.5 }, true), 1550);
    assert.equal(sampleKvBytes(1, { ...s, fidelity: true }, true), 1050);
  });
});

describe('compressedShare', () => {
  it('is 0 for the full cache alone, the budget share for one method, the largest of several', () => {
    assert.equal(compressedShare(SHAPE, [{ method: 'full' }], 400), 0);
    assert.equal(compressedShare(SHAPE, [{ method: snapkv, budget: parseBudget('20%') }], 400), 0.2);
    // 64 tokens per layer of 256.
    assert.equal(compressedShare(SHAPE, [{ method: snapkv, budget: parseBudget('64') }], 256), 0.25);
    const configs = [
      { method: 'full' as const },
      { method: snapkv, budget: parseBudget('10%') },
      { method: parseMethodSpec('h2o/zigzagkv'), budget: parseBudget('30%') },
    ];
    assert.equal(compressedShare(SHAPE, configs, 1000), 0.3);
  });
  it('is at most 1, for a budget over the prompt; and a budget below what the method keeps counts as raised', () => {
    assert.equal(compressedShare(SHAPE, [{ method: snapkv, budget: parseBudget('4096') }], 100), 1);
    // SnapKV keeps its observation window (8 tokens) at least: 2 tokens per layer of 100 is raised.
    const raised = compressedShare(SHAPE, [{ method: snapkv, budget: parseBudget('2') }], 100);
    assert.ok(raised >= 0.08, `${raised}`);
  });
});

describe('planSampleKv', () => {
  const room: KvRoom = {
    file: '/m.gguf',
    kvType: 'f32',
    remedy: { halve: 'halve', shorten: 'shorten' },
    bytesPerToken: 1,
    available: 1400,
  };
  it('a fidelity sample copies where two prompts fit, reads in place where only one and its compressed share do', () => {
    const s = { what: "sample 'x'", promptTokens: 600, decodeTokens: 100, fidelity: true, compressedShare: 0.5 };
    assert.deepEqual(planSampleKv(room, s), { bytes: 1300, inPlace: false });
    assert.deepEqual(planSampleKv(room, { ...s, promptTokens: 800 }), { bytes: 1300, inPlace: true });
  });
  it('refuses, naming the tokens, the compressed share and the room', () => {
    const s = { what: "sample 'x'", promptTokens: 1000, decodeTokens: 100, fidelity: false, compressedShare: 0.25 };
    assert.throws(
      () => planSampleKv({ ...room, bytesPerToken: 65536, available: 1300 * 65536 }, s),
      (e: unknown) =>
        e instanceof ModelFileError &&
        e.code === 'E_MODEL_TOO_LARGE' &&
        e.message.includes(
          "sample 'x' (1,000 prompt + 100 decoded tokens, with a compressed cache of 25 % of the prompt beside it) needs about 84.4 MiB of f32 KV cache (64.0 KiB per token)",
        ) &&
        e.message.includes('only 81.3 MiB is available') &&
        e.message.includes('halve to halve it, or shorten'),
    );
  });
});
