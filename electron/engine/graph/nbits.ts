/**
 * ggml quantised blocks → the block form onnxruntime's quantised contrib ops
 * take (`com.microsoft.MatMulNBits` for projections and the LM head,
 * `com.microsoft.GatherBlockQuantized` for the token embedding), without
 * dequantising: the graph then holds a weight in about the bytes of its file.
 *
 * The kernels compute W[n,k] = scale[n,b] · (code[n,k] − Z), Z = 2^(bits−1)
 * (their default zero point; no zero-point input is ever given), with codes
 * packed low-first along k. Measured on onnxruntime-node 1.30: 4- and 8-bit
 * work with default or uint8 zero points on the CPU and WebGPU providers; 8-bit with float zero points fails on the
 * CPU, and float zero points have no WebGPU kernel. So every ggml type is
 * written as integer codes shifted into [0, 2^bits) plus, where the type has a
 * per-block minimum (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K), a separate float term:
 *
 *   W[n,k] = scale[n,b]·(q[n,k] − zq) + min[n,b]                    (ggml)
 *          = scale[n,b]·(code[n,k] − Z) + min'[n,b]                 code = q + shift
 *   y[n]   = Σ_k x[k]·W[n,k] = MatMulNBits(x)[n] + Σ_b min'[n,b]·(Σ_{k∈b} x[k])
 *
 * with min' = min + scale·(Z − shift − zq); block-minimum types shift so the
 * block part is centred (Q4_1/Q4_K by Z = 8, Q5_1/Q5_K by 16). The second sum is a float MatMul of
 * the input's block sums [.., K/bs] by min'ᵀ [K/bs, N]: 1/bs of the weight's
 * size, exact up to float rounding. Types with a natural zero (Q4_0, Q5_0,
 * Q6_K, Q3_K, Q8_0, IQ4_*) need no min term: their codes shift so that
 * shift = Z − zq, and the graph's weights equal ggml's dequantised weights
 * bit for bit. Mapping per type (bs = the kernel's block, a power of two ≥ 16):
 *
 *   type    bits  bs   q range     zq   min'              ggml block
 *   Q4_0     4    32   0…15         8   —                 d·(q − 8)
 *   Q4_1     4    32   0…15         0   m + 8d            d·q + m
 *   Q5_0     8    32   0…31        16   —                 d·(q − 16)
 *   Q5_1     8    32   0…31         0   m + 16d           d·q + m   (codes centred at 16)
 *   Q8_0     8    32   −128…127     0   —                 d·q
 *   Q2_K     4    16   0…3          0   −dmin·m_j         d·sc_j·q − dmin·m_j
 *   Q3_K     4    16   −4…3         0   —                 d·sc_j·q  (sc_j signed)
 *   Q4_K     4    32   0…15         0   −dmin·m_j + 8·d·sc_j
 *   Q5_K     8    32   0…31         0   −dmin·m_j + 16·d·sc_j   (codes centred at 16)
 *   Q6_K     8    16   0…63        32   —                 d·sc_j·(q − 32) (sc_j signed)
 *   Q8_K     8   256   −128…127     0   —
 *   IQ4_NL   8    32   kvalues      0   —                 d·kvalue[q]   (non-linear: the int8 value is the code)
 *   IQ4_XS   8    32   kvalues      0   —
 *
 * Scales are products ggml rounds to float32 (fr(d·sc_j)), taken as ggml
 * computes them. Costs against the file: Q4_0 20 B per 32 weights (file 18),
 * Q8_0 36 (34), Q4_K 24 (18: the min term adds 4), Q6_K 20 per 16 (13.1:
 * 6-bit codes widen to 8), Q5_0/Q5_1/Q5_K 36–40 per 32 (22–24).
 *
 * Written by hand: no library converts ggml blocks to onnxruntime's layout.
 * Block structs after llama.cpp's ggml-common.h, as formats/dequant.ts reads them.
 */
import { fp16ToFp32, ggmlTypeByName } from '../formats/dequant.ts';

/** A weight [N, K] (row-major out × in) in the kernels' block form. */
export interface NBitsWeight {
  readonly N: number;
  readonly K: number;
  readonly bits: 4 | 8;
  readonly blockSize: number;
  /** uint8 [N, K/bs, bs·bits/8]: codes, low-first along k (4-bit: element 2i in the low nibble of byte i). */
  readonly codes: Uint8Array;
  /** float32 [N, K/bs]. */
  readonly scales: Float32Array;
  /** float32 [N, K/bs]: the per-block additive term min' (module comment), absent when zero. */
  readonly mins?: Float32Array;
}

interface Layout {
  readonly bits: 4 | 8;
  /** The kernel's block (a ggml sub-block). */
  readonly bs: number;
  /** Elements per ggml block. */
  readonly qk: number;
  /** Bytes per ggml block. */
  readonly bytes: number;
  /**
   * Unpacks one ggml block at s[o…]: writes its qk signed values v = q − zq − (shift to
   * the type's zero) into `v` and, per sub-block j, the scale and ggml's own minimum
   * (0 when the type has none). Value v is what multiplies the scale.
   */
  readonly unpack: (s: Uint8Array, o: number, v: Int16Array, scale: Float32Array, min: Float32Array) => void;
  /** Whether the type has a per-block minimum. */
  readonly hasMin: boolean;
  /** Values fill the whole unsigned code range (0…2^bits−1), so they cannot shift by Z. */
  readonly fullRange?: true;
  /**
   * Where a block-minimum type's values are centred (Q5_1/Q5_K: 16, of 0…31):
   * their codes are shifted so the block part is centred and the minimum term
   * small. Uncentred, the block part carries a large mean that the minimum
   * term cancels, and the int8 rounding of activations in the 8-bit kernel,
   * relative to the block part, grew ~6× (measured: 11.9 % vs 2 % rms logit error).
   */
  readonly center?: number;
}

const fr = Math.fround;
const h16 = (s: Uint8Array, o: number): number => fp16ToFp32((s[o] ?? 0) | ((s[o + 1] ?? 0) << 8));
const i8 = (b: number): number => (b << 24) >> 24;
const KVALUES_IQ4NL = Int8Array.of(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

/** ggml's get_scale_min_k4 (Q4_K/Q5_K): 6-bit scale and min of sub-block j from the 12 bytes at s[b…]. */
function scaleMinK4(j: number, s: Uint8Array, b: number): [number, number] {
  if (j < 4) return [(s[b + j] ?? 0) & 63, (s[b + j + 4] ?? 0) & 63];
  return [((s[b + j + 4] ?? 0) & 0x0f) | (((s[b + j - 4] ?? 0) >>> 6) << 4), ((s[b + j + 4] ?? 0) >>> 4) | (((s[b + j] ?? 0) >>> 6) << 4)];
}

/** Q4_K/Q5_K: the 8 sub-blocks' scales fr(d·sc_j) and minimums −fr(dmin·m_j) of the block at s[o…], as ggml rounds them. */
function kScalesMins(s: Uint8Array, o: number, sc: Float32Array, mn: Float32Array): void {
  const d = h16(s, o);
  const dmin = h16(s, o + 2);
  for (let j = 0; j < 8; j++) {
    const [a, m] = scaleMinK4(j, s, o + 4);
    sc[j] = fr(d * a);
    mn[j] = -fr(dmin * m);
  }
}

// Each unpacker mirrors the dequantiser of the same name in formats/dequant.ts; values v are
// ggml's integer factor of the (sub-)block scale, so that ggml's weight is scale·v + min.
const LAYOUTS: Readonly<Record<string, Layout>> = {
  Q4_0: {
    bits: 4,
    bs: 32,
    qk: 32,
    bytes: 18,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      sc[0] = h16(s, o);
      for (let j = 0; j < 16; j++) {
        const q = s[o + 2 + j] ?? 0;
        v[j] = (q & 0x0f) - 8;
        v[j + 16] = (q >>> 4) - 8;
      }
    },
  },
  Q4_1: {
    bits: 4,
    bs: 32,
    qk: 32,
    bytes: 20,
    hasMin: true,
    fullRange: true,
    unpack: (s, o, v, sc, mn) => {
      sc[0] = h16(s, o);
      mn[0] = h16(s, o + 2);
      for (let j = 0; j < 16; j++) {
        const q = s[o + 4 + j] ?? 0;
        v[j] = q & 0x0f;
        v[j + 16] = q >>> 4;
      }
    },
  },
  Q5_0: {
    bits: 8,
    bs: 32,
    qk: 32,
    bytes: 22,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      sc[0] = h16(s, o);
      const qh = ((s[o + 2] ?? 0) | ((s[o + 3] ?? 0) << 8) | ((s[o + 4] ?? 0) << 16) | ((s[o + 5] ?? 0) << 24)) >>> 0;
      for (let j = 0; j < 16; j++) {
        const q = s[o + 6 + j] ?? 0;
        v[j] = ((q & 0x0f) | (((qh >>> j) << 4) & 0x10)) - 16;
        v[j + 16] = ((q >>> 4) | ((qh >>> (j + 12)) & 0x10)) - 16;
      }
    },
  },
  Q5_1: {
    bits: 8,
    bs: 32,
    qk: 32,
    bytes: 24,
    hasMin: true,
    center: 16,
    unpack: (s, o, v, sc, mn) => {
      sc[0] = h16(s, o);
      mn[0] = h16(s, o + 2);
      const qh = ((s[o + 4] ?? 0) | ((s[o + 5] ?? 0) << 8) | ((s[o + 6] ?? 0) << 16) | ((s[o + 7] ?? 0) << 24)) >>> 0;
      for (let j = 0; j < 16; j++) {
        const q = s[o + 8 + j] ?? 0;
        v[j] = (q & 0x0f) | (((qh >>> j) << 4) & 0x10);
        v[j + 16] = (q >>> 4) | ((qh >>> (j + 12)) & 0x10);
      }
    },
  },
  Q8_0: {
    bits: 8,
    bs: 32,
    qk: 32,
    bytes: 34,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      sc[0] = h16(s, o);
      for (let j = 0; j < 32; j++) v[j] = i8(s[o + 2 + j] ?? 0);
    },
  },
  Q2_K: {
    bits: 4,
    bs: 16,
    qk: 256,
    bytes: 84,
    hasMin: true,
    unpack: (s, o, v, sc, mn) => {
      const d = h16(s, o + 80);
      const dmin = h16(s, o + 82);
      let q = o + 16;
      let is = 0;
      let y = 0;
      for (let n = 0; n < 256; n += 128) {
        for (let shift = 0; shift < 8; shift += 2) {
          for (let half = 0; half < 32; half += 16) {
            const b = s[o + is] ?? 0;
            sc[is] = fr(d * (b & 0x0f));
            mn[is] = -fr(dmin * (b >>> 4));
            is++;
            for (let l = 0; l < 16; l++) v[y++] = ((s[q + half + l] ?? 0) >>> shift) & 3;
          }
        }
        q += 32;
      }
    },
  },
  Q3_K: {
    bits: 4,
    bs: 16,
    qk: 256,
    bytes: 110,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      const dAll = h16(s, o + 108);
      const b = o + 96;
      for (let j = 0; j < 16; j++) {
        const low = j < 8 ? (s[b + j] ?? 0) & 0x0f : (s[b + j - 8] ?? 0) >>> 4;
        const high = ((s[b + 8 + (j % 4)] ?? 0) >>> (2 * (j >>> 2))) & 3;
        sc[j] = fr(dAll * ((low | (high << 4)) - 32));
      }
      let q = o + 32;
      let m = 1;
      let y = 0;
      for (let n = 0; n < 256; n += 128) {
        for (let shift = 0; shift < 8; shift += 2) {
          for (let half = 0; half < 32; half += 16) {
            for (let l = 0; l < 16; l++) v[y++] = (((s[q + half + l] ?? 0) >>> shift) & 3) - ((s[o + half + l] ?? 0) & m ? 0 : 4);
          }
          m <<= 1;
        }
        q += 32;
      }
    },
  },
  Q4_K: {
    bits: 4,
    bs: 32,
    qk: 256,
    bytes: 144,
    hasMin: true,
    fullRange: true,
    unpack: (s, o, v, sc, mn) => {
      kScalesMins(s, o, sc, mn);
      let q = o + 16;
      let y = 0;
      for (let j = 0; j < 8; j += 2) {
        for (let l = 0; l < 32; l++) v[y + l] = (s[q + l] ?? 0) & 0x0f;
        for (let l = 0; l < 32; l++) v[y + 32 + l] = (s[q + l] ?? 0) >>> 4;
        y += 64;
        q += 32;
      }
    },
  },
  Q5_K: {
    bits: 8,
    bs: 32,
    qk: 256,
    bytes: 176,
    hasMin: true,
    center: 16,
    unpack: (s, o, v, sc, mn) => {
      kScalesMins(s, o, sc, mn);
      const qh = o + 16;
      let ql = o + 48;
      let u1 = 1;
      let u2 = 2;
      let y = 0;
      for (let j = 0; j < 8; j += 2) {
        for (let l = 0; l < 32; l++) v[y + l] = ((s[ql + l] ?? 0) & 0x0f) + ((s[qh + l] ?? 0) & u1 ? 16 : 0);
        for (let l = 0; l < 32; l++) v[y + 32 + l] = ((s[ql + l] ?? 0) >>> 4) + ((s[qh + l] ?? 0) & u2 ? 16 : 0);
        y += 64;
        ql += 32;
        u1 <<= 2;
        u2 <<= 2;
      }
    },
  },
  Q6_K: {
    bits: 8,
    bs: 16,
    qk: 256,
    bytes: 210,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      const d = h16(s, o + 208);
      for (let j = 0; j < 16; j++) sc[j] = fr(d * i8(s[o + 192 + j] ?? 0));
      let ql = o;
      let qh = o + 128;
      let y = 0;
      for (let n = 0; n < 256; n += 128) {
        for (let l = 0; l < 32; l++) {
          const a = s[ql + l] ?? 0;
          const b = s[ql + l + 32] ?? 0;
          const h = s[qh + l] ?? 0;
          v[y + l] = ((a & 0x0f) | ((h & 3) << 4)) - 32;
          v[y + l + 32] = ((b & 0x0f) | (((h >>> 2) & 3) << 4)) - 32;
          v[y + l + 64] = ((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
          v[y + l + 96] = ((b >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
        }
        // ggml scales element l + 32k of a half by sc[l/16 + 2k]: that is the element's 16-wide
        // sub-block within the half, so sc[j] already follows element order.
        y += 128;
        ql += 64;
        qh += 32;
      }
    },
  },
  Q8_K: {
    bits: 8,
    bs: 256,
    qk: 256,
    bytes: 292,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      sc[0] = new DataView(s.buffer, s.byteOffset + o, 4).getFloat32(0, true);
      for (let j = 0; j < 256; j++) v[j] = i8(s[o + 4 + j] ?? 0);
    },
  },
  IQ4_NL: {
    bits: 8,
    bs: 32,
    qk: 32,
    bytes: 18,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      sc[0] = h16(s, o);
      for (let j = 0; j < 16; j++) {
        const q = s[o + 2 + j] ?? 0;
        v[j] = KVALUES_IQ4NL[q & 0x0f] ?? 0;
        v[j + 16] = KVALUES_IQ4NL[q >>> 4] ?? 0;
      }
    },
  },
  IQ4_XS: {
    bits: 8,
    bs: 32,
    qk: 256,
    bytes: 136,
    hasMin: false,
    unpack: (s, o, v, sc) => {
      const d = h16(s, o);
      const scalesH = (s[o + 2] ?? 0) | ((s[o + 3] ?? 0) << 8);
      let qs = o + 8;
      for (let ib = 0; ib < 8; ib++) {
        const ls = (((s[o + 4 + (ib >>> 1)] ?? 0) >>> (4 * (ib % 2))) & 0x0f) | (((scalesH >>> (2 * ib)) & 3) << 4);
        sc[ib] = fr(d * (ls - 32));
        for (let j = 0; j < 16; j++) {
          const q = s[qs + j] ?? 0;
          v[ib * 32 + j] = KVALUES_IQ4NL[q & 0x0f] ?? 0;
          v[ib * 32 + j + 16] = KVALUES_IQ4NL[q >>> 4] ?? 0;
        }
        qs += 16;
      }
    },
  },
};

/** ggml type names the graph keeps in block form (the rest are dequantised or held as float). */
export const NBITS_TYPES: readonly string[] = Object.keys(LAYOUTS);

/** Whether a ggml type maps onto the quantised kernels. */
export const isNBitsType = (typeName: string): boolean => typeName in LAYOUTS;

/** Bytes the block form of an [N, K] weight of `typeName` takes in the graph (codes + scales + min term). */
export function nbitsBytes(typeName: string, N: number, K: number): number {
  const L = LAYOUTS[typeName];
  if (!L) throw new RangeError(`${typeName} has no block form`);
  const blocks = (N * K) / L.bs;
  return (N * K * L.bits) / 8 + 4 * blocks + (L.hasMin ? 4 * blocks : 0);
}

/**
 * Converts the raw ggml data of an [N, K] weight (N rows of K/qk blocks, as
 * GGUF stores a tensor with dims [K, N]) to the kernels' block form.
 */
export function toNBits(typeName: string, raw: Uint8Array, N: number, K: number): NBitsWeight {
  const L = LAYOUTS[typeName];
  const type = ggmlTypeByName(typeName);
  if (!L || !type) throw new RangeError(`ggml type ${typeName} has no block form; types with one: ${NBITS_TYPES.join(', ')}`);
  if (K % L.qk !== 0) throw new RangeError(`${typeName} weight rows of ${K} values are not whole ${L.qk}-element blocks`);
  const blocksPerRow = K / L.qk;
  if (raw.byteLength !== N * blocksPerRow * L.bytes)
    throw new RangeError(`${typeName} [${N}, ${K}] needs ${N * blocksPerRow * L.bytes} bytes, got ${raw.byteLength}`);
  const Z = 1 << (L.bits - 1);
  const sub = L.qk / L.bs; // kernel blocks per ggml block
  const kb = K / L.bs; // kernel blocks per row
  const codes = new Uint8Array((N * K * L.bits) / 8);
  const scales = new Float32Array(N * kb);
  const mins = L.hasMin ? new Float32Array(N * kb) : undefined;
  const v = new Int16Array(L.qk);
  const sc = new Float32Array(Math.max(sub, 16));
  const mn = new Float32Array(Math.max(sub, 16));
  // Values 0…2^bits−1 (Q4_1, Q4_K) cannot shift by Z into range: they keep code = v and fold
  // Z·scale into the minimum (which centres them); a centred type takes code = v − center + Z;
  // every other type code = v + Z (in range; checked per value).
  const shift = L.fullRange ? 0 : Z - (L.center ?? 0);
  const max = (1 << L.bits) - 1;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocksPerRow; b++, o += L.bytes) {
      L.unpack(raw, o, v, sc, mn);
      const k0 = b * L.qk;
      for (let j = 0; j < sub; j++) {
        const blk = n * kb + b * sub + j;
        const scale = sc[j] ?? 0;
        scales[blk] = scale;
        // W = scale·v + min = scale·(code − Z) + min + scale·(Z − shift).
        if (mins) mins[blk] = fr((mn[j] ?? 0) + scale * (Z - shift));
      }
      if (L.bits === 8) {
        const base = n * K + k0;
        for (let i = 0; i < L.qk; i++) {
          const c = (v[i] ?? 0) + shift;
          if (c < 0 || c > max) throw new RangeError(`${typeName}: value ${v[i]} does not fit an 8-bit code`);
          codes[base + i] = c;
        }
      } else {
        const base = (n * K + k0) / 2;
        for (let i = 0; i < L.qk; i += 2) {
          const c0 = (v[i] ?? 0) + shift;
          const c1 = (v[i + 1] ?? 0) + shift;
          if (c0 < 0 || c0 > max || c1 < 0 || c1 > max) throw new RangeError(`${typeName}: value does not fit a 4-bit code`);
          codes[base + i / 2] = c0 | (c1 << 4);
        }
      }
    }
  }
  return { N, K, bits: L.bits, blockSize: L.bs, codes, scales, ...(mins ? { mins } : {}) };
}

/** The weights the kernels compute with, W = scale·(code − Z) + min' (float32, [N, K]): for tests against ggml's dequantiser. */
export function nbitsToFloat(w: NBitsWeight): Float32Array {
  const { N, K, bits, blockSize: bs, codes, scales, mins } = w;
  const Z = 1 << (bits - 1);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const i = n * K + k;
      const c = bits === 8 ? (codes[i] ?? 0) : ((codes[i >>> 1] ?? 0) >>> (4 * (i & 1))) & 0x0f;
      const blk = n * (K / bs) + Math.floor(k / bs);
      out[i] = fr(fr((scales[blk] ?? 0) * (c - Z)) + (mins?.[blk] ?? 0));
    }
  return out;
}
