/**
 * Corrupt and hostile GGUF files: each specific defect gives a ModelFileError
 * whose message names the file and the problem; then a seeded fuzz run over
 * mutated copies of small valid files (byte flips, truncations, inserted and
 * deleted bytes, absurd 64-bit counts) where reading the header, every tensor
 * and the llama mapping must either succeed or throw a ModelFileError —
 * never another error, never a hang.
 *
 * The hand-made files are assembled byte by byte here (not with the writer),
 * following gguf.md.
 */

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import { readGgufHeader, readGgufTensor } from '../../../electron/engine/formats/gguf.ts';
import { loadGgufModel } from '../../../electron/engine/formats/gguf-llama.ts';
import { writeGguf, type GgufWriteTensor } from '../../../electron/engine/formats/gguf-writer.ts';
import { ModelFileError } from '../../../electron/engine/model.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvlab-gguf-corrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

function save(bytes: Uint8Array, name = 'bad.gguf'): string {
  const p = join(dir, `${seq++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

// ---- byte assembly (little-endian), independent of the writer

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (s: string): Buffer => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const kvU32 = (k: string, v: number): Buffer => Buffer.concat([str(k), u32(4), u32(v)]);
const kvStr = (k: string, v: string): Buffer => Buffer.concat([str(k), u32(8), str(v)]);
const tinfo = (name: string, dims: number[], type: number, offset: number | bigint): Buffer =>
  Buffer.concat([str(name), u32(dims.length), ...dims.map((d) => u64(d)), u32(type), u64(offset)]);

interface Parts {
  magic?: Buffer;
  version?: number;
  nTensors?: number | bigint;
  nKv?: number | bigint;
  kvs?: Buffer[];
  tensors?: Buffer[];
  /** Bytes after the tensor table; by default padding to 32 then `data`. */
  data?: Buffer;
  noPad?: boolean;
}

function gguf(p: Parts): Buffer {
  const kvs = p.kvs ?? [kvStr('general.architecture', 'test')];
  const tensors = p.tensors ?? [];
  const head = Buffer.concat([
    p.magic ?? Buffer.from('GGUF'),
    u32(p.version ?? 3),
    u64(p.nTensors ?? tensors.length),
    u64(p.nKv ?? kvs.length),
    ...kvs,
    ...tensors,
  ]);
  const pad = p.noPad ? 0 : (32 - (head.length % 32)) % 32;
  return Buffer.concat([head, Buffer.alloc(pad), p.data ?? Buffer.alloc(0)]);
}

/** A valid file: one F32 tensor 'w' of 8 values (32 bytes) at data offset 0. */
const validParts = (): Parts => ({ tensors: [tinfo('w', [8], 0, 0)], data: Buffer.from(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]).buffer) });

function expectError(path: string, ...parts: (string | RegExp)[]): void {
  let err: unknown;
  try {
    const f = readGgufHeader(path);
    for (const t of f.tensors) readGgufTensor(f, t.name);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ModelFileError, `expected a ModelFileError for ${path}, got ${String(err)}`);
  assert.ok(err.message.includes(path), `message '${err.message}' does not name the file`);
  for (const p of parts) assert.ok(typeof p === 'string' ? err.message.includes(p) : p.test(err.message), `message '${err.message}' lacks ${String(p)}`);
}

describe('corrupt GGUF files', () => {
  it('the hand-assembled baseline is valid', () => {
    const f = readGgufHeader(save(gguf(validParts())));
    assert.equal(f.dataOffset % 32, 0);
    assert.deepEqual([...readGgufTensor(f, 'w')], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('truncated anywhere → truncated / outside the file', () => {
    const full = gguf(validParts());
    const headerEnd = full.length - 32;
    for (const len of [0, 3, 4, 7, 12, 20, 30, 40, 60, headerEnd - 10, headerEnd - 1, headerEnd, headerEnd + 5, full.length - 1]) {
      const p = save(full.subarray(0, len), `trunc-${len}.gguf`);
      expectError(p, len < 4 ? /too short to be a GGUF file/ : len >= headerEnd - 20 ? /lies outside the file|truncated/ : 'truncated');
    }
  });

  it('wrong magic → not a GGUF file; legacy GGML magics are named', () => {
    expectError(save(gguf({ ...validParts(), magic: Buffer.from('GGUX') })), "not a GGUF file: magic is 0x47475558 'GGUX', expected 'GGUF'");
    expectError(save(gguf({ ...validParts(), magic: Buffer.from([0x7f, 0x45, 0x4c, 0x46]) })), 'not a GGUF file: magic is 0x7f454c46');
    expectError(save(gguf({ ...validParts(), magic: Buffer.from('tjgg') })), "legacy 'ggjt' GGML file");
  });

  it('unsupported versions → named', () => {
    expectError(save(gguf({ ...validParts(), version: 1 })), 'GGUF version 1 is not supported');
    expectError(save(gguf({ ...validParts(), version: 4 })), 'unsupported GGUF version 4');
    expectError(save(gguf({ ...validParts(), version: 0x03000000 })), 'big-endian GGUF');
  });

  it('a tensor table pointing outside the file → the tensor, its byte range and the file size', () => {
    const parts = validParts();
    const p = save(gguf({ ...parts, tensors: [tinfo('w', [8], 0, 4096)] }));
    expectError(p, /tensor 'w' data \[\d+, \d+\) lies outside the file \(\d+ bytes\)/);
    const q = save(gguf({ ...parts, tensors: [tinfo('w', [1 << 20], 0, 0)] }));
    expectError(q, "tensor 'w' [1048576] F32 needs 4194304 bytes, more than the whole file");
    // Element counts whose byte size cannot even be represented.
    expectError(
      save(gguf({ ...parts, tensors: [tinfo('w', [2 ** 30, 2 ** 30, 2 ** 30], 0, 0)] })),
      "tensor 'w' has dims [1073741824, 1073741824…]: too many elements",
    );
  });

  it('absurd counts and lengths → refused before allocating', () => {
    expectError(save(gguf({ ...validParts(), nTensors: 2n ** 40n })), 'header claims 1099511627776 tensors');
    expectError(save(gguf({ ...validParts(), nKv: 2n ** 40n })), 'header claims 1099511627776 metadata entries');
    expectError(save(gguf({ ...validParts(), nKv: 2n ** 63n })), /metadata count at byte 16 is 9223372036854775808, which no file can hold/);
    const longKey = Buffer.concat([u64(2n ** 50n), Buffer.from('general.architecture'), u32(8), str('x')]);
    expectError(save(gguf({ ...validParts(), kvs: [longKey] })), 'string length 1125899906842624');
    const longVal = Buffer.concat([str('k'), u32(8), u64(2n ** 50n), Buffer.from('abc')]);
    expectError(save(gguf({ ...validParts(), kvs: [longVal] })), "metadata 'k': string length 1125899906842624");
    const longArr = Buffer.concat([str('arr'), u32(9), u32(4), u64(2n ** 45n)]);
    expectError(save(gguf({ ...validParts(), kvs: [longArr] })), "metadata 'arr': array of 35184372088832 elements");
    const longStrArr = Buffer.concat([str('arr'), u32(9), u32(8), u64(1000)]);
    expectError(save(gguf({ ...validParts(), kvs: [longStrArr] })), "metadata 'arr': array of 1000 elements");
    const bigDim = tinfo('w', [8], 0, 0);
    bigDim.writeBigUInt64LE(2n ** 62n, 8 + 1 + 4); // dims[0]
    expectError(save(gguf({ ...validParts(), tensors: [bigDim] })), /dimension 0 of tensor 'w' at byte \d+ is 4611686018427387904, which no file can hold/);
  });

  it('unknown value types → the key and the type', () => {
    expectError(save(gguf({ ...validParts(), kvs: [Buffer.concat([str('weird'), u32(13), u32(0)])] })), "metadata 'weird' has unknown value type 13");
    expectError(
      save(gguf({ ...validParts(), kvs: [Buffer.concat([str('arr'), u32(9), u32(77), u64(1), u32(0)])] })),
      "metadata 'arr' has unknown array element type 77",
    );
  });

  it('nested arrays are read, but not nested absurdly deep', () => {
    const nested = Buffer.concat([str('n'), u32(9), u32(9), u64(2), u32(4), u64(1), u32(7), u32(4), u64(0)]);
    const f = readGgufHeader(save(gguf({ ...validParts(), kvs: [nested] })));
    assert.deepEqual(f.metadata.get('n'), [[7], []]);
    const deep: Buffer[] = [str('deep'), u32(9)];
    for (let i = 0; i < 20; i++) deep.push(u32(9), u64(1));
    deep.push(u32(4), u64(0));
    expectError(save(gguf({ ...validParts(), kvs: [Buffer.concat(deep)] })), 'nested more than 8 deep');
  });

  it('bad tensor infos → the tensor and the problem', () => {
    const d = validParts().data ?? Buffer.alloc(0);
    expectError(save(gguf({ tensors: [tinfo('w', [8], 99, 0)], data: d })), "tensor 'w' has unknown ggml type 99; KV Lab can read: F32, F16");
    expectError(save(gguf({ tensors: [tinfo('w', [8], 0, 4)], data: d })), "tensor 'w' data offset 4 is not a multiple of the alignment 32");
    expectError(save(gguf({ tensors: [tinfo('w', [1, 1, 1, 1, 8], 0, 0)], data: d })), "tensor 'w' has 5 dimensions (ggml allows at most 4)");
    expectError(save(gguf({ tensors: [tinfo('w', [16], 8, 0)], data: d })), "tensor 'w' has 16 values per row, not a multiple of the Q8_0 block size 32");
    expectError(save(gguf({ tensors: [tinfo('w', [8], 0, 0), tinfo('w', [8], 0, 0)], data: d })), "duplicate tensor name 'w'");
  });

  it('bad metadata → duplicate keys and invalid alignment are refused', () => {
    expectError(save(gguf({ ...validParts(), kvs: [kvU32('a', 1), kvU32('a', 2)] })), "duplicate metadata key 'a'");
    expectError(save(gguf({ ...validParts(), kvs: [kvU32('general.alignment', 0)] })), 'general.alignment is 0, expected a power of two');
    expectError(save(gguf({ ...validParts(), kvs: [kvU32('general.alignment', 24)] })), 'general.alignment is 24');
    expectError(save(gguf({ ...validParts(), kvs: [kvStr('general.alignment', '32')] })), 'general.alignment is 32, expected a power of two');
  });

  it('missing files, directories and empty files → ModelFileError', () => {
    expectError(join(dir, 'does-not-exist.gguf'), 'file not found');
    const sub = join(dir, `dir-${seq++}.gguf`);
    mkdirSync(sub);
    expectError(sub, 'is a directory');
    expectError(save(new Uint8Array(0)), 'too short to be a GGUF file (0 bytes)');
  });

  it('a tensor of an unsupported type → its name, type and the supported list, at read time', () => {
    const p = join(dir, `iq-${seq++}.gguf`);
    const tensors: GgufWriteTensor[] = [
      { name: 'ok', dims: [4], type: 'F32', data: new Float32Array(4) },
      { name: 'blk.0.attn_q.weight', dims: [256, 2], type: 'IQ2_XXS', raw: new Uint8Array(132) },
    ];
    writeGguf(p, { metadata: [], tensors });
    const f = readGgufHeader(p); // the header itself is fine
    assert.equal(f.tensors[1]?.typeName, 'IQ2_XXS');
    assert.deepEqual([...readGgufTensor(f, 'ok')], [0, 0, 0, 0]);
    assert.throws(
      () => readGgufTensor(f, 'blk.0.attn_q.weight'),
      (e: unknown) =>
        e instanceof ModelFileError &&
        e.code === 'E_MODEL_UNSUPPORTED' &&
        e.message.includes(p) &&
        e.message.includes(
          "tensor 'blk.0.attn_q.weight' has type IQ2_XXS, which KV Lab cannot read; supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K",
        ),
    );
  });

  it('a file truncated after its header was read → ModelFileError at tensor read', () => {
    const p = save(gguf(validParts()));
    const f = readGgufHeader(p);
    truncateSync(p, f.dataOffset + 10);
    assert.throws(
      () => readGgufTensor(f, 'w'),
      (e: unknown) => e instanceof ModelFileError && e.message.includes(p) && e.message.includes('file changed since its header was read'),
    );
  });
});

// ---- fuzzing

function baseFiles(): { generic: Buffer; llama: Buffer } {
  const rng = createRng(5);
  const vals = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * 0.5);
  const q4k = new Uint8Array(144 * 2).map(() => rng.int(256));
  for (const o of [0, 144]) {
    q4k[o + 1] = 0x20; // keep d and dmin finite halves
    q4k[o + 3] = 0x20;
  }
  const gPath = join(dir, 'fuzz-generic.gguf');
  writeGguf(gPath, {
    metadata: [
      ['general.architecture', 'string', 'fuzz'],
      ['tokenizer.ggml.tokens', 'string[]', Array.from({ length: 24 }, (_, i) => `tok${i}`)],
      ['tokenizer.ggml.scores', 'float32[]', Array.from({ length: 24 }, (_, i) => -i)],
      ['tokenizer.ggml.token_type', 'int32[]', Array.from({ length: 24 }, () => 1)],
      ['fuzz.u64', 'uint64', 12345],
      ['fuzz.flag', 'bool', true],
    ],
    tensors: [
      { name: 'a', dims: [32, 3], type: 'F32', data: vals(96) },
      { name: 'b', dims: [32, 2], type: 'F16', data: vals(64) },
      { name: 'c', dims: [64, 2], type: 'Q8_0', data: vals(128) },
      { name: 'd', dims: [32, 2], type: 'Q4_0', data: vals(64) },
      { name: 'e', dims: [256, 2], type: 'Q4_K', raw: q4k },
    ],
  });
  const D = 32;
  const F = 64;
  const V = 32;
  const lPath = join(dir, 'fuzz-llama.gguf');
  writeGguf(lPath, {
    metadata: [
      ['general.architecture', 'string', 'llama'],
      ['llama.embedding_length', 'uint32', D],
      ['llama.block_count', 'uint32', 1],
      ['llama.feed_forward_length', 'uint32', F],
      ['llama.attention.head_count', 'uint32', 4],
      ['llama.attention.head_count_kv', 'uint32', 2],
      ['llama.context_length', 'uint32', 128],
      ['llama.attention.layer_norm_rms_epsilon', 'float32', 1e-5],
    ],
    tensors: [
      { name: 'token_embd.weight', dims: [D, V], type: 'Q8_0', data: vals(D * V) },
      { name: 'output_norm.weight', dims: [D], type: 'F32', data: vals(D) },
      { name: 'blk.0.attn_norm.weight', dims: [D], type: 'F32', data: vals(D) },
      { name: 'blk.0.attn_q.weight', dims: [D, D], type: 'F16', data: vals(D * D) },
      { name: 'blk.0.attn_k.weight', dims: [D, 16], type: 'Q4_0', data: vals(D * 16) },
      { name: 'blk.0.attn_v.weight', dims: [D, 16], type: 'F32', data: vals(D * 16) },
      { name: 'blk.0.attn_output.weight', dims: [D, D], type: 'F32', data: vals(D * D) },
      { name: 'blk.0.ffn_norm.weight', dims: [D], type: 'F32', data: vals(D) },
      { name: 'blk.0.ffn_gate.weight', dims: [D, F], type: 'Q8_0', data: vals(D * F) },
      { name: 'blk.0.ffn_up.weight', dims: [D, F], type: 'F32', data: vals(D * F) },
      { name: 'blk.0.ffn_down.weight', dims: [F, D], type: 'Q8_0', data: vals(D * F) },
    ],
  });
  return { generic: readFileSync(gPath), llama: readFileSync(lPath) };
}

const INTERESTING_U64 = [0n, 1n, 0xffn, 0xffffffffn, 2n ** 31n, 2n ** 32n, 2n ** 40n, 2n ** 50n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

/** One seeded mutation of `base`. Header bytes are hit more often than tensor data, where most flips are harmless. */
function mutate(base: Buffer, headerEnd: number, rng: ReturnType<typeof createRng>): { bytes: Buffer; what: string } {
  const pos = (): number => (rng.next() < 0.8 ? rng.int(headerEnd) : rng.int(base.length));
  const b = Buffer.from(base);
  switch (rng.int(7)) {
    case 0: {
      const n = 1 + rng.int(8);
      for (let i = 0; i < n; i++) b[pos()] = rng.int(256);
      return { bytes: b, what: `${n} random bytes` };
    }
    case 1: {
      const p = pos();
      b[p] = (b[p] ?? 0) ^ (1 << rng.int(8));
      return { bytes: b, what: `bit flip at ${p}` };
    }
    case 2: {
      const len = rng.int(base.length);
      return { bytes: b.subarray(0, len), what: `truncated to ${len}` };
    }
    case 3: {
      const p = pos();
      const ins = Buffer.from(Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)));
      return { bytes: Buffer.concat([b.subarray(0, p), ins, b.subarray(p)]), what: `${ins.length} bytes inserted at ${p}` };
    }
    case 4: {
      const p = pos();
      const n = 1 + rng.int(16);
      return { bytes: Buffer.concat([b.subarray(0, p), b.subarray(p + n)]), what: `${n} bytes deleted at ${p}` };
    }
    case 5: {
      const p = Math.min(pos(), b.length - 8);
      const v = INTERESTING_U64[rng.int(INTERESTING_U64.length)] ?? 0n;
      b.writeBigUInt64LE(v, p);
      return { bytes: b, what: `u64 ${v} at ${p}` };
    }
    default: {
      const p = Math.min(pos(), b.length - 4);
      const v = [0, 1, 5, 9, 12, 13, 0x7fffffff, 0xffffffff][rng.int(8)] ?? 0;
      b.writeUInt32LE(v, p);
      return { bytes: b, what: `u32 ${v} at ${p}` };
    }
  }
}

describe('GGUF fuzzing', () => {
  it('reads 500 mutated files: success or ModelFileError, nothing else, in well under 20 s', { timeout: 20000 }, () => {
    const start = Date.now();
    const { generic, llama } = baseFiles();
    const rng = createRng(0x5eed);
    const outcomes = { ok: 0, modelError: 0 };
    const messages = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const base = i % 2 ? llama : generic;
      const headerEnd = readGgufHeader(join(dir, i % 2 ? 'fuzz-llama.gguf' : 'fuzz-generic.gguf')).dataOffset;
      const { bytes, what } = mutate(base, headerEnd, rng);
      const p = join(dir, 'fuzz-case.gguf');
      writeFileSync(p, bytes);
      try {
        const f = readGgufHeader(p);
        for (const t of f.tensors) readGgufTensor(f, t.name);
        if (i % 2) loadGgufModel(f);
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof ModelFileError)) assert.fail(`case ${i} (${what}): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
        assert.ok(e.message.startsWith(`${p}: `), `case ${i}: message does not name the file: ${e.message}`);
        messages.add(e.problem.replace(/\d+/g, 'N').slice(0, 40));
        outcomes.modelError++;
      }
    }
    const ms = Date.now() - start;
    assert.ok(outcomes.ok > 20 && outcomes.modelError > 100, `outcomes ${JSON.stringify(outcomes)}`);
    assert.ok(messages.size > 10, `only ${messages.size} distinct problems`);
    assert.ok(ms < 20000, `fuzzing took ${ms} ms`);
  });
});
