/**
 * GGUF reader (versions 2 and 3), after the format as ggml documents it
 * (docs/gguf.md in the ggml repository):
 *
 *   u32 magic "GGUF" · u32 version · u64 n_tensors · u64 n_kv
 *   n_kv × { string key · u32 value_type · value }
 *   n_tensors × { string name · u32 n_dims · u64 dims[n_dims] (fastest first) · u32 ggml_type · u64 offset }
 *   padding to `general.alignment` (default 32) · tensor data (each offset relative to here, aligned)
 *
 * string = u64 length + UTF-8 bytes (no NUL); array = u32 element type + u64 count + elements.
 *
 * The header is read incrementally through a small buffer with positioned
 * reads, and tensors on demand, so a multi-GB file is never read whole. Every
 * count and length is checked against the bytes left in the file before
 * anything is allocated, so a corrupt or hostile file gives a ModelFileError
 * naming the file and the problem — never a RangeError, a hang or an
 * out-of-memory crash.
 */

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { ModelFileError } from '../model.ts';
import { dequantize, ggmlType, SUPPORTED_TYPE_NAMES } from './dequant.ts';

export type GgufValue = number | bigint | string | boolean | GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** GGUF order, fastest-varying first: a matrix [in, out] is row-major out × in. */
  readonly dims: readonly number[];
  /** ggml type id. */
  readonly type: number;
  /** ggml type name ('F32', 'Q4_K'). */
  readonly typeName: string;
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly path: string;
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

/** GGUF metadata value types (ggml's `gguf_metadata_value_type`). */
export const GGUF_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

const SCALAR_SIZE: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8];
const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_ARRAY_DEPTH = 8;
const CHUNK = 1 << 20;

/** A key or tensor name for an error message: quoted, control characters escaped, long names shortened. */
export function quoteName(s: string): string {
  const t = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  // eslint-disable-next-line no-control-regex
  return `'${t.replace(/[\x00-\x1f\x7f-\x9f\ufffd]/g, (c) => (c === '\ufffd' ? '\\ufffd' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}'`;
}

function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'file not found';
  if (err.code === 'EISDIR') return 'is a directory, not a file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return `cannot read: ${err.message}`;
}

/** Opens `path` for reading; fs failures become ModelFileErrors. */
export function openModelFile(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ModelFileError(path, describeFsError(e));
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ModelFileError(path, 'is a directory, not a file');
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(path, describeFsError(e));
  }
}

/** Reads exactly `length` bytes at `position` (looping over short reads, in ≤1 GiB pieces); a premature EOF is a ModelFileError. */
export function readFully(path: string, fd: number, target: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, target, done, Math.min(length - done, 1 << 30), position + done);
    } catch (e) {
      throw new ModelFileError(path, describeFsError(e));
    }
    if (n <= 0) throw new ModelFileError(path, `truncated: file ends at byte ${position + done}, expected ${length - done} more bytes`);
    done += n;
  }
}

/** Buffered little-endian cursor over the header. */
class Cursor {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  private bufLen = 0;

  constructor(
    private readonly path: string,
    private readonly fd: number,
    readonly size: number,
  ) {}

  fail(problem: string): never {
    throw new ModelFileError(this.path, problem);
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Makes bytes [pos, pos + n) available in `buf`; returns their index in it. */
  private need(n: number, what: string): number {
    if (n > this.size - this.pos) this.fail(`truncated: ${what} at byte ${this.pos} needs ${n} bytes, but the file ends at byte ${this.size}`);
    let at = this.pos - this.bufStart;
    if (at < 0 || at + n > this.bufLen) {
      const len = Math.min(Math.max(CHUNK, n), this.size - this.pos);
      if (this.buf.length < len || this.buf.length > 2 * Math.max(CHUNK, n)) this.buf = Buffer.alloc(len);
      readFully(this.path, this.fd, this.buf, len, this.pos);
      this.bufStart = this.pos;
      this.bufLen = len;
      at = 0;
    }
    this.pos += n;
    return at;
  }

  // `need` may replace `buf`, so it is always called before `buf` is read.
  u8(what: string): number {
    const at = this.need(1, what);
    return this.buf[at] ?? 0;
  }
  u32(what: string): number {
    const at = this.need(4, what);
    return this.buf.readUInt32LE(at);
  }
  /** A u64 that must fit in a JS number (counts, lengths, offsets, dims). */
  u64(what: string): number {
    const at = this.need(8, what);
    const lo = this.buf.readUInt32LE(at);
    const hi = this.buf.readUInt32LE(at + 4);
    const v = hi * 4294967296 + lo;
    if (!Number.isSafeInteger(v)) this.fail(`${what} at byte ${this.pos - 8} is ${(BigInt(hi) << 32n) | BigInt(lo)}, which no file can hold`);
    return v;
  }
  /** A u64/i64 metadata value: number when exact, else bigint. */
  int64(signed: boolean, what: string): number | bigint {
    const at = this.need(8, what);
    const lo = this.buf.readUInt32LE(at);
    const hi = signed ? this.buf.readInt32LE(at + 4) : this.buf.readUInt32LE(at + 4);
    const v = hi * 4294967296 + lo;
    return Number.isSafeInteger(v) ? v : signed ? this.buf.readBigInt64LE(at) : this.buf.readBigUInt64LE(at);
  }
  string(what: string): string {
    const len = this.u64(`length of ${what}`);
    if (len > this.remaining) this.fail(`${what}: string length ${len} at byte ${this.pos - 8} exceeds the ${this.remaining} bytes left in the file`);
    const at = this.need(len, what);
    return this.buf.toString('utf8', at, at + len);
  }
  /** Bytes [pos, pos+n) for bulk reads of numeric arrays. */
  bytes(n: number, what: string): { buf: Buffer; at: number } {
    const at = this.need(n, what);
    return { buf: this.buf, at };
  }
}

function readScalar(c: Cursor, type: number, what: string): GgufValue {
  switch (type) {
    case GGUF_TYPE.UINT8:
      return c.u8(what);
    case GGUF_TYPE.INT8:
      return (c.u8(what) << 24) >> 24;
    case GGUF_TYPE.UINT16: {
      const { buf, at } = c.bytes(2, what);
      return buf.readUInt16LE(at);
    }
    case GGUF_TYPE.INT16: {
      const { buf, at } = c.bytes(2, what);
      return buf.readInt16LE(at);
    }
    case GGUF_TYPE.UINT32:
      return c.u32(what);
    case GGUF_TYPE.INT32: {
      const { buf, at } = c.bytes(4, what);
      return buf.readInt32LE(at);
    }
    case GGUF_TYPE.FLOAT32: {
      const { buf, at } = c.bytes(4, what);
      return buf.readFloatLE(at);
    }
    case GGUF_TYPE.BOOL:
      return c.u8(what) !== 0;
    case GGUF_TYPE.STRING:
      return c.string(what);
    case GGUF_TYPE.UINT64:
      return c.int64(false, what);
    case GGUF_TYPE.INT64:
      return c.int64(true, what);
    case GGUF_TYPE.FLOAT64: {
      const { buf, at } = c.bytes(8, what);
      return buf.readDoubleLE(at);
    }
    default:
      return c.fail(`${what} has unknown value type ${type} (at byte ${c.pos - 4}; GGUF defines 0–12)`);
  }
}

function readValue(c: Cursor, type: number, what: string, depth: number): GgufValue {
  if (type !== GGUF_TYPE.ARRAY) return readScalar(c, type, what);
  if (depth >= MAX_ARRAY_DEPTH) c.fail(`${what}: arrays nested more than ${MAX_ARRAY_DEPTH} deep`);
  const elemType = c.u32(`element type of ${what}`);
  if (elemType > GGUF_TYPE.FLOAT64) c.fail(`${what} has unknown array element type ${elemType} (at byte ${c.pos - 4}; GGUF defines 0–12)`);
  const n = c.u64(`length of ${what}`);
  const minSize = elemType === GGUF_TYPE.STRING ? 8 : elemType === GGUF_TYPE.ARRAY ? 12 : (SCALAR_SIZE[elemType] ?? 1);
  if (n * minSize > c.remaining)
    c.fail(`${what}: array of ${n} elements at byte ${c.pos - 8} needs at least ${n * minSize} bytes, but only ${c.remaining} are left in the file`);
  const out: GgufValue[] = new Array<GgufValue>(n);
  const size = SCALAR_SIZE[elemType] ?? -1;
  if (size > 0 && elemType !== GGUF_TYPE.BOOL && elemType !== GGUF_TYPE.UINT64 && elemType !== GGUF_TYPE.INT64) {
    // Bulk path for numeric arrays (tokenizer scores, token types).
    const { buf, at } = c.bytes(n * size, what);
    for (let i = 0; i < n; i++) {
      const p = at + i * size;
      switch (elemType) {
        case GGUF_TYPE.UINT8:
          out[i] = buf[p] ?? 0;
          break;
        case GGUF_TYPE.INT8:
          out[i] = buf.readInt8(p);
          break;
        case GGUF_TYPE.UINT16:
          out[i] = buf.readUInt16LE(p);
          break;
        case GGUF_TYPE.INT16:
          out[i] = buf.readInt16LE(p);
          break;
        case GGUF_TYPE.UINT32:
          out[i] = buf.readUInt32LE(p);
          break;
        case GGUF_TYPE.INT32:
          out[i] = buf.readInt32LE(p);
          break;
        case GGUF_TYPE.FLOAT32:
          out[i] = buf.readFloatLE(p);
          break;
        default:
          out[i] = buf.readDoubleLE(p);
      }
    }
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = readValue(c, elemType, `${what}[${i}]`, depth + 1);
  return out;
}

function looksLegacyGgml(magic: Buffer): string | undefined {
  const s = magic.toString('latin1');
  for (const m of ['ggml', 'ggmf', 'ggjt', 'ggla']) if (s === m || s === [...m].reverse().join('')) return m;
  return undefined;
}

/** Checks the magic and returns the version (2 or 3). */
function readVersion(c: Cursor): number {
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(magic);
    const legacy = looksLegacyGgml(bytes);
    if (legacy) c.fail(`legacy '${legacy}' GGML file, not GGUF: convert it with a current llama.cpp`);
    const printable = /^[\x20-\x7e]{4}$/.test(bytes.toString('latin1')) ? ` '${bytes.toString('latin1')}'` : '';
    c.fail(`not a GGUF file: magic is 0x${bytes.toString('hex')}${printable}, expected 'GGUF'`);
  }
  const version = c.u32('version');
  if (version === 1) c.fail('GGUF version 1 is not supported (KV Lab reads versions 2 and 3): convert it with a current llama.cpp');
  if (version === 0x02000000 || version === 0x03000000) c.fail(`big-endian GGUF (version bytes ${version.toString(16)}) is not supported`);
  if (version !== 2 && version !== 3) c.fail(`unsupported GGUF version ${version} (KV Lab reads versions 2 and 3)`);
  return version;
}

/** The tensor and metadata counts, checked against the bytes left. */
function readCounts(c: Cursor): { nTensors: number; nKv: number } {
  const nTensors = c.u64('tensor count');
  const nKv = c.u64('metadata count');
  // Smallest possible entries: a KV is key length (8) + type (4) + 1 byte; a tensor info is name length (8) + n_dims (4) + type (4) + offset (8).
  if (nKv * 13 > c.remaining)
    c.fail(`truncated or corrupt: header claims ${nKv} metadata entries, but only ${c.remaining} bytes follow (at least ${nKv * 13} needed)`);
  if (nTensors * 24 > c.remaining)
    c.fail(`truncated or corrupt: header claims ${nTensors} tensors, but only ${c.remaining} bytes follow (at least ${nTensors * 24} needed)`);
  return { nTensors, nKv };
}

function readMetadata(c: Cursor, nKv: number): Map<string, GgufValue> {
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key #${i}`);
    if (metadata.has(key)) c.fail(`duplicate metadata key ${quoteName(key)}`);
    const type = c.u32(`type of metadata ${quoteName(key)}`);
    if (type > GGUF_TYPE.FLOAT64) c.fail(`metadata ${quoteName(key)} has unknown value type ${type} (at byte ${c.pos - 4}; GGUF defines 0–12)`);
    metadata.set(key, readValue(c, type, `metadata ${quoteName(key)}`, 0));
  }
  return metadata;
}

/** general.alignment (a power of two), else the default. */
function alignmentOf(c: Cursor, metadata: ReadonlyMap<string, GgufValue>): number {
  const al = metadata.get('general.alignment');
  if (al === undefined) return DEFAULT_ALIGNMENT;
  if (typeof al !== 'number' || !Number.isInteger(al) || al <= 0 || (al & (al - 1)) !== 0 || al > 1 << 30) {
    c.fail(`general.alignment is ${String(al)}, expected a power of two`);
  }
  return al as number;
}

/** A tensor info as stored: its offset `rel` is relative to the data section. */
interface RawTensorInfo {
  readonly name: string;
  readonly dims: number[];
  readonly type: number;
  readonly typeName: string;
  readonly rel: number;
  readonly byteLength: number;
}

function readDims(c: Cursor, name: string): { dims: number[]; count: number } {
  const nDims = c.u32(`dimension count of tensor ${quoteName(name)}`);
  if (nDims > MAX_DIMS) c.fail(`tensor ${quoteName(name)} has ${nDims} dimensions (ggml allows at most ${MAX_DIMS})`);
  const dims: number[] = [];
  let count = 1;
  for (let k = 0; k < nDims; k++) {
    const d = c.u64(`dimension ${k} of tensor ${quoteName(name)}`);
    dims.push(d);
    count *= d;
    if (!Number.isSafeInteger(count)) c.fail(`tensor ${quoteName(name)} has dims [${dims.join(', ')}…]: too many elements`);
  }
  return { dims, count };
}

/** Tensor info #i: a new name, its dims, a known type whose blocks tile its rows, an aligned offset. */
function readTensorInfo(c: Cursor, i: number, names: Set<string>, alignment: number): RawTensorInfo {
  const name = c.string(`name of tensor #${i}`);
  if (names.has(name)) c.fail(`duplicate tensor name ${quoteName(name)}`);
  names.add(name);
  const { dims, count } = readDims(c, name);
  const typeId = c.u32(`type of tensor ${quoteName(name)}`);
  const type = ggmlType(typeId);
  if (!type) c.fail(`tensor ${quoteName(name)} has unknown ggml type ${typeId}; KV Lab can read: ${SUPPORTED_TYPE_NAMES.join(', ')}`);
  const rel = c.u64(`data offset of tensor ${quoteName(name)}`);
  const ne0 = dims[0] ?? 1;
  if (ne0 % type.blockSize !== 0)
    c.fail(`tensor ${quoteName(name)} has ${ne0} values per row, not a multiple of the ${type.name} block size ${type.blockSize}`);
  const byteLength = (count / type.blockSize) * type.typeSize;
  const size = c.size;
  if (!Number.isSafeInteger(byteLength) || byteLength > size)
    c.fail(`tensor ${quoteName(name)} [${dims.join(', ')}] ${type.name} needs ${byteLength} bytes, more than the whole file (${size} bytes)`);
  if (rel % alignment !== 0) c.fail(`tensor ${quoteName(name)} data offset ${rel} is not a multiple of the alignment ${alignment}`);
  return { name, dims, type: typeId, typeName: type.name, rel, byteLength };
}

/**
 * Reads a GGUF file's header, metadata and tensor table (no tensor data).
 * Throws ModelFileError for anything that is not a well-formed GGUF v2/v3 file
 * whose tensors all lie inside it.
 */
export function readGgufHeader(path: string): GgufFile {
  const { fd, size } = openModelFile(path);
  try {
    if (size < 4) throw new ModelFileError(path, `too short to be a GGUF file (${size} bytes)`);
    const c: Cursor = new Cursor(path, fd, size);
    const version = readVersion(c);
    const { nTensors, nKv } = readCounts(c);
    const metadata = readMetadata(c, nKv);
    const alignment = alignmentOf(c, metadata);
    const raw: RawTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) raw.push(readTensorInfo(c, i, names, alignment));
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors: GgufTensorInfo[] = raw.map((t) => {
      const offset = dataOffset + t.rel;
      if (offset + t.byteLength > size) c.fail(`tensor ${quoteName(t.name)} data [${offset}, ${offset + t.byteLength}) lies outside the file (${size} bytes)`);
      return Object.freeze({ name: t.name, dims: Object.freeze(t.dims), type: t.type, typeName: t.typeName, offset, byteLength: t.byteLength });
    });
    return Object.freeze({ path, version, metadata, tensors: Object.freeze(tensors), alignment, dataOffset, fileSize: size });
  } finally {
    closeSync(fd);
  }
}

/** The tensor info named `name`, or a ModelFileError. */
export function getTensorInfo(file: GgufFile, name: string): GgufTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new ModelFileError(file.path, `no tensor named ${quoteName(name)}`);
  return t;
}

/** Number of elements of a tensor. */
export const tensorElementCount = (t: GgufTensorInfo): number => t.dims.reduce((a, b) => a * b, 1);

/**
 * Reads one tensor and dequantises it to float32, in stored (row-major,
 * GGUF-dims-reversed) element order. An unsupported type is a ModelFileError
 * naming the tensor, its type and what is supported.
 */
export function readGgufTensor(file: GgufFile, name: string): Float32Array {
  const t = getTensorInfo(file, name);
  const type = ggmlType(t.type);
  if (!type?.supported) {
    throw new ModelFileError(
      file.path,
      `tensor ${quoteName(name)} has type ${t.typeName}, which KV Lab cannot read; supported: ${SUPPORTED_TYPE_NAMES.join(', ')}`,
      'E_MODEL_UNSUPPORTED',
    );
  }
  const n = tensorElementCount(t);
  const { fd, size } = openModelFile(file.path);
  try {
    if (size !== file.fileSize) throw new ModelFileError(file.path, `file changed since its header was read (${file.fileSize} → ${size} bytes)`);
    const out = new Float32Array(n);
    if (type.name === 'F32' && endianness() === 'LE') {
      readFully(file.path, fd, new Uint8Array(out.buffer), t.byteLength, t.offset);
      return out;
    }
    const blocksPerChunk = Math.max(1, Math.floor((8 << 20) / type.typeSize));
    const totalBlocks = t.byteLength / type.typeSize;
    const buf = new Uint8Array(Math.min(totalBlocks, blocksPerChunk) * type.typeSize);
    for (let b = 0; b < totalBlocks; b += blocksPerChunk) {
      const nb = Math.min(blocksPerChunk, totalBlocks - b);
      readFully(file.path, fd, buf, nb * type.typeSize, t.offset + b * type.typeSize);
      dequantize(type, buf, 0, nb, out, b * type.blockSize);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The raw stored bytes of one tensor (for callers that keep quantised weights). */
export function readGgufTensorBytes(file: GgufFile, name: string): Uint8Array {
  const t = getTensorInfo(file, name);
  const { fd, size } = openModelFile(file.path);
  try {
    if (size !== file.fileSize) throw new ModelFileError(file.path, `file changed since its header was read (${file.fileSize} → ${size} bytes)`);
    const out = new Uint8Array(t.byteLength);
    readFully(file.path, fd, out, t.byteLength, t.offset);
    return out;
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- typed metadata getters

function describe(v: GgufValue): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${quoteName(v)}`;
  return `${typeof v} ${String(v)}`;
}

function lookup(file: GgufFile, key: string, required: boolean): GgufValue | undefined {
  const v = file.metadata.get(key);
  if (v === undefined && required) throw new ModelFileError(file.path, `metadata key ${quoteName(key)} is missing`);
  return v;
}

const wrongType = (file: GgufFile, key: string, v: GgufValue, expected: string): ModelFileError =>
  new ModelFileError(file.path, `metadata key ${quoteName(key)} is ${describe(v)}, expected ${expected}`);

function asNumber(v: GgufValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

export function getString(file: GgufFile, key: string, required?: true): string;
export function getString(file: GgufFile, key: string, required: boolean): string | undefined;
export function getString(file: GgufFile, key: string, required = true): string | undefined {
  const v = lookup(file, key, required);
  if (v === undefined || typeof v === 'string') return v;
  throw wrongType(file, key, v, 'a string');
}

/** Any numeric metadata value (integers, floats; 64-bit values only when exactly representable). */
export function getNumber(file: GgufFile, key: string, required?: true): number;
export function getNumber(file: GgufFile, key: string, required: boolean): number | undefined;
export function getNumber(file: GgufFile, key: string, required = true): number | undefined {
  const v = lookup(file, key, required);
  if (v === undefined) return undefined;
  const n = asNumber(v);
  if (n === undefined) throw wrongType(file, key, v, 'a number');
  return n;
}

export function getBool(file: GgufFile, key: string, required?: true): boolean;
export function getBool(file: GgufFile, key: string, required: boolean): boolean | undefined;
export function getBool(file: GgufFile, key: string, required = true): boolean | undefined {
  const v = lookup(file, key, required);
  if (v === undefined || typeof v === 'boolean') return v;
  throw wrongType(file, key, v, 'a boolean');
}

export function getArray(file: GgufFile, key: string, required?: true): readonly GgufValue[];
export function getArray(file: GgufFile, key: string, required: boolean): readonly GgufValue[] | undefined;
export function getArray(file: GgufFile, key: string, required = true): readonly GgufValue[] | undefined {
  const v = lookup(file, key, required);
  if (v === undefined || Array.isArray(v)) return v;
  throw wrongType(file, key, v, 'an array');
}

export function getStringArray(file: GgufFile, key: string, required?: true): readonly string[];
export function getStringArray(file: GgufFile, key: string, required: boolean): readonly string[] | undefined;
export function getStringArray(file: GgufFile, key: string, required = true): readonly string[] | undefined {
  const a = getArray(file, key, required);
  if (a === undefined) return undefined;
  const i = a.findIndex((x) => typeof x !== 'string');
  if (i >= 0) throw new ModelFileError(file.path, `metadata key ${quoteName(key)} element ${i} is ${describe(a[i] ?? '')}, expected a string`);
  return a as readonly string[];
}

export function getNumberArray(file: GgufFile, key: string, required?: true): readonly number[];
export function getNumberArray(file: GgufFile, key: string, required: boolean): readonly number[] | undefined;
export function getNumberArray(file: GgufFile, key: string, required = true): readonly number[] | undefined {
  const a = getArray(file, key, required);
  if (a === undefined) return undefined;
  const out: number[] = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) {
    const n = asNumber(a[i] ?? '');
    if (n === undefined) throw new ModelFileError(file.path, `metadata key ${quoteName(key)} element ${i} is ${describe(a[i] ?? '')}, expected a number`);
    out[i] = n;
  }
  return out;
}
