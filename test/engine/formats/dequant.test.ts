/**
 * Dequantisation against an independent reference: blocks are packed here,
 * byte by byte, from the ggml block struct definitions (ggml-common.h) and
 * the meaning of each field — element e of a block lives in this byte, these
 * bits — never by calling or mirroring the loops in dequant.ts; expected
 * values come from the per-element formula (d·scale·q − dmin·min, …).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import {
  dequantize,
  fp16ToFp32,
  fp32ToBf16,
  fp32ToFp16,
  ggmlType,
  ggmlTypeByName,
  quantizeQ4_0,
  quantizeQ8_0,
  SUPPORTED_TYPE_NAMES,
  type GgmlType,
} from '../../../electron/engine/formats/dequant.ts';

const type = (name: string): GgmlType => {
  const t = ggmlTypeByName(name);
  assert.ok(t, name);
  return t;
};

function deq(name: string, bytes: Uint8Array | number[]): Float32Array {
  const t = type(name);
  const src = Uint8Array.from(bytes);
  assert.equal(src.length % t.typeSize, 0, `${name}: ${src.length} bytes is not whole blocks of ${t.typeSize}`);
  const nb = src.length / t.typeSize;
  const out = new Float32Array(nb * t.blockSize);
  dequantize(t, src, 0, nb, out);
  return out;
}

/** Little-endian bytes of a half-float bit pattern. */
const le16 = (bits: number): number[] => [bits & 0xff, bits >>> 8];
const f32le = (v: number): number[] => [...new Uint8Array(Float32Array.of(v).buffer)];

// Half-float bit patterns written out by hand (sign | exponent+15 << 10 | mantissa).
const H = { one: 0x3c00, half: 0x3800, quarter: 0x3400, eighth: 0x3000, two: 0x4000, minusOne: 0xbc00, minusQuarter: 0xb400, three: 0x4200 };

const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function assertClose(actual: Float32Array, expected: ArrayLike<number>, tol: number, msg: string): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] ?? NaN;
    const e = expected[i] ?? NaN;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) assert.fail(`${msg}: element ${i} is ${a}, expected ${e}`);
  }
}

describe('ggml type table', () => {
  it('has ggml block sizes and byte sizes', () => {
    const want: [string, number, number, number][] = [
      ['F32', 0, 1, 4],
      ['F16', 1, 1, 2],
      ['Q4_0', 2, 32, 18],
      ['Q4_1', 3, 32, 20],
      ['Q5_0', 6, 32, 22],
      ['Q5_1', 7, 32, 24],
      ['Q8_0', 8, 32, 34],
      ['Q2_K', 10, 256, 84],
      ['Q3_K', 11, 256, 110],
      ['Q4_K', 12, 256, 144],
      ['Q5_K', 13, 256, 176],
      ['Q6_K', 14, 256, 210],
      ['Q8_K', 15, 256, 292],
      ['IQ2_XXS', 16, 256, 66],
      ['IQ4_NL', 20, 32, 18],
      ['IQ4_XS', 23, 256, 136],
      ['BF16', 30, 1, 2],
    ];
    for (const [name, id, bs, ts] of want) {
      const t = ggmlType(id);
      assert.deepEqual([t?.name, t?.blockSize, t?.typeSize], [name, bs, ts], name);
    }
    assert.equal(ggmlType(4), undefined, 'Q4_2 was removed from ggml');
    assert.equal(ggmlType(31), undefined, 'Q4_0_4_4 was removed from GGUF');
    assert.deepEqual(SUPPORTED_TYPE_NAMES.slice(0, 3), ['F32', 'F16', 'Q4_0']);
    for (const n of ['BF16', 'Q8_0', 'Q4_K', 'Q5_K', 'Q6_K', 'Q2_K', 'Q3_K', 'Q8_K', 'IQ4_NL', 'IQ4_XS']) assert.ok(SUPPORTED_TYPE_NAMES.includes(n), n);
    for (const n of ['IQ2_XXS', 'IQ1_S', 'IQ3_S', 'TQ1_0', 'MXFP4', 'Q8_1']) assert.ok(!SUPPORTED_TYPE_NAMES.includes(n), n);
  });

  it('refuses to dequantise an unsupported type', () => {
    assert.throws(() => deq('IQ2_XXS', new Array<number>(66).fill(0)), /IQ2_XXS cannot be dequantised; supported: F32, F16/);
  });
});

describe('half floats', () => {
  it('decodes hand-picked bit patterns', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x3555, 0.333251953125],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [h, v] of cases) assert.equal(fp16ToFp32(h), v, h.toString(16));
    assert.ok(Number.isNaN(fp16ToFp32(0x7e00)));
    assert.ok(Object.is(fp16ToFp32(0x8000), -0));
  });

  it('encodes every half exactly and rounds to nearest even', () => {
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads
      assert.equal(fp32ToFp16(fp16ToFp32(h)), h, h.toString(16));
    }
    assert.equal(fp32ToFp16(1 + 2 ** -11), 0x3c00, 'tie → even (down)');
    assert.equal(fp32ToFp16(1 + 3 * 2 ** -11), 0x3c02, 'tie → even (up)');
    assert.equal(fp32ToFp16(1 + 2 ** -11 + 2 ** -20), 0x3c01, 'above the tie');
    assert.equal(fp32ToFp16(65519), 0x7bff);
    assert.equal(fp32ToFp16(65520), 0x7c00, 'overflow → inf');
    assert.equal(fp32ToFp16(2 ** -25), 0x0000, 'subnormal tie → even (zero)');
    assert.equal(fp32ToFp16(3 * 2 ** -25), 0x0002, 'subnormal tie → even (2)');
    assert.equal(fp32ToFp16(2 ** -25 * 1.01), 0x0001);
    assert.equal(fp32ToFp16(-1e-9), 0x8000);
    assert.equal(fp32ToFp16(NaN) & 0x7e00, 0x7e00);
  });

  it('bfloat16 keeps the top 16 bits with nearest-even rounding', () => {
    assert.deepEqual([...deq('BF16', [0x80, 0x3f, 0xa0, 0xc0, 0x80, 0x7f])], [1, -5, Infinity]);
    assert.equal(fp32ToBf16(1), 0x3f80);
    assert.equal(fp32ToBf16(1 + 2 ** -8), 0x3f80, 'tie → even');
    assert.equal(fp32ToBf16(1 + 3 * 2 ** -8), 0x3f82, 'tie → even (up)');
    assert.equal(fp32ToBf16(NaN) & 0x7fc0, 0x7fc0, 'NaN stays NaN');
  });

  it('reads F16, F32, F64 and the integer types', () => {
    assert.deepEqual([...deq('F16', [...le16(H.one), ...le16(H.minusQuarter), ...le16(0x0001)])], [1, -0.25, 2 ** -24]);
    assert.deepEqual([...deq('F32', [...f32le(1.5), ...f32le(-3e-3)])], [1.5, Math.fround(-3e-3)]);
    assert.deepEqual([...deq('F64', [...new Uint8Array(Float64Array.of(0.5, -2).buffer)])], [0.5, -2]);
    assert.deepEqual([...deq('I8', [0x7f, 0x80, 0xff])], [127, -128, -1]);
    assert.deepEqual([...deq('I16', [0x00, 0x80, 0xff, 0x7f])], [-32768, 32767]);
    assert.deepEqual([...deq('I32', [0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0])], [-1, 16]);
  });

  it('F16 and BF16 give the same values from an odd (unaligned) source offset', () => {
    for (const name of ['F16', 'BF16']) {
      const bytes = Uint8Array.from({ length: 2 * 300 }, (_, i) => (i * 37 + 11) & 0xff);
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      const a = new Float32Array(300);
      const b = new Float32Array(300);
      dequantize(type(name), bytes, 0, 300, a);
      dequantize(type(name), shifted, 1, 300, b);
      assert.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), name);
    }
  });
});

describe('legacy 32-element blocks', () => {
  it('Q8_0: d = 0.5, qs = −128, −120 … 120; second block d = −0.25, qs = 127 … 96', () => {
    const b1 = [...le16(H.half), ...Array.from({ length: 32 }, (_, j) => (j * 8 - 128) & 0xff)];
    const b2 = [...le16(H.minusQuarter), ...Array.from({ length: 32 }, (_, j) => (127 - j) & 0xff)];
    const want = [...Array.from({ length: 32 }, (_, j) => (j * 8 - 128) * 0.5), ...Array.from({ length: 32 }, (_, j) => (127 - j) * -0.25)];
    assert.deepEqual([...deq('Q8_0', [...b1, ...b2])], want);
  });

  it('Q4_0: element j is the low nibble of qs[j], element j+16 the high nibble; value (q − 8)·d', () => {
    const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
    const want = [...Array.from({ length: 16 }, (_, j) => (j - 8) * 2), ...Array.from({ length: 16 }, (_, j) => (15 - j - 8) * 2)];
    assert.deepEqual([...deq('Q4_0', [...le16(H.two), ...qs])], want);
  });

  it('Q4_1: value q·d + m', () => {
    const qs = Array.from({ length: 16 }, (_, j) => ((j * 3) % 16) | (((j * 5 + 2) % 16) << 4));
    const want = [...Array.from({ length: 16 }, (_, j) => ((j * 3) % 16) * 0.5 - 1), ...Array.from({ length: 16 }, (_, j) => ((j * 5 + 2) % 16) * 0.5 - 1)];
    assert.deepEqual([...deq('Q4_1', [...le16(H.half), ...le16(H.minusOne), ...qs])], want);
  });

  // Q5: bit e of the little-endian u32 qh is the 5th bit of element e.
  const q5 = (e: number): number => (e * 7 + 3) % 32;
  function q5Bytes(): number[] {
    let qh = 0;
    for (let e = 0; e < 32; e++) if (q5(e) & 16) qh |= 1 << e;
    const qs = Array.from({ length: 16 }, (_, j) => (q5(j) & 15) | ((q5(j + 16) & 15) << 4));
    return [qh & 0xff, (qh >>> 8) & 0xff, (qh >>> 16) & 0xff, (qh >>> 24) & 0xff, ...qs];
  }

  it('Q5_0: value (q − 16)·d with the 5th bits from qh', () => {
    const want = Array.from({ length: 32 }, (_, e) => (q5(e) - 16) * 0.25);
    assert.deepEqual([...deq('Q5_0', [...le16(H.quarter), ...q5Bytes()])], want);
  });

  it('Q5_1: value q·d + m', () => {
    const want = Array.from({ length: 32 }, (_, e) => q5(e) * 0.25 + 3);
    assert.deepEqual([...deq('Q5_1', [...le16(H.quarter), ...le16(H.three), ...q5Bytes()])], want);
  });

  it('IQ4_NL: value d·kvalues[q]', () => {
    const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
    const want = [
      ...Array.from({ length: 16 }, (_, j) => 0.5 * (KVALUES_IQ4NL[j] ?? 0)),
      ...Array.from({ length: 16 }, (_, j) => 0.5 * (KVALUES_IQ4NL[15 - j] ?? 0)),
    ];
    assert.deepEqual([...deq('IQ4_NL', [...le16(H.half), ...qs])], want);
  });
});

// ---- K-quant packers, written from the field semantics of each block struct.

interface KBlock {
  d: number; // half bits
  dmin: number; // half bits
  scales: number[];
  mins: number[];
  q: number[]; // 256 quants
}

/** Q4_K/Q5_K `scales[12]`: 8 six-bit scales and mins; sub-blocks 0–3 in the low 6 bits of bytes 0–3 (scales) and 4–7 (mins);
 *  sub-blocks 4–7 as low nibbles in bytes 8–11 (scale low | min low << 4) plus their top 2 bits in the top 2 bits of bytes 0–3 (scales) and 4–7 (mins). */
function packScales6(sc: number[], mn: number[]): number[] {
  const b = new Array<number>(12).fill(0);
  for (let j = 0; j < 8; j++) {
    const s = sc[j] ?? 0;
    const m = mn[j] ?? 0;
    if (j < 4) {
      b[j] = s;
      b[j + 4] = m;
    } else {
      b[j + 4] = (s & 15) | ((m & 15) << 4);
      b[j - 4] = (b[j - 4] ?? 0) | ((s >> 4) << 6);
      b[j] = (b[j] ?? 0) | ((m >> 4) << 6);
    }
  }
  return b;
}

/** Q4_K: elements 64p…64p+31 are the low nibbles of qs[32p…32p+31], elements 64p+32…64p+63 the high nibbles; sub-block = e / 32. */
function packQ4K(k: KBlock): number[] {
  const qs = new Array<number>(128).fill(0);
  for (let e = 0; e < 256; e++) {
    const p = e >> 6;
    const r = e & 63;
    qs[32 * p + (r & 31)] = (qs[32 * p + (r & 31)] ?? 0) | (((k.q[e] ?? 0) & 15) << (r < 32 ? 0 : 4));
  }
  return [...le16(k.d), ...le16(k.dmin), ...packScales6(k.scales, k.mins), ...qs];
}

/** Q5_K: as Q4_K for the low 4 bits; the 5th bit of element 64p+r is bit 2p (r < 32) or 2p+1 (r ≥ 32) of qh[r mod 32]. */
function packQ5K(k: KBlock): number[] {
  const qh = new Array<number>(32).fill(0);
  const qs = new Array<number>(128).fill(0);
  for (let e = 0; e < 256; e++) {
    const p = e >> 6;
    const r = e & 63;
    const q = k.q[e] ?? 0;
    qs[32 * p + (r & 31)] = (qs[32 * p + (r & 31)] ?? 0) | ((q & 15) << (r < 32 ? 0 : 4));
    if (q & 16) qh[r & 31] = (qh[r & 31] ?? 0) | (1 << (2 * p + (r < 32 ? 0 : 1)));
  }
  return [...le16(k.d), ...le16(k.dmin), ...packScales6(k.scales, k.mins), ...qh, ...qs];
}

/** Q6_K: element 128n + 32k + l (k = 0…3, l < 32): low 4 bits in ql[64n + l + 32·(k mod 2)] (low nibble for k < 2, high for k ≥ 2),
 *  top 2 bits in qh[32n + l] bits 2k…2k+1; 16 int8 scales, one per 16 elements. */
function packQ6K(d: number, scales: number[], q: number[]): number[] {
  const ql = new Array<number>(128).fill(0);
  const qh = new Array<number>(64).fill(0);
  for (let e = 0; e < 256; e++) {
    const n = e >> 7;
    const k = (e & 127) >> 5;
    const l = e & 31;
    const v = q[e] ?? 0;
    const i = 64 * n + l + 32 * (k % 2);
    ql[i] = (ql[i] ?? 0) | ((v & 15) << (k < 2 ? 0 : 4));
    qh[32 * n + l] = (qh[32 * n + l] ?? 0) | ((v >> 4) << (2 * k));
  }
  return [...ql, ...qh, ...scales.map((s) => s & 0xff), ...le16(d)];
}

/** Q2_K: element 128n + 32k + l: 2 bits in qs[32n + l] at bits 2k; scales[16] per 16 elements: low nibble scale, high nibble min. */
function packQ2K(k: KBlock): number[] {
  const qs = new Array<number>(64).fill(0);
  for (let e = 0; e < 256; e++) {
    const n = e >> 7;
    const kk = (e & 127) >> 5;
    const l = e & 31;
    qs[32 * n + l] = (qs[32 * n + l] ?? 0) | (((k.q[e] ?? 0) & 3) << (2 * kk));
  }
  const sc = Array.from({ length: 16 }, (_, j) => ((k.scales[j] ?? 0) & 15) | (((k.mins[j] ?? 0) & 15) << 4));
  return [...sc, ...qs, ...le16(k.d), ...le16(k.dmin)];
}

/** Q3_K: element 128n + 32k + l: low 2 bits in qs[32n + l] at bits 2k, the 3rd bit in hmask[l] bit 4n + k; value (q − 4);
 *  16 six-bit scales (stored +32): low nibble of scales[j] (j < 8) or high nibble of scales[j−8] (j ≥ 8), top 2 bits in scales[8 + j mod 4] at bits 2·(j div 4). */
function packQ3K(d: number, scales: number[], q: number[]): number[] {
  const hmask = new Array<number>(32).fill(0);
  const qs = new Array<number>(64).fill(0);
  for (let e = 0; e < 256; e++) {
    const n = e >> 7;
    const k = (e & 127) >> 5;
    const l = e & 31;
    const v = q[e] ?? 0;
    qs[32 * n + l] = (qs[32 * n + l] ?? 0) | ((v & 3) << (2 * k));
    if (v & 4) hmask[l] = (hmask[l] ?? 0) | (1 << (4 * n + k));
  }
  const sb = new Array<number>(12).fill(0);
  for (let j = 0; j < 16; j++) {
    const ls = (scales[j] ?? 0) + 32;
    if (j < 8) sb[j] = (sb[j] ?? 0) | (ls & 15);
    else sb[j - 8] = (sb[j - 8] ?? 0) | ((ls & 15) << 4);
    sb[8 + (j % 4)] = (sb[8 + (j % 4)] ?? 0) | ((ls >> 4) << (2 * (j >> 2)));
  }
  return [...hmask, ...qs, ...sb, ...le16(d)];
}

/** IQ4_XS: 8 sub-blocks of 32, six-bit scales (stored +32): low 4 bits in scales_l[ib/2] (low nibble for even ib), top 2 bits in u16 scales_h at bits 2ib;
 *  within a sub-block element j is the low nibble of qs[16ib + j], element j+16 the high nibble. */
function packIQ4XS(d: number, scales: number[], q: number[]): number[] {
  let sh = 0;
  const sl = [0, 0, 0, 0];
  const qs = new Array<number>(128).fill(0);
  for (let ib = 0; ib < 8; ib++) {
    const ls = (scales[ib] ?? 0) + 32;
    sl[ib >> 1] = (sl[ib >> 1] ?? 0) | ((ls & 15) << (4 * (ib % 2)));
    sh |= (ls >> 4) << (2 * ib);
    for (let j = 0; j < 16; j++) qs[16 * ib + j] = ((q[32 * ib + j] ?? 0) & 15) | (((q[32 * ib + 16 + j] ?? 0) & 15) << 4);
  }
  return [...le16(d), ...le16(sh), ...sl, ...qs];
}

const kq = (bits: number, f: (e: number) => number): number[] => Array.from({ length: 256 }, (_, e) => f(e) & ((1 << bits) - 1));

describe('K-quants', () => {
  it('Q4_K: d = 0.5, dmin = 0.25, six-bit scales/mins including values ≥ 16 in sub-blocks 4–7', () => {
    const k: KBlock = { d: H.half, dmin: H.quarter, scales: [1, 7, 13, 63, 32, 17, 40, 5], mins: [0, 3, 63, 9, 48, 21, 1, 33], q: kq(4, (e) => e * 7 + 3) };
    const want = k.q.map((q, e) => 0.5 * (k.scales[e >> 5] ?? 0) * q - 0.25 * (k.mins[e >> 5] ?? 0));
    assert.deepEqual([...deq('Q4_K', packQ4K(k))], want);
  });

  it('Q5_K: as Q4_K with a 5th bit', () => {
    const k: KBlock = { d: H.quarter, dmin: H.half, scales: [63, 0, 31, 32, 16, 47, 2, 60], mins: [5, 62, 17, 0, 33, 8, 50, 19], q: kq(5, (e) => e * 11 + 5) };
    const want = k.q.map((q, e) => 0.25 * (k.scales[e >> 5] ?? 0) * q - 0.5 * (k.mins[e >> 5] ?? 0));
    assert.deepEqual([...deq('Q5_K', packQ5K(k))], want);
  });

  it('Q6_K: d = 1/8, signed int8 scales, value d·scale·(q − 32)', () => {
    const scales = [1, -1, 2, -3, 5, -8, 13, -21, 34, -55, 89, -128, 127, 0, 7, -7];
    const q = kq(6, (e) => e * 5 + 1);
    const want = q.map((v, e) => 0.125 * (scales[e >> 4] ?? 0) * (v - 32));
    assert.deepEqual([...deq('Q6_K', packQ6K(H.eighth, scales, q))], want);
  });

  it('Q2_K: value d·scale·q − dmin·min with 4-bit scales and mins', () => {
    const k: KBlock = {
      d: H.half,
      dmin: H.quarter,
      scales: Array.from({ length: 16 }, (_, j) => (j * 5 + 1) % 16),
      mins: Array.from({ length: 16 }, (_, j) => (15 - j * 3 + 48) % 16),
      q: kq(2, (e) => e * 3 + (e >> 5)),
    };
    const want = k.q.map((q, e) => 0.5 * (k.scales[e >> 4] ?? 0) * q - 0.25 * (k.mins[e >> 4] ?? 0));
    assert.deepEqual([...deq('Q2_K', packQ2K(k))], want);
  });

  it('Q3_K: value d·(scale)·(q − 4) with 6-bit signed scales', () => {
    const scales = [-32, 31, 0, 1, -1, 15, -16, 7, 20, -20, 3, -3, 11, -27, 26, 9];
    const q = kq(3, (e) => e * 5 + (e >> 6));
    const want = q.map((v, e) => 2 * (scales[e >> 4] ?? 0) * (v - 4));
    assert.deepEqual([...deq('Q3_K', packQ3K(H.two, scales, q))], want);
  });

  it('Q8_K: float32 d, int8 quants, bsums ignored', () => {
    const qs = Array.from({ length: 256 }, (_, e) => ((e * 37) % 256) - 128);
    const bytes = [...f32le(0.75), ...qs.map((v) => v & 0xff), ...new Array<number>(32).fill(0x5a)];
    assert.deepEqual(
      [...deq('Q8_K', bytes)],
      qs.map((v) => 0.75 * v),
    );
  });

  it('IQ4_XS: value d·(scale)·kvalues[q]', () => {
    const scales = [-32, 31, 0, 5, -7, 16, -17, 1];
    const q = kq(4, (e) => e * 9 + 2);
    const want = q.map((v, e) => 0.25 * (scales[e >> 5] ?? 0) * (KVALUES_IQ4NL[v] ?? 0));
    assert.deepEqual([...deq('IQ4_XS', packIQ4XS(H.quarter, scales, q))], want);
  });

  it('matches the per-element formulas on 50 random blocks of each type (several blocks per call)', () => {
    const rng = createRng(20260412);
    const randHalf = (): number => fp32ToFp16((rng.next() - 0.5) * 0.2);
    const ints = (n: number, bits: number): number[] => Array.from({ length: n }, () => rng.int(1 << bits));
    for (let trial = 0; trial < 50; trial++) {
      const nb = 1 + rng.int(3);
      const bytes: Record<string, number[]> = { Q4_K: [], Q5_K: [], Q6_K: [], Q2_K: [], Q3_K: [], IQ4_XS: [] };
      const want: Record<string, number[]> = { Q4_K: [], Q5_K: [], Q6_K: [], Q2_K: [], Q3_K: [], IQ4_XS: [] };
      const push = (k: string, b: number[], w: number[]): void => {
        bytes[k]?.push(...b);
        want[k]?.push(...w);
      };
      for (let b = 0; b < nb; b++) {
        const d = randHalf();
        const dmin = randHalf();
        const D = fp16ToFp32(d);
        const M = fp16ToFp32(dmin);
        const k4: KBlock = { d, dmin, scales: ints(8, 6), mins: ints(8, 6), q: ints(256, 4) };
        push(
          'Q4_K',
          packQ4K(k4),
          k4.q.map((q, e) => D * (k4.scales[e >> 5] ?? 0) * q - M * (k4.mins[e >> 5] ?? 0)),
        );
        const k5: KBlock = { d, dmin, scales: ints(8, 6), mins: ints(8, 6), q: ints(256, 5) };
        push(
          'Q5_K',
          packQ5K(k5),
          k5.q.map((q, e) => D * (k5.scales[e >> 5] ?? 0) * q - M * (k5.mins[e >> 5] ?? 0)),
        );
        const s6 = ints(16, 8).map((v) => v - 128);
        const q6 = ints(256, 6);
        push(
          'Q6_K',
          packQ6K(d, s6, q6),
          q6.map((v, e) => D * (s6[e >> 4] ?? 0) * (v - 32)),
        );
        const k2: KBlock = { d, dmin, scales: ints(16, 4), mins: ints(16, 4), q: ints(256, 2) };
        push(
          'Q2_K',
          packQ2K(k2),
          k2.q.map((q, e) => D * (k2.scales[e >> 4] ?? 0) * q - M * (k2.mins[e >> 4] ?? 0)),
        );
        const s3 = ints(16, 6).map((v) => v - 32);
        const q3 = ints(256, 3);
        push(
          'Q3_K',
          packQ3K(d, s3, q3),
          q3.map((v, e) => D * (s3[e >> 4] ?? 0) * (v - 4)),
        );
        const sx = ints(8, 6).map((v) => v - 32);
        const qx = ints(256, 4);
        push(
          'IQ4_XS',
          packIQ4XS(d, sx, qx),
          qx.map((v, e) => D * (sx[e >> 5] ?? 0) * (KVALUES_IQ4NL[v] ?? 0)),
        );
      }
      for (const name of Object.keys(bytes)) assertClose(deq(name, bytes[name] ?? []), want[name] ?? [], 1e-6, `${name} trial ${trial}`);
    }
  });

  it('dequantises into the middle of an output array', () => {
    const t = type('Q8_0');
    const src = Uint8Array.from([0, 0, ...le16(H.two), ...Array.from({ length: 32 }, (_, j) => j)]);
    const out = new Float32Array(40).fill(-1);
    dequantize(t, src, 2, 1, out, 5);
    assert.deepEqual([...out.subarray(0, 5)], [-1, -1, -1, -1, -1]);
    assert.deepEqual(
      [...out.subarray(5, 37)],
      Array.from({ length: 32 }, (_, j) => 2 * j),
    );
    assert.deepEqual([...out.subarray(37)], [-1, -1, -1]);
    assert.throws(() => dequantize(t, src, 2, 2, out, 0), RangeError);
    assert.throws(() => dequantize(t, src, 2, 1, out, 20), RangeError);
  });
});

describe('quantisation (ggml reference semantics)', () => {
  it('Q8_0: d = amax/127 as half, qs = roundf(x/d) with halves away from zero', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => j - 16);
    const b = quantizeQ8_0(x);
    // d = 16/127 = 2^-3 · 1.00787… → half 0x3008.
    assert.deepEqual([...b.subarray(0, 2)], [0x08, 0x30]);
    const q = [...new Int8Array(b.buffer, 2, 32)];
    // x·127/16 = (j − 16)·7.9375; j = 8 and 24 give ∓63.5, which roundf takes away from zero.
    const want = Array.from({ length: 32 }, (_, j) => {
      const v = ((j - 16) * 127) / 16;
      return Math.sign(v) * Math.round(Math.abs(v));
    });
    assert.deepEqual(q, want);
    assert.equal(q[8], -64);
    assert.equal(q[24], 64);
  });

  it('Q8_0: an all-zero block has d = 0 and zero quants', () => {
    assert.deepEqual([...quantizeQ8_0(new Float32Array(32))], new Array<number>(34).fill(0));
  });

  it('Q4_0: d = (signed value of largest |x|)/−8, q = min(15, trunc(x/d + 8.5))', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => (j - 16) / 2); // −8 … 7.5, largest |x| is −8 → d = 1
    const b = quantizeQ4_0(x);
    assert.deepEqual([...b.subarray(0, 2)], le16(H.one));
    const q = (v: number): number => Math.min(15, Math.trunc(v + 8.5));
    for (let j = 0; j < 16; j++) assert.equal(b[2 + j], q((j - 16) / 2) | (q(j / 2) << 4), `byte ${j}`);
    // And a block whose largest |x| is positive: d < 0, so the maximum maps to q = 0.
    const y = Float32Array.from({ length: 32 }, (_, j) => (j === 5 ? 4 : 0.5));
    const c = quantizeQ4_0(y);
    assert.equal(fp16ToFp32((c[0] ?? 0) | ((c[1] ?? 0) << 8)), -0.5);
    assert.equal((c[2 + 5] ?? 0) & 15, 0);
    assert.deepEqual([...deq('Q4_0', c)], [...y]);
  });

  it('rejects lengths that are not whole blocks', () => {
    assert.throws(() => quantizeQ8_0(new Float32Array(33)), RangeError);
    assert.throws(() => quantizeQ4_0(new Float32Array(31)), RangeError);
  });
});
