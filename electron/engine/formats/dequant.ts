/**
 * ggml tensor types: block sizes, byte layouts and dequantisation to float32.
 *
 * Every routine follows ggml's reference C (`ggml/src/ggml-quants.c`,
 * `dequantize_row_*`) and block structs (`ggml/src/ggml-common.h`) byte for
 * byte; the comment above each one gives its struct. Arithmetic is done in
 * float32 steps (Math.fround) where ggml's C stores an intermediate in a
 * `float`, so results match ggml's non-FMA build bit for bit.
 *
 * Quantisation (for the GGUF writer) follows ggml's `quantize_row_q8_0_ref` /
 * `quantize_row_q4_0_ref`.
 *
 * All multi-byte fields are little-endian (GGUF v2/v3 are little-endian).
 */
import { f32ToF16 } from '@kvlab/core';

export interface GgmlType {
  /** ggml's `enum ggml_type` value, as stored in GGUF tensor infos. */
  readonly id: number;
  /** Upper-case ggml name: 'F32', 'Q4_K', 'IQ2_XXS'. */
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  /** Whether KV Lab can dequantise it. */
  readonly supported: boolean;
}

const QK_K = 256;

// [id, name, blockSize, typeSize, supported] — ggml.c `type_traits`, ggml.h `enum ggml_type`.
// Ids 4, 5 (Q4_2, Q4_3), 31–33 (Q4_0_4_4…) and 36–38 (IQ4_NL_4_4…) were removed from ggml and are unknown here.
const TYPE_TABLE: readonly (readonly [number, string, number, number, boolean])[] = [
  [0, 'F32', 1, 4, true],
  [1, 'F16', 1, 2, true],
  [2, 'Q4_0', 32, 18, true],
  [3, 'Q4_1', 32, 20, true],
  [6, 'Q5_0', 32, 22, true],
  [7, 'Q5_1', 32, 24, true],
  [8, 'Q8_0', 32, 34, true],
  [9, 'Q8_1', 32, 36, false],
  [10, 'Q2_K', QK_K, 84, true],
  [11, 'Q3_K', QK_K, 110, true],
  [12, 'Q4_K', QK_K, 144, true],
  [13, 'Q5_K', QK_K, 176, true],
  [14, 'Q6_K', QK_K, 210, true],
  [15, 'Q8_K', QK_K, 292, true],
  [16, 'IQ2_XXS', QK_K, 66, false],
  [17, 'IQ2_XS', QK_K, 74, false],
  [18, 'IQ3_XXS', QK_K, 98, false],
  [19, 'IQ1_S', QK_K, 50, false],
  [20, 'IQ4_NL', 32, 18, true],
  [21, 'IQ3_S', QK_K, 110, false],
  [22, 'IQ2_S', QK_K, 82, false],
  [23, 'IQ4_XS', QK_K, 136, true],
  [24, 'I8', 1, 1, true],
  [25, 'I16', 1, 2, true],
  [26, 'I32', 1, 4, true],
  [27, 'I64', 1, 8, false],
  [28, 'F64', 1, 8, true],
  [29, 'IQ1_M', QK_K, 56, false],
  [30, 'BF16', 1, 2, true],
  [34, 'TQ1_0', QK_K, 54, false],
  [35, 'TQ2_0', QK_K, 66, false],
  [39, 'MXFP4', 32, 17, false],
  [40, 'NVFP4', 64, 36, false],
];

const BY_ID = new Map<number, GgmlType>(TYPE_TABLE.map(([id, name, blockSize, typeSize, supported]) => [id, { id, name, blockSize, typeSize, supported }]));
const BY_NAME = new Map<string, GgmlType>([...BY_ID.values()].map((t) => [t.name, t]));

/** The ggml type with this id, or undefined for an id ggml does not (or no longer) define. */
export const ggmlType = (id: number): GgmlType | undefined => BY_ID.get(id);
/** The ggml type with this upper-case name ('Q4_K'), or undefined. */
export const ggmlTypeByName = (name: string): GgmlType | undefined => BY_NAME.get(name);
/** Names of the types KV Lab can dequantise, in ggml id order. */
export const SUPPORTED_TYPE_NAMES: readonly string[] = [...BY_ID.values()].filter((t) => t.supported).map((t) => t.name);

// ---------------------------------------------------------------- half floats

let f16Table: Float32Array | undefined;
/** float32 value of every IEEE binary16 bit pattern (built on first use; 256 KiB). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

/** IEEE binary16 bits → number (exact). */
export const fp16ToFp32 = (h: number): number => halfTable()[h & 0xffff] ?? 0;

/** number → IEEE binary16 bits, rounding to nearest-even (ggml's GGML_FP32_TO_FP16); core's implementation, shared with its tensors. */
export const fp32ToFp16 = f32ToF16;

const cvtF32 = new Float32Array(1);
const cvtU32 = new Uint32Array(cvtF32.buffer);

/** number → bfloat16 bits, nearest-even, NaN kept quiet (ggml's GGML_FP32_TO_BF16). */
export function fp32ToBf16(v: number): number {
  cvtF32[0] = v;
  const u = cvtU32[0] ?? 0;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------- dequantisation

const fr = Math.fround;
const KVALUES_IQ4NL = Int8Array.of(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

type Dequant = (s: Uint8Array, o: number, y: Float32Array, yo: number, nb: number) => void;

const h16 = (s: Uint8Array, o: number, t: Float32Array): number => t[(s[o] ?? 0) | ((s[o + 1] ?? 0) << 8)] ?? 0;
const i8 = (b: number): number => (b << 24) >> 24;

/** block_q4_0 { half d; u8 qs[16] } — y[j] = (lo(qs[j]) − 8)·d, y[j+16] = (hi(qs[j]) − 8)·d. */
const q4_0: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 18, yo += 32) {
    const d = h16(s, o, t);
    for (let j = 0; j < 16; j++) {
      const q = s[o + 2 + j] ?? 0;
      y[yo + j] = ((q & 0x0f) - 8) * d;
      y[yo + j + 16] = ((q >>> 4) - 8) * d;
    }
  }
};

/** block_q4_1 { half d; half m; u8 qs[16] } — y = q·d + m. */
const q4_1: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 20, yo += 32) {
    const d = h16(s, o, t);
    const m = h16(s, o + 2, t);
    for (let j = 0; j < 16; j++) {
      const q = s[o + 4 + j] ?? 0;
      y[yo + j] = fr((q & 0x0f) * d) + m;
      y[yo + j + 16] = fr((q >>> 4) * d) + m;
    }
  }
};

/** block_q5_0 { half d; u8 qh[4]; u8 qs[16] } — 5th bit of element j is bit j of qh (u32). y = (q − 16)·d. */
const q5_0: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 22, yo += 32) {
    const d = h16(s, o, t);
    const qh = ((s[o + 2] ?? 0) | ((s[o + 3] ?? 0) << 8) | ((s[o + 4] ?? 0) << 16) | ((s[o + 5] ?? 0) << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = s[o + 6 + j] ?? 0;
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      y[yo + j] = (((q & 0x0f) | xh0) - 16) * d;
      y[yo + j + 16] = (((q >>> 4) | xh1) - 16) * d;
    }
  }
};

/** block_q5_1 { half d; half m; u8 qh[4]; u8 qs[16] } — y = q·d + m. */
const q5_1: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 24, yo += 32) {
    const d = h16(s, o, t);
    const m = h16(s, o + 2, t);
    const qh = ((s[o + 4] ?? 0) | ((s[o + 5] ?? 0) << 8) | ((s[o + 6] ?? 0) << 16) | ((s[o + 7] ?? 0) << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = s[o + 8 + j] ?? 0;
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      y[yo + j] = fr(((q & 0x0f) | xh0) * d) + m;
      y[yo + j + 16] = fr(((q >>> 4) | xh1) * d) + m;
    }
  }
};

/** block_q8_0 { half d; i8 qs[32] } — y = qs·d. */
const q8_0: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 34, yo += 32) {
    const d = h16(s, o, t);
    for (let j = 0; j < 32; j++) y[yo + j] = i8(s[o + 2 + j] ?? 0) * d;
  }
};

/** block_q2_K { u8 scales[16]; u8 qs[64]; half d; half dmin } — 16 sub-blocks of 16; scale = lo nibble, min = hi nibble. */
const q2_K: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 84) {
    const d = h16(s, o + 80, t);
    const min = h16(s, o + 82, t);
    let q = o + 16;
    let is = 0;
    for (let n = 0; n < QK_K; n += 128) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 32; half += 16) {
          const sc = s[o + is++] ?? 0;
          const dl = fr(d * (sc & 0x0f));
          const ml = fr(min * (sc >>> 4));
          for (let l = 0; l < 16; l++) y[yo++] = fr(dl * (((s[q + half + l] ?? 0) >>> shift) & 3)) - ml;
        }
      }
      q += 32;
    }
  }
};

/** block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d } — 16 sub-blocks of 16 with 6-bit signed scales (−32). */
const q3_K: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  const sc = new Int8Array(16);
  for (let i = 0; i < nb; i++, o += 110) {
    const dAll = h16(s, o + 108, t);
    // Unpack the 12 scale bytes as ggml does through aux[4] (little-endian u32 words):
    // scale j < 8: low nibble of scales[j]; j ≥ 8: high nibble of scales[j−8]; bits 4–5 from scales[8 + j%4] >> 2·(j/4).
    const b = o + 96;
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? (s[b + j] ?? 0) & 0x0f : (s[b + j - 8] ?? 0) >>> 4;
      const high = ((s[b + 8 + (j % 4)] ?? 0) >>> (2 * (j >>> 2))) & 3;
      sc[j] = (low | (high << 4)) - 32;
    }
    let q = o + 32;
    const hm = o;
    let m = 1;
    let is = 0;
    for (let n = 0; n < QK_K; n += 128) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 32; half += 16) {
          const dl = fr(dAll * (sc[is++] ?? 0));
          for (let l = 0; l < 16; l++) {
            const v = (((s[q + half + l] ?? 0) >>> shift) & 3) - ((s[hm + half + l] ?? 0) & m ? 0 : 4);
            y[yo++] = dl * v;
          }
        }
        m <<= 1;
      }
      q += 32;
    }
  }
};

/** ggml's get_scale_min_k4: 6-bit scale and min of sub-block j from the 12 packed bytes at s[b…]. */
function scaleMinK4(j: number, s: Uint8Array, b: number, out: Uint8Array): void {
  if (j < 4) {
    out[0] = (s[b + j] ?? 0) & 63;
    out[1] = (s[b + j + 4] ?? 0) & 63;
  } else {
    out[0] = ((s[b + j + 4] ?? 0) & 0x0f) | (((s[b + j - 4] ?? 0) >>> 6) << 4);
    out[1] = ((s[b + j + 4] ?? 0) >>> 4) | (((s[b + j] ?? 0) >>> 6) << 4);
  }
}

/** block_q4_K { half d; half dmin; u8 scales[12]; u8 qs[128] } — 8 sub-blocks of 32: y = d·sc·q − dmin·m. */
const q4_K: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  const sm = new Uint8Array(2);
  for (let i = 0; i < nb; i++, o += 144) {
    const d = h16(s, o, t);
    const min = h16(s, o + 2, t);
    let q = o + 16;
    for (let is = 0; is < 8; is += 2) {
      scaleMinK4(is, s, o + 4, sm);
      const d1 = fr(d * (sm[0] ?? 0));
      const m1 = fr(min * (sm[1] ?? 0));
      scaleMinK4(is + 1, s, o + 4, sm);
      const d2 = fr(d * (sm[0] ?? 0));
      const m2 = fr(min * (sm[1] ?? 0));
      for (let l = 0; l < 32; l++) y[yo++] = fr(d1 * ((s[q + l] ?? 0) & 0x0f)) - m1;
      for (let l = 0; l < 32; l++) y[yo++] = fr(d2 * ((s[q + l] ?? 0) >>> 4)) - m2;
      q += 32;
    }
  }
};

/** block_q5_K { half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } — as Q4_K with a 5th bit from qh. */
const q5_K: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  const sm = new Uint8Array(2);
  for (let i = 0; i < nb; i++, o += 176) {
    const d = h16(s, o, t);
    const min = h16(s, o + 2, t);
    const qh = o + 16;
    let ql = o + 48;
    let u1 = 1;
    let u2 = 2;
    for (let is = 0; is < 8; is += 2) {
      scaleMinK4(is, s, o + 4, sm);
      const d1 = fr(d * (sm[0] ?? 0));
      const m1 = fr(min * (sm[1] ?? 0));
      scaleMinK4(is + 1, s, o + 4, sm);
      const d2 = fr(d * (sm[0] ?? 0));
      const m2 = fr(min * (sm[1] ?? 0));
      for (let l = 0; l < 32; l++) y[yo++] = fr(d1 * (((s[ql + l] ?? 0) & 0x0f) + ((s[qh + l] ?? 0) & u1 ? 16 : 0))) - m1;
      for (let l = 0; l < 32; l++) y[yo++] = fr(d2 * (((s[ql + l] ?? 0) >>> 4) + ((s[qh + l] ?? 0) & u2 ? 16 : 0))) - m2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
};

/** block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d } — 16 sub-blocks of 16: y = d·sc·(q − 32). */
const q6_K: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 210) {
    const d = h16(s, o + 208, t);
    let ql = o;
    let qh = o + 128;
    let sc = o + 192;
    for (let n = 0; n < QK_K; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >>> 4;
        const a = s[ql + l] ?? 0;
        const b = s[ql + l + 32] ?? 0;
        const h = s[qh + l] ?? 0;
        const q1 = ((a & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((b & 0x0f) | (((h >>> 2) & 3) << 4)) - 32;
        const q3 = ((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
        const q4 = ((b >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
        y[yo + l] = fr(d * i8(s[sc + is] ?? 0)) * q1;
        y[yo + l + 32] = fr(d * i8(s[sc + is + 2] ?? 0)) * q2;
        y[yo + l + 64] = fr(d * i8(s[sc + is + 4] ?? 0)) * q3;
        y[yo + l + 96] = fr(d * i8(s[sc + is + 6] ?? 0)) * q4;
      }
      yo += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
};

/** block_q8_K { float d; i8 qs[256]; i16 bsums[16] } — y = d·qs (bsums unused). */
const q8_K: Dequant = (s, o, y, yo, nb) => {
  const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
  for (let i = 0; i < nb; i++, o += 292, yo += QK_K) {
    const d = dv.getFloat32(o, true);
    for (let j = 0; j < QK_K; j++) y[yo + j] = d * i8(s[o + 4 + j] ?? 0);
  }
};

/** block_iq4_nl { half d; u8 qs[16] } — non-linear 4-bit: y = d·kvalues[q]. */
const iq4_nl: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 18, yo += 32) {
    const d = h16(s, o, t);
    for (let j = 0; j < 16; j++) {
      const q = s[o + 2 + j] ?? 0;
      y[yo + j] = d * (KVALUES_IQ4NL[q & 0x0f] ?? 0);
      y[yo + j + 16] = d * (KVALUES_IQ4NL[q >>> 4] ?? 0);
    }
  }
};

/** block_iq4_xs { half d; u16 scales_h; u8 scales_l[4]; u8 qs[128] } — 8 sub-blocks of 32 with 6-bit scales (−32). */
const iq4_xs: Dequant = (s, o, y, yo, nb) => {
  const t = halfTable();
  for (let i = 0; i < nb; i++, o += 136) {
    const d = h16(s, o, t);
    const scalesH = (s[o + 2] ?? 0) | ((s[o + 3] ?? 0) << 8);
    let qs = o + 8;
    for (let ib = 0; ib < 8; ib++) {
      const ls = (((s[o + 4 + (ib >>> 1)] ?? 0) >>> (4 * (ib % 2))) & 0x0f) | (((scalesH >>> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      for (let j = 0; j < 16; j++) {
        const q = s[qs + j] ?? 0;
        y[yo + j] = dl * (KVALUES_IQ4NL[q & 0x0f] ?? 0);
        y[yo + j + 16] = dl * (KVALUES_IQ4NL[q >>> 4] ?? 0);
      }
      yo += 32;
      qs += 16;
    }
  }
};

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

const f16: Dequant = (s, o, y, yo, n) => {
  const t = halfTable();
  if (LITTLE_ENDIAN && (s.byteOffset + o) % 2 === 0) {
    const u = new Uint16Array(s.buffer, s.byteOffset + o, n);
    for (let i = 0; i < n; i++) y[yo + i] = t[u[i] ?? 0] ?? 0;
    return;
  }
  for (let i = 0; i < n; i++, o += 2) y[yo + i] = h16(s, o, t);
};
const bf16: Dequant = (s, o, y, yo, n) => {
  if (LITTLE_ENDIAN && (s.byteOffset + o) % 2 === 0) {
    const u = new Uint16Array(s.buffer, s.byteOffset + o, n);
    const bits = new Uint32Array(y.buffer, y.byteOffset + 4 * yo, n);
    for (let i = 0; i < n; i++) bits[i] = (u[i] ?? 0) << 16;
    return;
  }
  const u = new Uint32Array(1);
  const f = new Float32Array(u.buffer);
  for (let i = 0; i < n; i++, o += 2) {
    u[0] = (((s[o] ?? 0) | ((s[o + 1] ?? 0) << 8)) << 16) >>> 0;
    y[yo + i] = f[0] ?? 0;
  }
};
const view = (s: Uint8Array): DataView => new DataView(s.buffer, s.byteOffset, s.byteLength);
const f32: Dequant = (s, o, y, yo, n) => {
  const v = view(s);
  for (let i = 0; i < n; i++) y[yo + i] = v.getFloat32(o + 4 * i, true);
};
const f64: Dequant = (s, o, y, yo, n) => {
  const v = view(s);
  for (let i = 0; i < n; i++) y[yo + i] = v.getFloat64(o + 8 * i, true);
};
const int8: Dequant = (s, o, y, yo, n) => {
  for (let i = 0; i < n; i++) y[yo + i] = i8(s[o + i] ?? 0);
};
const int16: Dequant = (s, o, y, yo, n) => {
  const v = view(s);
  for (let i = 0; i < n; i++) y[yo + i] = v.getInt16(o + 2 * i, true);
};
const int32: Dequant = (s, o, y, yo, n) => {
  const v = view(s);
  for (let i = 0; i < n; i++) y[yo + i] = v.getInt32(o + 4 * i, true);
};

const DEQUANT: ReadonlyMap<string, Dequant> = new Map([
  ['F32', f32],
  ['F16', f16],
  ['BF16', bf16],
  ['F64', f64],
  ['I8', int8],
  ['I16', int16],
  ['I32', int32],
  ['Q4_0', q4_0],
  ['Q4_1', q4_1],
  ['Q5_0', q5_0],
  ['Q5_1', q5_1],
  ['Q8_0', q8_0],
  ['Q2_K', q2_K],
  ['Q3_K', q3_K],
  ['Q4_K', q4_K],
  ['Q5_K', q5_K],
  ['Q6_K', q6_K],
  ['Q8_K', q8_K],
  ['IQ4_NL', iq4_nl],
  ['IQ4_XS', iq4_xs],
]);

/**
 * Dequantises whole blocks: `src[srcOffset…]` holds `nBlocks` blocks of `type`, written as
 * `nBlocks · blockSize` floats to `out[outOffset…]`. Throws a RangeError for an unsupported
 * type or out-of-range spans (callers check support first and turn it into a ModelFileError).
 */
// eslint-disable-next-line max-params -- source and output spans as (array, offset) pairs, as TypedArray.set and ggml's dequantize_row_* take them; called once per chunk of a tensor being read
export function dequantize(type: GgmlType, src: Uint8Array, srcOffset: number, nBlocks: number, out: Float32Array, outOffset = 0): void {
  const fn = type.supported ? DEQUANT.get(type.name) : undefined;
  if (!fn) throw new RangeError(`ggml type ${type.name} cannot be dequantised; supported: ${SUPPORTED_TYPE_NAMES.join(', ')}`);
  if (srcOffset < 0 || srcOffset + nBlocks * type.typeSize > src.length)
    throw new RangeError(`dequantize: ${nBlocks} ${type.name} blocks at ${srcOffset} exceed the ${src.length}-byte source`);
  if (outOffset < 0 || outOffset + nBlocks * type.blockSize > out.length)
    throw new RangeError(`dequantize: ${nBlocks * type.blockSize} values at ${outOffset} exceed the ${out.length}-value output`);
  fn(src, srcOffset, out, outOffset, nBlocks);
}

// ---------------------------------------------------------------- quantisation (writer)

/** C's roundf: half away from zero. */
const roundf = (v: number): number => (v < 0 ? -Math.round(-v) : Math.round(v));

/** ggml quantize_row_q8_0_ref: per block of 32, d = amax/127, qs = roundf(x/d). `x.length` must be a multiple of 32. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % 32) throw new RangeError(`Q8_0 needs a multiple of 32 values, got ${x.length}`);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j] ?? 0));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    const h = fp32ToFp16(d);
    out[i * 34] = h & 0xff;
    out[i * 34 + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) out[i * 34 + 2 + j] = roundf(fr((x[i * 32 + j] ?? 0) * id)) & 0xff;
  }
  return out;
}

/** ggml quantize_row_q4_0_ref: d = (value of largest |x|)/−8, q = min(15, trunc(x/d + 8.5)). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  if (x.length % 32) throw new RangeError(`Q4_0 needs a multiple of 32 values, got ${x.length}`);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j] ?? 0;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    const h = fp32ToFp16(d);
    out[i * 18] = h & 0xff;
    out[i * 18 + 1] = h >>> 8;
    for (let j = 0; j < 16; j++) {
      const x0 = fr((x[i * 32 + j] ?? 0) * id);
      const x1 = fr((x[i * 32 + 16 + j] ?? 0) * id);
      const q0 = Math.max(0, Math.min(15, Math.trunc(fr(x0 + 8.5))));
      const q1 = Math.max(0, Math.min(15, Math.trunc(fr(x1 + 8.5))));
      out[i * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}
