/**
 * graph/nbits.ts against ggml's reference dequantiser (formats/dequant.ts):
 * for every type, the weights the quantised kernels compute with,
 * scale·(code − 2^(bits−1)) + min', equal ggml's dequantised weights — bit for
 * bit where a type has no block minimum, and within float rounding where the
 * minimum is a separate term.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import { dequantize, fp32ToFp16, ggmlTypeByName } from '../../../electron/engine/formats/dequant.ts';
import { NBITS_TYPES, nbitsBytes, nbitsToFloat, toNBits } from '../../../electron/engine/graph/nbits.ts';
import { RANDOM_BLOCK_TYPES, randomBlocks } from '../reference/random-blocks.ts';

const WITH_MIN = new Set(['Q4_1', 'Q5_1', 'Q2_K', 'Q4_K', 'Q5_K']);

describe('ggml blocks → MatMulNBits form', () => {
  it('covers every quantised type the loader reads, and the random-block generator covers them too', () => {
    const quantised = ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_K', 'IQ4_NL', 'IQ4_XS'];
    assert.deepEqual([...NBITS_TYPES].sort(), [...quantised].sort());
    assert.deepEqual([...RANDOM_BLOCK_TYPES].sort(), [...quantised].sort());
  });

  for (const t of NBITS_TYPES) {
    it(`${t}: the kernels' weights equal ggml's dequantised weights${WITH_MIN.has(t) ? ' (within float rounding: block minimum as a separate term)' : ' bit for bit'}`, () => {
      const type = ggmlTypeByName(t);
      assert.ok(type);
      const N = 5;
      const K = 512;
      const raw = randomBlocks(t, N, K, 0.05, createRng(7));
      const want = new Float32Array(N * K);
      dequantize(type, raw, 0, (N * K) / type.blockSize, want, 0);
      const nb = toNBits(t, raw, N, K);
      assert.equal(nb.codes.byteLength + 4 * nb.scales.length + 4 * (nb.mins?.length ?? 0), nbitsBytes(t, N, K));
      assert.equal(nb.mins !== undefined, WITH_MIN.has(t));
      const got = nbitsToFloat(nb);
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs((got[i] ?? 0) - (want[i] ?? 0)));
        scale = Math.max(scale, Math.abs(want[i] ?? 0));
      }
      assert.ok(scale > 0.01, `${t}: weights too small to test (${scale})`);
      // The minimum's term is rounded once more than ggml's single expression: a few float32 ulps of the block's magnitude.
      if (WITH_MIN.has(t)) assert.ok(worst <= 8 * 2 ** -24 * scale, `${t}: max |Δw| ${worst} (max |w| ${scale})`);
      else assert.equal(worst, 0, `${t}: max |Δw| ${worst}`);
    });
  }

  it('packs 4-bit codes low-first along k, and shifts signed values by the default zero point', () => {
    // One Q4_0 block: d = 1, element j < 16 in the low nibble of qs[j], element j + 16 in its high nibble.
    const raw = new Uint8Array(18);
    const h = fp32ToFp16(1);
    raw[0] = h & 0xff;
    raw[1] = h >>> 8;
    for (let j = 0; j < 16; j++) raw[2 + j] = (j & 0x0f) | ((15 - j) << 4); // q[j] = j, q[j + 16] = 15 − j
    const nb = toNBits('Q4_0', raw, 1, 32);
    assert.equal(nb.bits, 4);
    assert.equal(nb.blockSize, 32);
    for (let i = 0; i < 16; i++) {
      const e0 = 2 * i;
      const e1 = 2 * i + 1;
      const q = (e: number) => (e < 16 ? e : 15 - (e - 16));
      assert.equal(nb.codes[i], q(e0) | (q(e1) << 4), `byte ${i}`);
    }
    // Q8_0: signed int8 values become code = v + 128 (the kernel's default zero point for 8 bits).
    const q8 = new Uint8Array(34);
    q8[0] = h & 0xff;
    q8[1] = h >>> 8;
    q8[2] = 0x80; // −128
    q8[3] = 0x7f; // 127
    const nb8 = toNBits('Q8_0', q8, 1, 32);
    assert.deepEqual([nb8.codes[0], nb8.codes[1], nb8.codes[2]], [0, 255, 128]);
  });

  it('refuses a type without a block form and a size that does not match', () => {
    assert.throws(() => toNBits('F16', new Uint8Array(64), 1, 32), /has no block form/);
    assert.throws(() => toNBits('Q4_0', new Uint8Array(17), 1, 32), /needs 18 bytes, got 17/);
    assert.throws(() => toNBits('Q4_K', new Uint8Array(144), 1, 32), /not whole 256-element blocks/);
  });
});
