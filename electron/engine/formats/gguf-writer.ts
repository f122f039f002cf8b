/**
 * GGUF v3 writer, for tests and for the engine benchmark's random-weight
 * models. Streams to disk: the header is built in memory, then each tensor is
 * quantised and written in turn (a tensor's `data` may be a function, so a
 * multi-GB model never has to sit in memory at once). Layout as llama.cpp's
 * gguf writer: tensors in the order given, each offset aligned, each tensor's
 * data padded with zeros to the alignment (so the file ends aligned).
 *
 * Metadata is a list of [key, type, value] with explicit GGUF value types
 * (what llama.cpp expects, e.g. 'float32' for rope.freq_base, 'int32[]' for
 * token_type), or a plain map whose types are inferred (see `inferType`).
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { fp32ToBf16, fp32ToFp16, ggmlTypeByName, quantizeQ4_0, quantizeQ8_0 } from './dequant.ts';
import { GGUF_TYPE, type GgufValue } from './gguf.ts';

export type GgufScalarTypeName = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'bool' | 'string' | 'uint64' | 'int64' | 'float64';
/** A scalar type, or an array of one ('string[]', 'float32[]'). Nested arrays: use the inferred map form. */
export type GgufTypeName = GgufScalarTypeName | `${GgufScalarTypeName}[]`;

export type GgufMetadataEntry = readonly [key: string, type: GgufTypeName, value: GgufValue];

export type GgufWriteTensorType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0';

export type GgufWriteTensor =
  | {
      readonly name: string;
      /** GGUF order, fastest-varying first (a row-major out × in matrix is [in, out]). */
      readonly dims: readonly number[];
      readonly type: GgufWriteTensorType;
      /** Row-major values, or a function producing them when the tensor is written. */
      readonly data: Float32Array | (() => Float32Array);
    }
  | {
      readonly name: string;
      readonly dims: readonly number[];
      /** Any ggml type name ('Q4_K', 'IQ2_XXS'): the bytes are written as given. */
      readonly type: string;
      /** The stored bytes, or a function producing them when the tensor is written. */
      readonly raw: Uint8Array | (() => Uint8Array);
    };

export interface GgufWriteSpec {
  readonly metadata: readonly GgufMetadataEntry[] | ReadonlyMap<string, GgufValue> | Readonly<Record<string, GgufValue>>;
  readonly tensors: readonly GgufWriteTensor[];
  /** Default 32; any other value is recorded as `general.alignment`. */
  readonly alignment?: number;
  /** Default 3. Version 2 has the same layout (for tests of the reader). */
  readonly version?: 2 | 3;
}

const TYPE_ID: Readonly<Record<GgufScalarTypeName, number>> = {
  uint8: GGUF_TYPE.UINT8,
  int8: GGUF_TYPE.INT8,
  uint16: GGUF_TYPE.UINT16,
  int16: GGUF_TYPE.INT16,
  uint32: GGUF_TYPE.UINT32,
  int32: GGUF_TYPE.INT32,
  float32: GGUF_TYPE.FLOAT32,
  bool: GGUF_TYPE.BOOL,
  string: GGUF_TYPE.STRING,
  uint64: GGUF_TYPE.UINT64,
  int64: GGUF_TYPE.INT64,
  float64: GGUF_TYPE.FLOAT64,
};

/**
 * Type inference for the map form: strings → string, booleans → bool,
 * integers → uint32 (≥ 0) / int32, beyond 32 bits → uint64 / int64, other
 * numbers → float32, bigint → uint64 / int64, arrays → array of the first
 * element's kind (a number array with any non-integer is float32[], any
 * negative int32[], else uint32[]… as for scalars). Empty arrays are int32[].
 */
export function inferType(v: GgufValue): GgufTypeName | 'array' {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return v < 0n ? 'int64' : 'uint64';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return 'float32';
    if (v >= 0) return v <= 0xffffffff ? 'uint32' : 'uint64';
    return v >= -0x80000000 ? 'int32' : 'int64';
  }
  if (v.length === 0) return 'int32[]';
  if (v.every((x) => typeof x === 'string')) return 'string[]';
  if (v.every((x) => typeof x === 'boolean')) return 'bool[]';
  if (v.every((x) => typeof x === 'number')) {
    const nums = v as number[];
    if (nums.some((x) => !Number.isInteger(x))) return 'float32[]';
    const min = Math.min(...nums);
    const max = Math.max(...nums);
    if (min < 0) return min >= -0x80000000 && max <= 0x7fffffff ? 'int32[]' : 'int64[]';
    return max <= 0xffffffff ? 'uint32[]' : 'uint64[]';
  }
  return 'array';
}

/** Growable little-endian byte builder for the header. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private grow(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  /** Reserves n bytes, THEN writes through the (possibly regrown) buffer: `this.buf.write(v, this.grow(n))` would write into the old buffer. */
  private put(n: number, write: (at: number) => unknown): void {
    const at = this.grow(n);
    write(at);
  }
  u8(v: number): void {
    this.put(1, (at) => this.buf.writeUInt8(v, at));
  }
  u32(v: number): void {
    this.put(4, (at) => this.buf.writeUInt32LE(v, at));
  }
  u64(v: number | bigint): void {
    this.put(8, (at) => this.buf.writeBigUInt64LE(BigInt(v), at));
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.put(b.length, (at) => b.copy(this.buf, at));
  }
  zeros(n: number): void {
    this.grow(n); // Buffer.alloc memory is zeroed and never reused
  }
  scalar(type: GgufScalarTypeName, v: GgufValue, key: string): void {
    const bad = (): never => {
      throw new TypeError(`GGUF metadata '${key}': ${String(v)} is not a valid ${type}`);
    };
    if (type === 'string') return typeof v === 'string' ? this.string(v) : bad();
    if (type === 'bool') return typeof v === 'boolean' ? this.u8(v ? 1 : 0) : bad();
    if (type === 'uint64' || type === 'int64') {
      if (typeof v !== 'number' && typeof v !== 'bigint') return bad();
      if (typeof v === 'number' && !Number.isSafeInteger(v)) return bad();
      const b = BigInt(v);
      const at = this.grow(8);
      if (type === 'uint64') {
        if (b < 0n || b >= 1n << 64n) bad();
        this.buf.writeBigUInt64LE(b, at);
      } else {
        if (b < -(1n << 63n) || b >= 1n << 63n) bad();
        this.buf.writeBigInt64LE(b, at);
      }
      return;
    }
    if (typeof v !== 'number' || (type !== 'float32' && type !== 'float64' && !Number.isInteger(v))) return bad();
    try {
      switch (type) {
        case 'uint8':
          return void this.put(1, (at) => this.buf.writeUInt8(v, at));
        case 'int8':
          return void this.put(1, (at) => this.buf.writeInt8(v, at));
        case 'uint16':
          return void this.put(2, (at) => this.buf.writeUInt16LE(v, at));
        case 'int16':
          return void this.put(2, (at) => this.buf.writeInt16LE(v, at));
        case 'uint32':
          return void this.put(4, (at) => this.buf.writeUInt32LE(v, at));
        case 'int32':
          return void this.put(4, (at) => this.buf.writeInt32LE(v, at));
        case 'float32':
          return void this.put(4, (at) => this.buf.writeFloatLE(v, at));
        case 'float64':
          return void this.put(8, (at) => this.buf.writeDoubleLE(v, at));
      }
    } catch {
      bad(); // out of range for the type
    }
  }
  /** A value of the map form, with types inferred recursively. */
  inferred(v: GgufValue, key: string): void {
    const t = inferType(v);
    if (t === 'array') {
      const arr = v as GgufValue[];
      this.u32(GGUF_TYPE.ARRAY);
      this.u32(GGUF_TYPE.ARRAY);
      this.u64(arr.length);
      for (const x of arr) this.inferredBody(x, key);
      return;
    }
    this.u32(t.endsWith('[]') ? GGUF_TYPE.ARRAY : TYPE_ID[t as GgufScalarTypeName]);
    this.typed(t, v, key);
  }
  /** Type tag + value, as an element of a nested array. */
  private inferredBody(v: GgufValue, key: string): void {
    if (!Array.isArray(v)) throw new TypeError(`GGUF metadata '${key}': a nested array mixes arrays and scalars`);
    const t = inferType(v);
    if (t === 'array') {
      this.u32(GGUF_TYPE.ARRAY);
      this.u64(v.length);
      for (const x of v) this.inferredBody(x, key);
    } else {
      this.typed(t, v, key);
    }
  }
  /** The value part of a typed entry (no type tag). */
  typed(type: GgufTypeName, v: GgufValue, key: string): void {
    if (type.endsWith('[]')) {
      const elem = type.slice(0, -2) as GgufScalarTypeName;
      if (!Array.isArray(v)) throw new TypeError(`GGUF metadata '${key}': expected an array for ${type}`);
      this.u32(TYPE_ID[elem]);
      this.u64(v.length);
      for (const x of v) this.scalar(elem, x, key);
    } else {
      this.scalar(type as GgufScalarTypeName, v, key);
    }
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

const pad = (n: number, a: number): number => Math.ceil(n / a) * a;

function tensorBytes(t: GgufWriteTensor, count: number, size: number): Uint8Array {
  if ('raw' in t) {
    const raw = typeof t.raw === 'function' ? t.raw() : t.raw;
    if (raw.length !== size) throw new RangeError(`GGUF tensor '${t.name}': ${raw.length} raw bytes, ${t.type} [${t.dims.join(', ')}] needs ${size}`);
    return raw;
  }
  const data = typeof t.data === 'function' ? t.data() : t.data;
  if (data.length !== count) throw new RangeError(`GGUF tensor '${t.name}': ${data.length} values for dims [${t.dims.join(', ')}] (${count})`);
  switch (t.type) {
    case 'F32': {
      if (endianness() === 'LE') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const out = new Uint8Array(count * 4);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < count; i++) dv.setFloat32(4 * i, data[i] ?? 0, true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      const out = new Uint8Array(count * 2);
      const cvt = t.type === 'F16' ? fp32ToFp16 : fp32ToBf16;
      for (let i = 0; i < count; i++) {
        const h = cvt(data[i] ?? 0);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >>> 8;
      }
      return out;
    }
    case 'Q8_0':
      return quantizeQ8_0(data);
    case 'Q4_0':
      return quantizeQ4_0(data);
  }
}

/** A metadata key and the writer of its type tag and value. */
type MetadataWriter = [string, (b: Bytes) => void];

/** Metadata as [key, writer] pairs; general.alignment is added when non-default. */
function metadataWriters(metadata: GgufWriteSpec['metadata'], alignment: number): MetadataWriter[] {
  const entries: MetadataWriter[] = [];
  const keys = new Set<string>();
  const addKey = (k: string): void => {
    if (keys.has(k)) throw new RangeError(`GGUF metadata key '${k}' given twice`);
    keys.add(k);
  };
  if (Array.isArray(metadata)) {
    for (const [k, type, v] of metadata as readonly GgufMetadataEntry[]) {
      addKey(k);
      const base = type.endsWith('[]') ? type.slice(0, -2) : type;
      if (!(base in TYPE_ID)) throw new TypeError(`GGUF metadata '${k}': unknown type '${type}'`);
      entries.push([
        k,
        (b) => {
          b.u32(type.endsWith('[]') ? GGUF_TYPE.ARRAY : TYPE_ID[type as GgufScalarTypeName]);
          b.typed(type, v, k);
        },
      ]);
    }
  } else {
    const map = metadata instanceof Map ? (metadata as ReadonlyMap<string, GgufValue>) : new Map(Object.entries(metadata as Record<string, GgufValue>));
    for (const [k, v] of map) {
      addKey(k);
      entries.push([k, (b) => b.inferred(v, k)]);
    }
  }
  if (alignment !== 32 && !keys.has('general.alignment')) {
    addKey('general.alignment');
    entries.push(['general.alignment', (b) => (b.u32(GGUF_TYPE.UINT32), b.u32(alignment))]);
  }
  return entries;
}

/** Each tensor's element count and stored byte size, in the order written. */
interface TensorLayout {
  readonly counts: number[];
  readonly byteSizes: number[];
}

/** Appends the tensor infos to `h` (offsets padded to `alignment`), checking names, types and sizes. */
function writeTensorInfos(h: Bytes, tensors: readonly GgufWriteTensor[], alignment: number): TensorLayout {
  const names = new Set<string>();
  const layout: TensorLayout = { counts: [], byteSizes: [] };
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new RangeError(`GGUF tensor '${t.name}' given twice`);
    names.add(t.name);
    const type = ggmlTypeByName(t.type);
    if (!type) throw new RangeError(`GGUF tensor '${t.name}': unknown ggml type '${t.type}'`);
    if (t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new RangeError(`GGUF tensor '${t.name}': invalid dims [${t.dims.join(', ')}]`);
    const count = t.dims.reduce((a, b) => a * b, 1);
    if ((t.dims[0] ?? 1) % type.blockSize !== 0)
      throw new RangeError(`GGUF tensor '${t.name}': ${t.dims[0] ?? 1} values per row is not a multiple of the ${type.name} block size ${type.blockSize}`);
    const size = (count / type.blockSize) * type.typeSize;
    if ('raw' in t && typeof t.raw !== 'function' && t.raw.length !== size)
      throw new RangeError(`GGUF tensor '${t.name}': ${t.raw.length} raw bytes, ${type.name} [${t.dims.join(', ')}] needs ${size}`);
    h.string(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(type.id);
    h.u64(offset);
    layout.counts.push(count);
    layout.byteSizes.push(size);
    offset += pad(size, alignment);
  }
  return layout;
}

/** Writes a GGUF v3 (or v2) file. Throws TypeError/RangeError on an invalid spec. */
export function writeGguf(path: string, spec: GgufWriteSpec): void {
  const alignment = spec.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    throw new RangeError(`GGUF alignment must be a power of two, got ${alignment}`);
  const entries = metadataWriters(spec.metadata, alignment);

  const h = new Bytes();
  h.u32(0x46554747);
  h.u32(spec.version ?? 3);
  h.u64(spec.tensors.length);
  h.u64(entries.length);
  for (const [k, write] of entries) {
    h.string(k);
    write(h);
  }
  const layout = writeTensorInfos(h, spec.tensors, alignment);
  h.zeros(pad(h.length, alignment) - h.length);

  const fd = openSync(path, 'w');
  try {
    const header = h.bytes();
    writeAll(fd, header);
    const zeros = new Uint8Array(alignment);
    spec.tensors.forEach((t, i) => {
      const bytes = tensorBytes(t, layout.counts[i] ?? 0, layout.byteSizes[i] ?? 0);
      writeAll(fd, bytes);
      const p = pad(bytes.length, alignment) - bytes.length;
      if (p) writeAll(fd, zeros.subarray(0, p));
    });
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) done += writeSync(fd, b, done, Math.min(b.length - done, 1 << 30));
}
