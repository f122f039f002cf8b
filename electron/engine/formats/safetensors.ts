/**
 * safetensors reader and writer (huggingface/safetensors, `docs` + the Rust
 * crate's `Metadata::validate`):
 *
 *   u64 N (little-endian) · N bytes of UTF-8 JSON, starting with '{', possibly
 *   padded with spaces · the data section (everything after byte 8 + N)
 *
 *   JSON = { "__metadata__"?: { string: string },
 *            "<tensor>": { "dtype": "F32", "shape": [d0, d1, …], "data_offsets": [begin, end] }, … }
 *
 * Offsets are relative to the data section. As in the Rust crate, the tensors
 * sorted by offset must tile the data section exactly: no overlap, no hole, no
 * trailing bytes, and each tensor's byte length must be its element count ×
 * its dtype size. Anything else — a header length beyond the file, invalid
 * JSON, an unknown dtype, out-of-range offsets — is a ModelFileError naming the
 * file (and the tensor), never a RangeError, a hang or an out-of-memory crash.
 *
 * Reads are lazy: the header is read with one positioned read, each tensor on
 * demand (F16/BF16 converted in 8 MiB pieces), so a multi-GB file is never read
 * whole. F32, F16 and BF16 become float32; other dtypes are listed in the
 * header but refused (E_MODEL_UNSUPPORTED) when read.
 *
 * Sharded checkpoints: `model.safetensors.index.json` ({ metadata, weight_map:
 * { tensor: "model-00001-of-00002.safetensors" } }) next to its shards;
 * `openSafetensorsModel` takes a file, an index or a folder.
 */

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ModelFileError } from '../model.ts';
import { fp16ToFp32, fp32ToBf16, fp32ToFp16 } from './dequant.ts';
import { openModelFile, readFully } from './gguf.ts';

/** Bits per element of every dtype the safetensors spec defines. */
export const SAFETENSORS_DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  F64: 64,
  I64: 64,
  U64: 64,
};

/** The dtypes KV Lab reads (to float32) and writes. */
export type SafetensorsFloatDtype = 'F32' | 'F16' | 'BF16';
export const READABLE_DTYPES: readonly SafetensorsFloatDtype[] = ['F32', 'F16', 'BF16'];

/** The safetensors crate's MAX_HEADER_SIZE. */
const MAX_HEADER_BYTES = 100_000_000;
const CHUNK_BYTES = 8 << 20;
const LITTLE_ENDIAN = endianness() === 'LE';

export interface SafetensorsTensorInfo {
  readonly name: string;
  /** The .safetensors file holding it. */
  readonly file: string;
  /** That file's size when its header was read (a later read checks it is unchanged). */
  readonly fileSize: number;
  /** The spec's dtype name ('BF16'). */
  readonly dtype: string;
  /** Row-major dims, outermost first (safetensors `shape`). */
  readonly dims: readonly number[];
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly fileSize: number;
  /** N, the JSON header's length. */
  readonly headerLength: number;
  /** 8 + N: where the data section starts. */
  readonly dataOffset: number;
  /** The header's `__metadata__` (string → string), or {}. */
  readonly metadata: Readonly<Record<string, string>>;
  /** In header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
}

/** One or several .safetensors files seen as one set of tensors. */
export interface SafetensorsModel {
  /** The file, index or folder opened. */
  readonly path: string;
  /** The index file, when sharded. */
  readonly indexPath: string | undefined;
  readonly files: readonly SafetensorsFile[];
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** Sum of the files' sizes. */
  readonly totalBytes: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown): string =>
  Array.isArray(v)
    ? 'an array'
    : v === null
      ? 'null'
      : typeof v === 'string'
        ? `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
        : `${typeof v} ${String(v)}`;

/** bfloat16 bits → number (exact: the upper half of a float32). */
export function bf16ToFp32(bits: number): number {
  cvtU32[0] = (bits & 0xffff) << 16;
  return cvtF32[0] ?? 0;
}
const cvtF32 = new Float32Array(1);
const cvtU32 = new Uint32Array(cvtF32.buffer);

/** Throws a ModelFileError naming the file. */
type Fail = (problem: string) => never;

/** A tensor's header entry, checked; offsets relative to the data section. */
interface RawEntry {
  readonly name: string;
  readonly dtype: string;
  readonly dims: number[];
  readonly begin: number;
  readonly end: number;
}

/** Where the header entries are checked against: the file's size and its header's length. */
interface HeaderFrame {
  readonly fail: Fail;
  readonly size: number;
  /** The JSON header's length in bytes. */
  readonly n: number;
  /** Bytes after the header. */
  readonly dataBytes: number;
}

/** The 8-byte length, then the JSON header as an object; its length `n`. */
function readHeaderJson(path: string, fd: number, size: number, fail: Fail): { n: number; json: Record<string, unknown> } {
  if (size < 8) fail(`too short to be a safetensors file (${size} bytes; the 8-byte header length alone needs 8)`);
  const lenBytes = Buffer.alloc(8);
  readFully(path, fd, lenBytes, 8, 0);
  const n64 = lenBytes.readBigUInt64LE(0);
  if (n64 > BigInt(size - 8)) fail(`header length ${n64} runs past the end of the file (${size} bytes, so at most ${size - 8} bytes of header)`);
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the safetensors limit of ${MAX_HEADER_BYTES} bytes`);
  if (n < 2) fail(`header length ${n} is too short for a JSON object`);
  const raw = Buffer.alloc(n);
  readFully(path, fd, raw, n, 8);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header does not start with '{' (first byte 0x${(raw[0] ?? 0).toString(16).padStart(2, '0')}): not a safetensors file`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(json)) return fail('header JSON is not an object');
  return { n, json };
}

/** The `__metadata__` entry: an object of strings. */
function parseMetadata(entry: unknown, fail: Fail): Record<string, string> {
  if (!isObject(entry)) fail(`'__metadata__' is ${describe(entry)}, expected an object of strings`);
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`'__metadata__' entry '${k}' is ${describe(v)}, expected a string`);
    m[k] = v as string;
  }
  return m;
}

/** A shape's sizes and element count; `t` fails naming the tensor. */
function parseShape(shape: unknown[], t: Fail): { dims: number[]; count: number } {
  const dims: number[] = [];
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      t(`shape [${shape.map(String).join(', ')}] holds ${describe(d)}, expected non-negative integers`);
    dims.push(d as number);
    count *= d as number;
    if (!Number.isSafeInteger(count)) t(`shape [${shape.join(', ')}] has too many elements`);
  }
  return { dims, count };
}

/** One tensor's entry: { dtype, shape, data_offsets }, its span inside the data section and of the size its shape needs. */
function parseTensorEntry(frame: HeaderFrame, name: string, entry: unknown): RawEntry {
  const { dataBytes, n, size } = frame;
  const t = (problem: string): never => frame.fail(`tensor '${name}': ${problem}`);
  if (!isObject(entry)) t(`entry is ${describe(entry)}, expected { dtype, shape, data_offsets }`);
  const e = entry as Record<string, unknown>;
  const dtype = e['dtype'];
  if (typeof dtype !== 'string') t(`dtype is ${describe(dtype)}, expected a string`);
  const bits = SAFETENSORS_DTYPE_BITS[dtype as string];
  if (bits === undefined) t(`unknown dtype '${String(dtype)}' (safetensors defines ${Object.keys(SAFETENSORS_DTYPE_BITS).join(', ')})`);
  const shape = e['shape'];
  if (!Array.isArray(shape)) return t(`shape is ${describe(shape)}, expected an array of sizes`);
  const { dims, count } = parseShape(shape as unknown[], t);
  const offs = e['data_offsets'];
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    t(`data_offsets is ${Array.isArray(offs) ? `[${offs.map(String).join(', ')}]` : describe(offs)}, expected [begin, end] with non-negative integers`);
  }
  const [begin, end] = offs as [number, number];
  if (end < begin) t(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) t(`data_offsets [${begin}, ${end}] lie outside the data section (${dataBytes} bytes after the ${n}-byte header; file ${size} bytes)`);
  const totalBits = count * (bits as number);
  if (totalBits % 8 !== 0) t(`shape [${dims.join(', ')}] × ${String(dtype)} is ${totalBits} bits, not a whole number of bytes`);
  if (totalBits / 8 !== end - begin)
    t(`shape [${dims.join(', ')}] × ${String(dtype)} needs ${totalBits / 8} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
  return { name, dtype: dtype as string, dims, begin, end };
}

/** The tensors must tile the data section: no overlap, no hole, nothing after the last one. */
function checkTiling(raws: readonly RawEntry[], dataBytes: number, fail: Fail): void {
  const sorted = [...raws].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: RawEntry | undefined;
  for (const r of sorted) {
    if (r.begin < pos && prev) fail(`tensor '${r.name}' data_offsets [${r.begin}, ${r.end}] overlap tensor '${prev.name}' [${prev.begin}, ${prev.end}]`);
    if (r.begin > pos) fail(`bytes [${pos}, ${r.begin}) of the data section belong to no tensor (a hole before tensor '${r.name}')`);
    pos = r.end;
    prev = r;
  }
  if (pos !== dataBytes) fail(`the tensors cover ${pos} bytes of the data section, but it holds ${dataBytes} (${dataBytes - pos} trailing bytes)`);
}

/**
 * Reads and validates a .safetensors file's header (no tensor data).
 * Throws ModelFileError for anything that is not a well-formed safetensors file.
 */
export function readSafetensorsHeader(path: string): SafetensorsFile {
  const { fd, size } = openModelFile(path);
  try {
    const fail = (problem: string): never => {
      throw new ModelFileError(path, problem);
    };
    const { n, json } = readHeaderJson(path, fd, size, fail);
    const dataOffset = 8 + n;
    const frame: HeaderFrame = { fail, size, n, dataBytes: size - dataOffset };
    let metadata: Record<string, string> = {};
    const raws: RawEntry[] = [];
    for (const [name, entry] of Object.entries(json)) {
      if (name === '__metadata__') metadata = parseMetadata(entry, fail);
      else raws.push(parseTensorEntry(frame, name, entry));
    }
    checkTiling(raws, frame.dataBytes, fail);
    const tensors = new Map<string, SafetensorsTensorInfo>();
    for (const r of raws) {
      const info = {
        name: r.name,
        file: path,
        fileSize: size,
        dtype: r.dtype,
        dims: Object.freeze(r.dims),
        offset: dataOffset + r.begin,
        byteLength: r.end - r.begin,
      };
      tensors.set(r.name, Object.freeze(info));
    }
    return Object.freeze({ path, fileSize: size, headerLength: n, dataOffset, metadata: Object.freeze(metadata), tensors });
  } finally {
    closeSync(fd);
  }
}

/** Number of elements of a tensor. */
export const elementCount = (t: { readonly dims: readonly number[] }): number => t.dims.reduce((a, b) => a * b, 1);

/** Reads one tensor (described by its header entry) as float32, in stored row-major order. */
export function readSafetensorsData(info: SafetensorsTensorInfo): Float32Array {
  const { file, name, dtype } = info;
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new ModelFileError(
      file,
      `tensor '${name}' has dtype ${dtype}, which KV Lab cannot read; supported: ${READABLE_DTYPES.join(', ')}`,
      'E_MODEL_UNSUPPORTED',
    );
  }
  const n = elementCount(info);
  const out = new Float32Array(n);
  const { fd, size } = openModelFile(file);
  try {
    if (size !== info.fileSize) throw new ModelFileError(file, `file changed since its header was read (${info.fileSize} → ${size} bytes)`);
    if (dtype === 'F32' && LITTLE_ENDIAN) {
      readFully(file, fd, new Uint8Array(out.buffer), info.byteLength, info.offset);
      return out;
    }
    const bytesPer = dtype === 'F32' ? 4 : 2;
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / bytesPer));
    const buf = new Uint8Array(Math.min(n, perChunk) * bytesPer);
    const view = new DataView(buf.buffer);
    const out32 = new Uint32Array(out.buffer);
    for (let start = 0; start < n; start += perChunk) {
      const m = Math.min(perChunk, n - start);
      readFully(file, fd, buf, m * bytesPer, info.offset + start * bytesPer);
      if (dtype === 'F32') {
        for (let i = 0; i < m; i++) out[start + i] = view.getFloat32(4 * i, true);
      } else if (dtype === 'BF16') {
        for (let i = 0; i < m; i++) out32[start + i] = view.getUint16(2 * i, true) << 16;
      } else {
        for (let i = 0; i < m; i++) out[start + i] = fp16ToFp32(view.getUint16(2 * i, true));
      }
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The stored bytes of one tensor, as they lie in the file. */
export function readSafetensorsBytes(info: SafetensorsTensorInfo): Uint8Array {
  const { fd, size } = openModelFile(info.file);
  try {
    if (size !== info.fileSize) throw new ModelFileError(info.file, `file changed since its header was read (${info.fileSize} → ${size} bytes)`);
    const out = new Uint8Array(info.byteLength);
    readFully(info.file, fd, out, info.byteLength, info.offset);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Reads the tensor `name` of a file or model as float32; a missing name is a ModelFileError. */
export function readSafetensorsTensor(source: SafetensorsFile | SafetensorsModel, name: string): Float32Array {
  const info = source.tensors.get(name);
  if (!info) throw new ModelFileError(source.path, `no tensor named '${name}'`);
  return readSafetensorsData(info);
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

/** Reads a sharded checkpoint through its index: every shard's header, every mapped tensor checked to be in its shard. */
export function readSafetensorsIndex(indexPath: string): SafetensorsModel {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new ModelFileError(indexPath, 'file not found');
    throw new ModelFileError(indexPath, `cannot read the index as JSON: ${err.message}`);
  }
  const fail = (problem: string): never => {
    throw new ModelFileError(indexPath, problem);
  };
  if (!isObject(json)) return fail('the index is not a JSON object');
  const map = json['weight_map'];
  if (!isObject(map)) return fail(`'weight_map' is ${describe(map)}, expected an object { tensor: file }`);
  const dir = dirname(indexPath);
  const shardNames: string[] = [];
  for (const [name, f] of Object.entries(map)) {
    if (typeof f !== 'string') fail(`'weight_map' maps tensor '${name}' to ${describe(f)}, expected a file name`);
    const file = f as string;
    if (file === '' || file !== basename(file) || file === '..' || file.includes('\\'))
      fail(`'weight_map' maps tensor '${name}' to '${file}', which is not a file name in the index's folder`);
    if (!shardNames.includes(file)) shardNames.push(file);
  }
  if (shardNames.length === 0) fail(`'weight_map' is empty`);
  const files = shardNames.map((s) => {
    const p = join(dir, s);
    if (!existsSync(p)) throw new ModelFileError(p, `missing: the index ${basename(indexPath)} lists this shard`);
    return readSafetensorsHeader(p);
  });
  const byName = new Map(files.map((f) => [basename(f.path), f]));
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const f of files) {
    for (const [name, info] of f.tensors) {
      const other = tensors.get(name);
      if (other) throw new ModelFileError(f.path, `tensor '${name}' is also in ${basename(other.file)}`);
      tensors.set(name, info);
    }
  }
  for (const [name, f] of Object.entries(map)) {
    const shard = byName.get(f as string);
    if (!shard?.tensors.has(name)) fail(`'weight_map' puts tensor '${name}' in ${String(f)}, which does not hold it`);
  }
  return { path: indexPath, indexPath, files, tensors, totalBytes: files.reduce((a, f) => a + f.fileSize, 0) };
}

/**
 * Opens safetensors weights: a .safetensors file, a `*.index.json`, or a
 * folder holding `model.safetensors.index.json` or `model.safetensors`.
 */
export function openSafetensorsModel(path: string): SafetensorsModel {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new ModelFileError(path, 'file not found');
  }
  if (isDir) {
    const index = join(path, INDEX_FILE);
    if (existsSync(index)) return readSafetensorsIndex(index);
    const single = join(path, SINGLE_FILE);
    if (existsSync(single)) return openSafetensorsModel(single);
    const found = readdirSync(path).filter((f) => f.endsWith('.safetensors'));
    if (found.length > 0) throw new ModelFileError(index, `missing: the folder has ${found.join(', ')} but neither ${INDEX_FILE} nor ${SINGLE_FILE}`);
    throw new ModelFileError(single, `missing: the folder has no ${SINGLE_FILE} (or sharded ${INDEX_FILE})`);
  }
  if (path.endsWith('.json')) return readSafetensorsIndex(path);
  const f = readSafetensorsHeader(path);
  return { path, indexPath: undefined, files: [f], tensors: f.tensors, totalBytes: f.fileSize };
}

// ---------------------------------------------------------------- writer

export interface SafetensorsWriteTensor {
  readonly name: string;
  /** Row-major dims, outermost first. */
  readonly dims: readonly number[];
  readonly dtype: SafetensorsFloatDtype;
  readonly data: Float32Array;
}

function encodeTensor(t: SafetensorsWriteTensor): Uint8Array {
  const n = t.data.length;
  if (t.dtype === 'F32') {
    if (LITTLE_ENDIAN) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const b = new Uint8Array(4 * n);
    const v = new DataView(b.buffer);
    for (let i = 0; i < n; i++) v.setFloat32(4 * i, t.data[i] ?? 0, true);
    return b;
  }
  const b = new Uint8Array(2 * n);
  const v = new DataView(b.buffer);
  const conv = t.dtype === 'F16' ? fp32ToFp16 : fp32ToBf16;
  for (let i = 0; i < n; i++) v.setUint16(2 * i, conv(t.data[i] ?? 0), true);
  return b;
}

/**
 * Writes a .safetensors file as the Rust crate does: tensors in the order
 * given, contiguous; the JSON header padded with spaces to a multiple of 8.
 * F16/BF16 are rounded to nearest-even. Throws RangeError on an invalid spec.
 */
export function writeSafetensors(path: string, tensors: readonly SafetensorsWriteTensor[], metadata?: Readonly<Record<string, string>>): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = { ...metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new RangeError(`safetensors: tensor name '${t.name}' is reserved or given twice`);
    if (!READABLE_DTYPES.includes(t.dtype))
      throw new RangeError(`safetensors: tensor '${t.name}' dtype '${String(t.dtype)}' is not one of ${READABLE_DTYPES.join(', ')}`);
    if (t.dims.some((d) => !Number.isSafeInteger(d) || d < 0) || elementCount(t) !== t.data.length) {
      throw new RangeError(`safetensors: tensor '${t.name}' has ${t.data.length} values for dims [${t.dims.join(', ')}]`);
    }
    const bytes = t.data.length * (t.dtype === 'F32' ? 4 : 2);
    header[t.name] = { dtype: t.dtype, shape: [...t.dims], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, len);
    writeAll(fd, json);
    for (const t of tensors) writeAll(fd, encodeTensor(t));
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `tensors` into `dir` as HF does: one `model.safetensors` when
 * `shards` is 1, else `model-0000i-of-0000n.safetensors` (tensors split in
 * order, as evenly by bytes as the order allows) plus `model.safetensors.index.json`.
 * Returns the files written.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: readonly SafetensorsWriteTensor[],
  shards = 1,
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): string[] {
  if (!Number.isInteger(shards) || shards < 1 || shards > Math.max(1, tensors.length))
    throw new RangeError(`safetensors: cannot split ${tensors.length} tensors into ${shards} shards`);
  mkdirSync(dir, { recursive: true });
  if (shards === 1) {
    const p = join(dir, SINGLE_FILE);
    writeSafetensors(p, tensors, metadata);
    return [p];
  }
  const bytesOf = (t: SafetensorsWriteTensor): number => t.data.length * (t.dtype === 'F32' ? 4 : 2);
  const total = tensors.reduce((a, t) => a + bytesOf(t), 0);
  const groups: SafetensorsWriteTensor[][] = Array.from({ length: shards }, () => []);
  let acc = 0;
  let k = 0;
  tensors.forEach((t, i) => {
    // Move to the next shard once the running total passes its share of the bytes (never leaving a shard empty),
    // or when the tensors left are just enough to give every later shard one.
    const want = Math.min(shards - 1, Math.floor((acc * shards) / Math.max(1, total)));
    if (want > k && (groups[k]?.length ?? 0) > 0) k++;
    if (shards - k > tensors.length - i) k = shards - (tensors.length - i);
    groups[k]?.push(t);
    acc += bytesOf(t);
  });
  const name = (k: number): string => `model-${String(k + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
  const weightMap: Record<string, string> = {};
  const written: string[] = [];
  groups.forEach((g, k) => {
    const p = join(dir, name(k));
    writeSafetensors(p, g, metadata);
    for (const t of g) weightMap[t.name] = name(k);
    written.push(p);
  });
  const indexPath = join(dir, INDEX_FILE);
  writeFileSync(indexPath, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  written.push(indexPath);
  return written;
}

function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) done += writeSync(fd, b, done, Math.min(b.length - done, 1 << 30));
}
