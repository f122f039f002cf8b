/**
 * safetensors reader/writer: round trips, F16/BF16 conversion against
 * hand-computed bit patterns, sharded checkpoints, corrupt files (each a
 * ModelFileError naming the file and the tensor) and a seeded fuzz test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import { ModelFileError } from '../../../electron/engine/model.ts';
import {
  bf16ToFp32,
  INDEX_FILE,
  openSafetensorsModel,
  readSafetensorsData,
  readSafetensorsHeader,
  readSafetensorsTensor,
  writeSafetensors,
  writeShardedSafetensors,
  type SafetensorsWriteTensor,
} from '../../../electron/engine/formats/safetensors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvlab-safetensors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const fresh = (name = 'x.safetensors'): string => join(tmp, `${fileNo++}-${name}`);

/** A safetensors file from a header object and raw data bytes (header length written as given unless overridden). */
function rawFile(header: unknown, data: Uint8Array | number[], opts: { headerText?: string; headerLength?: bigint } = {}): string {
  const json = Buffer.from(opts.headerText ?? JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(opts.headerLength ?? BigInt(json.length));
  const p = fresh();
  writeFileSync(p, Buffer.concat([len, json, Buffer.from(data instanceof Uint8Array ? data : Uint8Array.from(data))]));
  return p;
}

const u16le = (xs: number[]): Uint8Array => {
  const b = Buffer.alloc(2 * xs.length);
  xs.forEach((x, i) => b.writeUInt16LE(x, 2 * i));
  return b;
};

/** Asserts `fn` throws a ModelFileError for `file` whose problem matches every pattern. */
function throwsModelError(fn: () => unknown, file: string, ...patterns: RegExp[]): ModelFileError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ModelFileError, `expected a ModelFileError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.ok(caught.message.startsWith(`${file}: `));
  for (const p of patterns) assert.match(caught.problem, p);
  return caught;
}

describe('safetensors: write and read back', () => {
  const tensors: SafetensorsWriteTensor[] = [
    { name: 'a', dims: [2, 3], dtype: 'F32', data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 123456.789]) },
    { name: 'b.weight', dims: [4], dtype: 'F16', data: Float32Array.from([0.5, -1, 2, 1024]) },
    { name: 'c', dims: [1, 2], dtype: 'BF16', data: Float32Array.from([-0.25, 256]) },
    { name: 'scalar', dims: [], dtype: 'F32', data: Float32Array.from([7]) },
    { name: 'empty', dims: [0, 5], dtype: 'F32', data: new Float32Array(0) },
  ];

  it('round-trips dims, dtypes, metadata and values (exactly representable values stay exact)', () => {
    const p = fresh();
    writeSafetensors(p, tensors, { format: 'pt', note: 'hello' });
    const f = readSafetensorsHeader(p);
    assert.deepEqual(f.metadata, { format: 'pt', note: 'hello' });
    assert.deepEqual([...f.tensors.keys()], ['a', 'b.weight', 'c', 'scalar', 'empty']);
    assert.equal(f.dataOffset % 8, 0, 'header padded to a multiple of 8, as the Rust crate writes it');
    for (const t of tensors) {
      const info = f.tensors.get(t.name);
      assert.ok(info);
      assert.deepEqual(info.dims, t.dims);
      assert.equal(info.dtype, t.dtype);
      assert.deepEqual(readSafetensorsTensor(f, t.name), t.data);
    }
    throwsModelError(() => readSafetensorsTensor(f, 'nope'), p, /no tensor named 'nope'/);
  });

  it('the header is what the Rust crate writes: offsets contiguous in the order given', () => {
    const p = fresh();
    writeSafetensors(p, tensors);
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: number[] }>;
    assert.deepEqual(header['a']?.data_offsets, [0, 24]);
    assert.deepEqual(header['b.weight']?.data_offsets, [24, 32]);
    assert.deepEqual(header['c']?.data_offsets, [32, 36]);
    assert.deepEqual(header['scalar']?.data_offsets, [36, 40]);
    assert.deepEqual(header['empty']?.data_offsets, [40, 40]);
    assert.equal(buf.length, 8 + n + 40);
    assert.equal(header['__metadata__'], undefined);
  });

  it('writer refuses a spec whose values do not match the dims', () => {
    assert.throws(() => writeSafetensors(fresh(), [{ name: 'x', dims: [2, 2], dtype: 'F32', data: new Float32Array(3) }]), RangeError);
    assert.throws(() => writeSafetensors(fresh(), [{ name: '__metadata__', dims: [1], dtype: 'F32', data: new Float32Array(1) }]), RangeError);
  });
});

describe('safetensors: F16 and BF16 against hand-computed bit patterns', () => {
  // value → [F16 bits, BF16 bits], rounding to nearest-even, worked out by hand:
  const cases: [number, number, number][] = [
    [1, 0x3c00, 0x3f80],
    [-2.5, 0xc100, 0xc020],
    // 1/3 = float32 0x3EAAAAAB. BF16: low half 0xAAAB > 0x8000 → round up to 0x3EAB.
    // F16: 1.0101010101|0101…₂ × 2⁻², exponent 13 → 0 01101 0101010101 = 0x3555 (rounds down).
    [1 / 3, 0x3555, 0x3eab],
    // 65504 = F16 max = 0x7BFF; float32 0x477FE000 → BF16 low half 0xE000 rounds up → 0x4780 (65536).
    [65504, 0x7bff, 0x4780],
    // 65520 is halfway between 65504 and 65536 (not representable): ties-to-even overflows F16 to +Inf.
    [65520, 0x7c00, 0x4780],
    // 2⁻²⁴: the smallest F16 subnormal; BF16 keeps the float32 exponent: 0x33800000 → 0x3380.
    [2 ** -24, 0x0001, 0x3380],
    // 1 + 2⁻⁸ = float32 0x3F808000: BF16 tie, 0x3F80 is even → stays 1. F16 has room: 0x3C04.
    [1 + 2 ** -8, 0x3c04, 0x3f80],
    // 1 + 3·2⁻⁸ = 0x3F818000: BF16 tie, 0x3F81 is odd → 0x3F82 (1.015625). F16 0x3C0C.
    [1 + 3 * 2 ** -8, 0x3c0c, 0x3f82],
    [-0, 0x8000, 0x8000],
  ];

  it('the writer stores exactly these bits', () => {
    const data = Float32Array.from(cases.map((c) => c[0]));
    const p = fresh();
    writeSafetensors(p, [
      { name: 'h', dims: [cases.length], dtype: 'F16', data },
      { name: 'b', dims: [cases.length], dtype: 'BF16', data },
    ]);
    const buf = readFileSync(p);
    const f = readSafetensorsHeader(p);
    const bits = (name: string): number[] => {
      const info = f.tensors.get(name);
      assert.ok(info);
      return Array.from({ length: cases.length }, (_, i) => buf.readUInt16LE(info.offset + 2 * i));
    };
    assert.deepEqual(
      bits('h'),
      cases.map((c) => c[1]),
    );
    assert.deepEqual(
      bits('b'),
      cases.map((c) => c[2]),
    );
  });

  it('the reader decodes bit patterns to the exact float32 values', () => {
    const f16: [number, number][] = [
      [0x3c00, 1],
      [0xc100, -2.5],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x8000, -0],
    ];
    const bf16: [number, number][] = [
      [0x3f80, 1],
      [0xc020, -2.5],
      [0x3eab, 0.333984375],
      [0x4780, 65536],
      [0x3f82, 1.015625],
      [0x0001, 2 ** -133], // float32 subnormal
      [0x7f7f, 3.3895313892515355e38], // BF16 max
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x8000, -0],
    ];
    const p = rawFile(
      {
        h: { dtype: 'F16', shape: [f16.length + 1], data_offsets: [0, 2 * (f16.length + 1)] },
        b: { dtype: 'BF16', shape: [bf16.length + 1], data_offsets: [2 * (f16.length + 1), 2 * (f16.length + bf16.length + 2)] },
      },
      Buffer.concat([u16le([...f16.map((c) => c[0]), 0x7e00]), u16le([...bf16.map((c) => c[0]), 0x7fc0])]),
    );
    const f = readSafetensorsHeader(p);
    const h = readSafetensorsTensor(f, 'h');
    const b = readSafetensorsTensor(f, 'b');
    f16.forEach(([, v], i) => assert.ok(Object.is(h[i], v), `F16 #${i}: ${h[i]} vs ${v}`));
    bf16.forEach(([, v], i) => assert.ok(Object.is(b[i], v), `BF16 #${i}: ${b[i]} vs ${v}`));
    assert.ok(Number.isNaN(h[f16.length]));
    assert.ok(Number.isNaN(b[bf16.length]));
    assert.equal(bf16ToFp32(0x4049), 3.140625);
  });

  it('F16/BF16 tensors larger than the 8 MiB read chunk are converted whole', () => {
    const n = 5_000_000; // 10 MB of F16: two chunks
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (i % 256) - 128; // exact in F16 and BF16
    const p = fresh();
    writeSafetensors(p, [
      { name: 'h', dims: [n], dtype: 'F16', data },
      { name: 'b', dims: [n], dtype: 'BF16', data },
    ]);
    const f = readSafetensorsHeader(p);
    assert.deepEqual(readSafetensorsTensor(f, 'h'), data);
    assert.deepEqual(readSafetensorsTensor(f, 'b'), data);
  });
});

describe('safetensors: sharded checkpoints', () => {
  const rng = createRng(7);
  const tensors: SafetensorsWriteTensor[] = Array.from({ length: 7 }, (_, i) => {
    const dims = [i + 1, 3];
    return { name: `t${i}`, dims, dtype: 'F32', data: Float32Array.from({ length: 3 * (i + 1) }, () => rng.normal()) };
  });

  it('a 3-shard folder reads exactly as a single file', () => {
    const single = join(tmp, 'single');
    const sharded = join(tmp, 'sharded');
    writeShardedSafetensors(single, tensors, 1);
    const files = writeShardedSafetensors(sharded, tensors, 3);
    assert.deepEqual(
      files.map((f) => f.slice(sharded.length + 1)),
      ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', INDEX_FILE],
    );
    const a = openSafetensorsModel(single);
    const b = openSafetensorsModel(sharded);
    assert.equal(a.files.length, 1);
    assert.equal(b.files.length, 3);
    assert.ok(
      b.files.every((f) => f.tensors.size > 0),
      'no empty shard',
    );
    assert.equal(b.indexPath, join(sharded, INDEX_FILE));
    assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
    for (const t of tensors) {
      assert.deepEqual(readSafetensorsTensor(b, t.name), t.data);
      assert.deepEqual(readSafetensorsTensor(a, t.name), t.data);
    }
    // Opening the index file itself, or one shard as a file, also works.
    assert.equal(openSafetensorsModel(join(sharded, INDEX_FILE)).tensors.size, tensors.length);
    assert.ok(openSafetensorsModel(join(sharded, 'model-00002-of-00003.safetensors')).tensors.size > 0);
  });

  it('index errors name the index or the shard', () => {
    const dir = join(tmp, 'bad-index');
    writeShardedSafetensors(dir, tensors, 2);
    const index = join(dir, INDEX_FILE);
    const good = JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> };
    const write = (v: unknown): void => writeFileSync(index, typeof v === 'string' ? v : JSON.stringify(v));

    write('{ not json');
    throwsModelError(() => openSafetensorsModel(dir), index, /JSON/);
    write({ metadata: {} });
    throwsModelError(() => openSafetensorsModel(dir), index, /weight_map/);
    write({ weight_map: { ...good.weight_map, t0: 'model-00009-of-00009.safetensors' } });
    throwsModelError(() => openSafetensorsModel(dir), join(dir, 'model-00009-of-00009.safetensors'), /missing/, /index/);
    write({ weight_map: { ...good.weight_map, t0: '../elsewhere.safetensors' } });
    throwsModelError(() => openSafetensorsModel(dir), index, /t0/, /not a file name/);
    const wrong = good.weight_map['t0'] === 'model-00001-of-00002.safetensors' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    write({ weight_map: { ...good.weight_map, t0: wrong } });
    throwsModelError(() => openSafetensorsModel(dir), index, /'t0'/, /does not hold it/);
    write(good);
    assert.equal(openSafetensorsModel(dir).tensors.size, tensors.length);
  });

  it('a folder without model.safetensors or an index is refused, naming what is missing', () => {
    const dir = join(tmp, 'no-weights');
    writeShardedSafetensors(dir, tensors, 2);
    rmSync(join(dir, INDEX_FILE));
    throwsModelError(() => openSafetensorsModel(dir), join(dir, INDEX_FILE), /missing/, /model-00001-of-00002\.safetensors/);
    const empty = join(tmp, 'empty-folder');
    writeShardedSafetensors(empty, tensors.slice(0, 1), 1);
    rmSync(join(empty, 'model.safetensors'));
    throwsModelError(() => openSafetensorsModel(empty), join(empty, 'model.safetensors'), /missing/);
  });
});

describe('safetensors: corrupt files give a ModelFileError naming the file and the problem', () => {
  const f32 = (n: number): Uint8Array => new Uint8Array(4 * n);
  const hdr = (shape: number[], offs: number[], dtype = 'F32') => ({ dtype, shape, data_offsets: offs });

  it('file shorter than the 8-byte length', () => {
    const p = fresh();
    writeFileSync(p, Buffer.from([1, 2, 3]));
    throwsModelError(() => readSafetensorsHeader(p), p, /too short/);
  });

  it('header length beyond the file', () => {
    const p = rawFile({ a: hdr([1], [0, 4]) }, f32(1), { headerLength: 10_000n });
    throwsModelError(() => readSafetensorsHeader(p), p, /header length 10000 runs past the end of the file/);
    const huge = rawFile({ a: hdr([1], [0, 4]) }, f32(1), { headerLength: 0xffff_ffff_ffff_ffffn });
    throwsModelError(() => readSafetensorsHeader(huge), huge, /header length 18446744073709551615 runs past/);
  });

  it('header that is not JSON, not an object, not UTF-8', () => {
    const p = rawFile(null, f32(1), { headerText: '{"a": {"dtype": "F32", ' });
    throwsModelError(() => readSafetensorsHeader(p), p, /not valid JSON/);
    const arr = rawFile(null, [], { headerText: '[1, 2]' });
    throwsModelError(() => readSafetensorsHeader(arr), arr, /does not start with '\{'/);
    const p2 = fresh();
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(4n);
    writeFileSync(p2, Buffer.concat([len, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
    throwsModelError(() => readSafetensorsHeader(p2), p2, /UTF-8/);
  });

  it('data_offsets out of range', () => {
    const p = rawFile({ a: hdr([4], [0, 16]), b: hdr([4], [16, 32]) }, f32(6));
    throwsModelError(() => readSafetensorsHeader(p), p, /tensor 'b'/, /data_offsets \[16, 32\] lie outside the data section \(24 bytes/);
    const neg = rawFile({ a: hdr([1], [-4, 0]) }, f32(1));
    throwsModelError(() => readSafetensorsHeader(neg), neg, /tensor 'a'/, /data_offsets/);
    const rev = rawFile({ a: hdr([0], [8, 4]) }, f32(2));
    throwsModelError(() => readSafetensorsHeader(rev), rev, /tensor 'a'/, /end before they begin/);
  });

  it('shape × dtype size ≠ byte length (a header that lies about sizes)', () => {
    const p = rawFile({ w: hdr([2, 3], [0, 16]) }, f32(4));
    throwsModelError(() => readSafetensorsHeader(p), p, /tensor 'w'/, /shape \[2, 3\] × F32 needs 24 bytes, but data_offsets \[0, 16\] span 16/);
    const bf = rawFile({ w: hdr([3], [0, 4], 'BF16') }, f32(1));
    throwsModelError(() => readSafetensorsHeader(bf), bf, /tensor 'w'/, /BF16 needs 6 bytes/);
    const big = rawFile({ w: hdr([2 ** 40, 2 ** 40], [0, 4]) }, f32(1));
    throwsModelError(() => readSafetensorsHeader(big), big, /tensor 'w'/, /too many elements/);
    const bad = rawFile({ w: hdr([2.5], [0, 4]) }, f32(1));
    throwsModelError(() => readSafetensorsHeader(bad), bad, /tensor 'w'/, /non-negative integers/);
  });

  it('overlapping tensors, holes and trailing bytes', () => {
    const p = rawFile({ a: hdr([4], [0, 16]), b: hdr([2], [8, 16]) }, f32(4));
    throwsModelError(() => readSafetensorsHeader(p), p, /overlap/, /'a'/, /'b'/);
    const same = rawFile({ a: hdr([2], [0, 8]), b: hdr([2], [0, 8]) }, f32(2));
    throwsModelError(() => readSafetensorsHeader(same), same, /overlap/);
    const hole = rawFile({ a: hdr([1], [0, 4]), b: hdr([1], [8, 12]) }, f32(3));
    throwsModelError(() => readSafetensorsHeader(hole), hole, /bytes \[4, 8\) of the data section belong to no tensor/, /'b'/);
    const trailing = rawFile({ a: hdr([1], [0, 4]) }, f32(2));
    throwsModelError(() => readSafetensorsHeader(trailing), trailing, /4 trailing bytes/);
  });

  it('unknown dtype in the header; a known but unreadable dtype when read', () => {
    const p = rawFile({ a: hdr([1], [0, 4], 'F128') }, f32(1));
    throwsModelError(() => readSafetensorsHeader(p), p, /tensor 'a'/, /unknown dtype 'F128'/);
    const i64 = rawFile({ pos: hdr([2], [0, 16], 'I64') }, f32(4));
    const f = readSafetensorsHeader(i64);
    const e = throwsModelError(() => readSafetensorsTensor(f, 'pos'), i64, /tensor 'pos' has dtype I64/, /F32, F16, BF16/);
    assert.equal(e.code, 'E_MODEL_UNSUPPORTED');
  });

  it('bad entries and metadata', () => {
    const p = rawFile({ a: 5 }, []);
    throwsModelError(() => readSafetensorsHeader(p), p, /tensor 'a'/, /expected \{ dtype, shape, data_offsets \}/);
    const m = rawFile({ __metadata__: { format: 1 } }, []);
    throwsModelError(() => readSafetensorsHeader(m), m, /__metadata__/, /format/, /expected a string/);
    const noOffs = rawFile({ a: { dtype: 'F32', shape: [1] } }, f32(1));
    throwsModelError(() => readSafetensorsHeader(noOffs), noOffs, /tensor 'a'/, /data_offsets/);
  });

  it('a file truncated after its header was read', () => {
    const p = fresh();
    writeSafetensors(p, [{ name: 'a', dims: [8], dtype: 'F32', data: new Float32Array(8) }]);
    const f = readSafetensorsHeader(p);
    truncateSync(p, f.fileSize - 4);
    const info = f.tensors.get('a');
    assert.ok(info);
    throwsModelError(() => readSafetensorsData(info), p, /changed since its header was read/);
    throwsModelError(() => readSafetensorsHeader(p), p, /data_offsets \[0, 32\] lie outside/);
  });

  it('a missing file or a folder', () => {
    const p = join(tmp, 'nope.safetensors');
    throwsModelError(() => readSafetensorsHeader(p), p, /not found/);
    throwsModelError(() => readSafetensorsHeader(tmp), tmp, /directory/);
  });
});

describe('safetensors: fuzz', () => {
  it('300 seeded mutations of a small file: each read succeeds or throws ModelFileError, never anything else', { timeout: 60_000 }, () => {
    const base = fresh('base.safetensors');
    const rng = createRng(20250101);
    const vals = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
    writeSafetensors(
      base,
      [
        { name: 'embed', dims: [4, 3], dtype: 'F32', data: vals(12) },
        { name: 'w.h', dims: [2, 5], dtype: 'F16', data: vals(10) },
        { name: 'w.b', dims: [6], dtype: 'BF16', data: vals(6) },
        { name: 'n', dims: [], dtype: 'F32', data: vals(1) },
      ],
      { format: 'pt' },
    );
    const orig = readFileSync(base);
    const headerLen = Number(orig.readBigUInt64LE(0));
    const headerJson = JSON.parse(orig.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, Record<string, unknown>>;
    const withHeader = (h: unknown, data: Buffer): Buffer => {
      const j = Buffer.from(JSON.stringify(h));
      const l = Buffer.alloc(8);
      l.writeBigUInt64LE(BigInt(j.length));
      return Buffer.concat([l, j, data]);
    };
    const data = orig.subarray(8 + headerLen);
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)] as T;

    const mutations: ((b: Buffer) => Buffer)[] = [
      // flip 1–8 random bytes anywhere
      (b) => {
        const c = Buffer.from(b);
        for (let k = 1 + rng.int(8); k > 0; k--) c[rng.int(c.length)] = rng.int(256);
        return c;
      },
      // flip bytes inside the JSON header
      (b) => {
        const c = Buffer.from(b);
        for (let k = 1 + rng.int(4); k > 0; k--) c[8 + rng.int(headerLen)] = pick([0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30 + rng.int(10), rng.int(256)]);
        return c;
      },
      // truncate
      (b) => b.subarray(0, rng.int(b.length)),
      // append junk
      (b) => Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)))]),
      // rewrite the header length
      (b) => {
        const c = Buffer.from(b);
        c.writeBigUInt64LE(
          pick([
            0n,
            1n,
            BigInt(headerLen - 1 - rng.int(4)),
            BigInt(headerLen + 1 + rng.int(64)),
            BigInt(rng.int(2 ** 31)) * BigInt(rng.int(2 ** 31)),
            2n ** 64n - 1n,
          ]),
        );
        return c;
      },
      // structured: a consistent header length over a lying JSON header
      () => {
        const h = structuredClone(headerJson);
        const names = Object.keys(h).filter((k) => k !== '__metadata__');
        const t = h[pick(names)] as Record<string, unknown>;
        const offs = t['data_offsets'] as number[];
        const shape = t['shape'] as number[];
        switch (rng.int(9)) {
          case 0:
            t['data_offsets'] = [(offs[0] ?? 0) + rng.int(9) - 4, offs[1]];
            break;
          case 1:
            t['data_offsets'] = [offs[0], (offs[1] ?? 0) + rng.int(9) - 4];
            break;
          case 2:
            t['shape'] = shape.length ? shape.map((d) => d + rng.int(3) - 1) : [rng.int(3)];
            break;
          case 3:
            t['dtype'] = pick(['F32', 'F16', 'BF16', 'I64', 'U8', 'F4', 'BOOL', 'f32', '', 7, null]);
            break;
          case 4:
            t[pick(['dtype', 'shape', 'data_offsets'])] = undefined; // dropped by JSON.stringify
            break;
          case 5:
            t['data_offsets'] = pick([null, [1], [0, 1, 2], ['0', '4'], [1e300, 1e300], [-1, 3], {}]);
            break;
          case 6:
            t['shape'] = pick([null, [-1], [1.5], [2 ** 53, 2 ** 53], ['3'], [[2]]]);
            break;
          case 7:
            h['__metadata__'] = pick([{ format: 5 } as unknown as Record<string, unknown>, [] as unknown as Record<string, unknown>, { a: 'b' }]);
            break;
          default:
            h[pick(names)] = pick([1, 'x', [], null]) as unknown as Record<string, unknown>;
        }
        return withHeader(h, rng.int(4) === 0 ? data.subarray(0, data.length - rng.int(8)) : data);
      },
    ];

    const p = fresh('fuzz.safetensors');
    let ok = 0;
    let refused = 0;
    const N = 300;
    for (let i = 0; i < N; i++) {
      const mutated = pick(mutations)(orig);
      writeFileSync(p, mutated);
      try {
        const f = readSafetensorsHeader(p);
        for (const info of f.tensors.values()) {
          const v = readSafetensorsData(info);
          assert.equal(
            v.length,
            info.dims.reduce((a, b) => a * b, 1),
          );
        }
        ok++;
      } catch (e) {
        if (!(e instanceof ModelFileError)) throw new Error(`mutation #${i} threw ${String(e)} instead of a ModelFileError`, { cause: e });
        assert.ok(e.message.startsWith(`${p}: `));
        refused++;
      }
    }
    assert.equal(ok + refused, N);
    assert.ok(refused > N / 2, `most mutations are refused (${refused}/${N})`);
    assert.ok(ok > 0, `some mutations (data bytes only) still read (${ok}/${N})`);
  });
});
