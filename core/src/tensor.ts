/**
 * A small typed tensor: dims + a flat, row-major typed array.
 *
 * Modelled on onnxruntime's `Tensor.DataTypeMap` / `TypedTensor<T>` so the
 * engine can hand ORT outputs to core without copies. Float16 is stored as raw
 * IEEE-754 half bits in a Uint16Array because Node 20 has no Float16Array;
 * `f16ToF32` / `f32ToF16` convert (hand-written: ~20 lines, and no maintained
 * package covers just the conversion without polyfilling globals).
 *
 * Layout conventions used across core (all row-major, last index fastest):
 *   keys / values           [kvHeads, seqLen, headDim]
 *   attention statistics    [queryHeads, seqLen]
 *   scores                  [kvHeads, seqLen]
 */
import { ShapeError } from './errors.ts';

export interface DTypeMap {
  float32: Float32Array;
  float16: Uint16Array;
  int32: Int32Array;
  uint8: Uint8Array;
}
export type DType = keyof DTypeMap;

/** Bytes per element, as stored in a KV cache or a tensor. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { float32: 4, float16: 2, int32: 4, uint8: 1 };

export interface Tensor<T extends DType = DType> {
  readonly dtype: T;
  readonly dims: readonly number[];
  readonly data: DTypeMap[T];
}

const CTORS: { [K in DType]: new (n: number) => DTypeMap[K] } = {
  float32: Float32Array,
  float16: Uint16Array,
  int32: Int32Array,
  uint8: Uint8Array,
};

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError('dims', `every dim must be a non-negative integer, got [${dims.join(', ')}]`);
    n *= d;
  }
  return n;
}

/** Creates a tensor, zero-filled when `data` is omitted; checks the element count. */
export function tensor<T extends DType>(dtype: T, dims: readonly number[], data?: DTypeMap[T]): Tensor<T> {
  const n = sizeOf(dims);
  const d = data ?? new CTORS[dtype](n);
  if (d.length !== n) throw new ShapeError('tensor', `dims [${dims.join(', ')}] need ${n} elements, data has ${d.length}`);
  return { dtype, dims: [...dims], data: d };
}

export function f32(dims: readonly number[], data?: Float32Array | readonly number[]): Tensor<'float32'> {
  return tensor('float32', dims, data === undefined ? undefined : data instanceof Float32Array ? data : Float32Array.from(data));
}

/** Throws a ShapeError unless `t` has exactly `dims` (use -1 for "any"). */
export function expectDims(what: string, t: Tensor, dims: readonly number[]): void {
  const ok = t.dims.length === dims.length && dims.every((d, i) => d === -1 || t.dims[i] === d);
  if (!ok) throw new ShapeError(what, `expected dims [${dims.join(', ')}], got [${t.dims.join(', ')}]`);
}

/** A view (no copy) of row `i` of a 2-D tensor [rows, cols]. */
export function row(t: Tensor<'float32'>, i: number): Float32Array {
  const cols = t.dims[t.dims.length - 1] ?? 0;
  return t.data.subarray(i * cols, (i + 1) * cols);
}

/** Throws a ShapeError if any element is NaN (±Infinity is allowed: it means "always"/"never" keep). */
export function assertNoNaN(what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (Number.isNaN(data[i])) throw new ShapeError(what, `element ${i} is NaN`);
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE-754 binary16 bits → number. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** number → IEEE-754 binary16 bits, round-to-nearest-even. */
export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

export function toFloat16(t: Tensor<'float32'>): Tensor<'float16'> {
  const out = new Uint16Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f32ToF16(t.data[i] ?? 0);
  return tensor('float16', t.dims, out);
}

export function toFloat32(t: Tensor<'float16'>): Tensor<'float32'> {
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f16ToF32(t.data[i] ?? 0);
  return tensor('float32', t.dims, out);
}
