/**
 * Seeded random ggml blocks of any quantised type, for tests and benchmarks
 * that need a model stored in that type: the codes and 6-bit sub-block
 * scales are random bytes, and the f16/f32 scale fields are set so the
 * dequantised weights have roughly the asked standard deviation and mean ≈ 0.
 * Such blocks are what a quantiser could write (every bit pattern of a block
 * is a valid block), so they exercise every code, sign and scale — more than
 * weights quantised from a smooth distribution would. Dequantised weights come
 * from formats/dequant.ts, ggml's reference dequantiser.
 */
import type { Rng } from '@kvlab/core';
import { dequantize, fp32ToFp16, ggmlTypeByName } from '../../../electron/engine/formats/dequant.ts';

/** Offsets of a block's scale fields: d (f16, or f32 for Q8_K) and, where the type has one, its minimum's field. */
const FIELDS: Readonly<Record<string, { readonly d: number; readonly m?: number; readonly f32?: true; readonly mRatio?: number }>> = {
  // mRatio: the minimum (Q4_1/Q5_1: m; K-quants: dmin) relative to d that puts the block mean near 0.
  Q4_0: { d: 0 },
  Q4_1: { d: 0, m: 2, mRatio: -7.5 },
  Q5_0: { d: 0 },
  Q5_1: { d: 0, m: 2, mRatio: -15.5 },
  Q8_0: { d: 0 },
  Q2_K: { d: 80, m: 82, mRatio: 1.5 },
  Q3_K: { d: 108 },
  Q4_K: { d: 0, m: 2, mRatio: 7.5 },
  Q5_K: { d: 0, m: 2, mRatio: 15.5 },
  Q6_K: { d: 208 },
  Q8_K: { d: 0, f32: true },
  IQ4_NL: { d: 0 },
  IQ4_XS: { d: 0 },
};

/** Types randomBlocks can write. */
export const RANDOM_BLOCK_TYPES: readonly string[] = Object.keys(FIELDS);

/** Random blocks of `typeName` for a row-major [N, K] weight (K whole blocks), dequantised std ≈ `std`. */
export function randomBlocks(typeName: string, N: number, K: number, std: number, rng: Rng): Uint8Array {
  const type = ggmlTypeByName(typeName);
  const f = FIELDS[typeName];
  if (!type || !f) throw new RangeError(`no random blocks for ${typeName}`);
  if (K % type.blockSize) throw new RangeError(`${typeName} rows of ${K} are not whole ${type.blockSize}-blocks`);
  const nb = (N * K) / type.blockSize;
  const raw = new Uint8Array(nb * type.typeSize);
  // xorshift32 seeded from rng, four bytes a step: benchmarks write gigabytes of blocks.
  let x = (Math.floor(rng.next() * 0xffffffff) | 1) >>> 0;
  const words = new Uint32Array(raw.buffer, 0, raw.length >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < raw.length; i++) raw[i] = Math.floor(rng.next() * 256);
  const set = (scale: number): void => {
    for (let b = 0; b < nb; b++) {
      const o = b * type.typeSize;
      if (f.f32) new DataView(raw.buffer, raw.byteOffset + o, 4).setFloat32(0, scale, true);
      else writeF16(raw, o + f.d, scale);
      if (f.m !== undefined) writeF16(raw, o + f.m, scale * (f.mRatio ?? 0));
    }
  };
  // The weights are linear in the scale fields: measure the rms at scale 1 (on up to 4096 blocks: they
  // are drawn alike), then rescale.
  set(1);
  const sample = Math.min(nb, 4096);
  const w = new Float32Array(sample * type.blockSize);
  dequantize(type, raw, 0, sample, w, 0);
  let ss = 0;
  for (const x of w) ss += x * x;
  set(std / Math.sqrt(ss / w.length || 1));
  return raw;
}

function writeF16(raw: Uint8Array, o: number, v: number): void {
  const h = fp32ToFp16(v);
  raw[o] = h & 0xff;
  raw[o + 1] = h >>> 8;
}
