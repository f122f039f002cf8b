/**
 * GGUF reader and writer: the shared stories260K.gguf against the facts in
 * shared/docs/data.md §1.1, writer → reader round trips (metadata of every
 * value type, tensors in F32/F16/BF16/Q8_0/Q4_0 within their quantisation
 * error, raw K-quant bytes), and the typed metadata getters.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRng } from '@kvlab/core';
import {
  getArray,
  getBool,
  getNumber,
  getNumberArray,
  getString,
  getStringArray,
  readGgufHeader,
  readGgufTensor,
  readGgufTensorBytes,
} from '../../../electron/engine/formats/gguf.ts';
import { inferType, writeGguf, type GgufMetadataEntry } from '../../../electron/engine/formats/gguf-writer.ts';
import { ModelFileError } from '../../../electron/engine/model.ts';
import { sharedPath } from '../shared-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvlab-gguf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const tmp = (name = 'm.gguf'): string => join(dir, `${seq++}-${name}`);

const isModelError =
  (...parts: (string | RegExp)[]) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ModelFileError, `expected a ModelFileError, got ${String(e)}`);
    for (const p of parts) assert.ok(typeof p === 'string' ? e.message.includes(p) : p.test(e.message), `message '${e.message}' lacks ${String(p)}`);
    return true;
  };

describe('stories260K.gguf (data.md §1.1)', () => {
  const path = sharedPath('models/stories260K/stories260K.gguf');
  const f = readGgufHeader(path);

  it('is GGUF v3 with 19 KVs, 48 F32 tensors, default alignment 32 and data at 14176', () => {
    assert.equal(f.version, 3);
    assert.equal(f.metadata.size, 19);
    assert.equal(f.tensors.length, 48);
    assert.equal(f.alignment, 32);
    assert.equal(f.metadata.has('general.alignment'), false);
    assert.equal(f.dataOffset, 14176);
    assert.equal(f.fileSize, 1185376);
    assert.ok(f.tensors.every((t) => t.typeName === 'F32' && t.type === 0));
    assert.equal(f.tensors[0]?.offset, 14176);
    // Tensors are packed back to back (all sizes are multiples of 32) and end at the end of the file.
    const last = f.tensors.reduce((a, t) => (t.offset > a.offset ? t : a));
    assert.equal(last.offset + last.byteLength, f.fileSize);
  });

  it('has the documented metadata', () => {
    assert.equal(getString(f, 'general.architecture'), 'llama');
    const nums: [string, number][] = [
      ['llama.embedding_length', 64],
      ['llama.feed_forward_length', 172],
      ['llama.attention.head_count', 8],
      ['llama.attention.head_count_kv', 4],
      ['llama.block_count', 5],
      ['llama.rope.dimension_count', 8],
      ['llama.context_length', 2048],
      ['tokenizer.ggml.bos_token_id', 1],
      ['tokenizer.ggml.eos_token_id', 2],
      ['tokenizer.ggml.unknown_token_id', 0],
    ];
    for (const [k, v] of nums) assert.equal(getNumber(f, k), v, k);
    assert.equal(getNumber(f, 'llama.attention.layer_norm_rms_epsilon'), Math.fround(1e-5));
    assert.equal(getString(f, 'tokenizer.ggml.model'), 'llama');
    const tokens = getStringArray(f, 'tokenizer.ggml.tokens');
    assert.equal(tokens.length, 512);
    assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.ok(tokens.includes('▁t'), 'spaces are written as U+2581');
    const scores = getNumberArray(f, 'tokenizer.ggml.scores');
    assert.equal(scores.length, 512);
    assert.deepEqual(
      scores.slice(259, 262).map((v) => v + 0),
      [0, -1, -2],
    ); // token 259's score is stored as −0
    const types = getNumberArray(f, 'tokenizer.ggml.token_type');
    const hist = new Map<number, number>();
    for (const t of types) hist.set(t, (hist.get(t) ?? 0) + 1);
    assert.deepEqual(
      [...hist].sort((a, b) => a[0] - b[0]),
      [
        [1, 253],
        [2, 1],
        [3, 2],
        [6, 256],
      ],
    );
  });

  it('lists the tensors with GGUF (fastest-first) dims', () => {
    const dims = new Map(f.tensors.map((t) => [t.name, t.dims.join('x')]));
    assert.equal(dims.get('token_embd.weight'), '64x512');
    assert.equal(dims.get('output.weight'), '64x512');
    assert.equal(dims.get('output_norm.weight'), '64');
    assert.equal(dims.get('blk.0.attn_k.weight'), '64x32');
    assert.equal(dims.get('blk.4.attn_v.weight'), '64x32');
    assert.equal(dims.get('blk.2.ffn_down.weight'), '172x64');
    assert.equal(dims.get('blk.2.ffn_up.weight'), '64x172');
    for (let i = 0; i < 5; i++)
      for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'attn_norm', 'ffn_gate', 'ffn_down', 'ffn_up', 'ffn_norm'])
        assert.ok(dims.has(`blk.${i}.${n}.weight`), `blk.${i}.${n}`);
  });

  it('reads tensors as the stored float32 bytes', () => {
    const raw = readFileSync(path);
    for (const name of ['token_embd.weight', 'blk.3.ffn_down.weight', 'output_norm.weight']) {
      const t = f.tensors.find((x) => x.name === name);
      assert.ok(t);
      const data = readGgufTensor(f, name);
      assert.equal(
        data.length,
        t.dims.reduce((a, b) => a * b, 1),
      );
      assert.ok(Buffer.from(data.buffer).equals(raw.subarray(t.offset, t.offset + t.byteLength)), name);
      assert.ok(Buffer.from(readGgufTensorBytes(f, name)).equals(raw.subarray(t.offset, t.offset + t.byteLength)));
    }
    // output.weight is an explicit copy of the embedding.
    assert.deepEqual(readGgufTensor(f, 'output.weight'), readGgufTensor(f, 'token_embd.weight'));
  });

  it('names the file and tensor when a tensor is missing', () => {
    assert.throws(() => readGgufTensor(f, 'blk.9.attn_q.weight'), isModelError(path, "no tensor named 'blk.9.attn_q.weight'"));
  });
});

describe('ggml-vocab-llama-spm.gguf (data.md §2)', () => {
  it('is GGUF v3 with 22 KVs, no tensors and the 32,000-token Llama-2 vocabulary', () => {
    const f = readGgufHeader(sharedPath('vocab/ggml-vocab-llama-spm.gguf'));
    assert.equal(f.version, 3);
    assert.equal(f.metadata.size, 22);
    assert.equal(f.tensors.length, 0);
    assert.equal(getString(f, 'tokenizer.ggml.model'), 'llama');
    assert.equal(getString(f, 'tokenizer.ggml.pre'), 'default');
    assert.equal(getStringArray(f, 'tokenizer.ggml.tokens').length, 32000);
    assert.equal(getNumberArray(f, 'tokenizer.ggml.scores').length, 32000);
    assert.equal(getNumberArray(f, 'tokenizer.ggml.token_type').length, 32000);
    assert.deepEqual(
      [getNumber(f, 'tokenizer.ggml.bos_token_id'), getNumber(f, 'tokenizer.ggml.eos_token_id'), getNumber(f, 'tokenizer.ggml.unknown_token_id')],
      [1, 2, 0],
    );
    assert.equal(getBool(f, 'tokenizer.ggml.add_bos_token'), true);
    assert.equal(getBool(f, 'tokenizer.ggml.add_eos_token'), false);
  });
});

describe('metadata getters', () => {
  const path = tmp('meta.gguf');
  writeGguf(path, {
    metadata: [
      ['s', 'string', 'hello'],
      ['n', 'uint32', 7],
      ['big', 'uint64', 2n ** 60n],
      ['b', 'bool', true],
      ['arr', 'string[]', ['a', 'b']],
      ['nums', 'int32[]', [1, -2]],
      ['mixed', 'uint64[]', [1, 2n ** 63n]],
    ],
    tensors: [],
  });
  const f = readGgufHeader(path);

  it('return typed values, or undefined for an absent optional key', () => {
    assert.equal(getString(f, 's'), 'hello');
    assert.equal(getNumber(f, 'n'), 7);
    assert.equal(getBool(f, 'b'), true);
    assert.deepEqual(getArray(f, 'arr'), ['a', 'b']);
    assert.deepEqual(getStringArray(f, 'arr'), ['a', 'b']);
    assert.deepEqual(getNumberArray(f, 'nums'), [1, -2]);
    assert.equal(getString(f, 'nope', false), undefined);
    assert.equal(getNumber(f, 'nope', false), undefined);
    assert.equal(getBool(f, 'nope', false), undefined);
    assert.equal(getArray(f, 'nope', false), undefined);
  });

  it('throw a ModelFileError naming the file and key', () => {
    assert.throws(() => getString(f, 'nope'), isModelError(path, "metadata key 'nope' is missing"));
    assert.throws(() => getString(f, 'n'), isModelError(path, "'n'", 'expected a string'));
    assert.throws(() => getNumber(f, 's'), isModelError(path, "'s'", 'expected a number'));
    assert.throws(() => getNumber(f, 'big'), isModelError(path, "'big'", 'expected a number'));
    assert.throws(() => getBool(f, 'n'), isModelError(path, "'n'", 'expected a boolean'));
    assert.throws(() => getArray(f, 's'), isModelError(path, "'s'", 'expected an array'));
    assert.throws(() => getStringArray(f, 'nums'), isModelError(path, "'nums' element 0", 'expected a string'));
    assert.throws(() => getNumberArray(f, 'mixed'), isModelError(path, "'mixed' element 1", 'expected a number'));
  });
});

describe('GGUF writer → reader', () => {
  it('round-trips every metadata value type', () => {
    const entries: GgufMetadataEntry[] = [
      ['u8', 'uint8', 255],
      ['i8', 'int8', -128],
      ['u16', 'uint16', 65535],
      ['i16', 'int16', -32768],
      ['u32', 'uint32', 4294967295],
      ['i32', 'int32', -2147483648],
      ['f32', 'float32', 0.1],
      ['f64', 'float64', 0.1],
      ['bt', 'bool', true],
      ['bf', 'bool', false],
      ['str', 'string', 'héllo ▁ 🦙'],
      ['empty', 'string', ''],
      ['u64', 'uint64', 2 ** 53 - 1],
      ['u64big', 'uint64', 2n ** 64n - 1n],
      ['i64', 'int64', -(2 ** 53) + 1],
      ['i64big', 'int64', -(2n ** 63n)],
      ['a.u8', 'uint8[]', [0, 1, 255]],
      ['a.i16', 'int16[]', [-5, 5]],
      ['a.f32', 'float32[]', [0.5, -1.25]],
      ['a.f64', 'float64[]', [Math.PI]],
      ['a.bool', 'bool[]', [true, false]],
      ['a.str', 'string[]', ['x', '', 'yz']],
      ['a.empty', 'int32[]', []],
      ['a.i64', 'int64[]', [-1, 2n ** 62n]],
    ];
    const path = tmp();
    writeGguf(path, { metadata: entries, tensors: [] });
    const f = readGgufHeader(path);
    assert.deepEqual(
      [...f.metadata.keys()],
      entries.map((e) => e[0]),
    );
    const want: Record<string, unknown> = Object.fromEntries(entries.map(([k, , v]) => [k, v]));
    want['f32'] = Math.fround(0.1);
    want['u64big'] = 2n ** 64n - 1n;
    for (const [k, v] of f.metadata) assert.deepEqual(v, want[k], k);
    assert.equal(f.tensors.length, 0);
  });

  it('infers types for the map form, nested arrays included', () => {
    assert.equal(inferType(3), 'uint32');
    assert.equal(inferType(-3), 'int32');
    assert.equal(inferType(0.5), 'float32');
    assert.equal(inferType(2 ** 40), 'uint64');
    assert.equal(inferType([1, 2.5]), 'float32[]');
    assert.equal(inferType([1, -2]), 'int32[]');
    assert.equal(inferType([[1], [2, 3]]), 'array');
    const path = tmp();
    const meta = { a: 'x', b: 3, c: -1.5, d: [1, 2], e: ['p', 'q'], f: [[1, 2], [3]], g: false, h: 2n ** 63n };
    writeGguf(path, { metadata: meta, tensors: [] });
    const f = readGgufHeader(path);
    assert.deepEqual(Object.fromEntries(f.metadata), meta);
    const path2 = tmp();
    writeGguf(path2, { metadata: new Map(Object.entries(meta)), tensors: [] });
    assert.ok(readFileSync(path).equals(readFileSync(path2)));
  });

  it('reads version 2 files and custom alignment', () => {
    const path = tmp();
    const data = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    writeGguf(path, { metadata: [['general.name', 'string', 'v2']], tensors: [{ name: 'a', dims: [3, 2], type: 'F32', data }], version: 2, alignment: 64 });
    const f = readGgufHeader(path);
    assert.equal(f.version, 2);
    assert.equal(f.alignment, 64);
    assert.equal(getNumber(f, 'general.alignment'), 64);
    assert.equal(f.dataOffset % 64, 0);
    assert.equal(f.fileSize % 64, 0);
    assert.deepEqual(readGgufTensor(f, 'a'), data);
  });

  it('aligns and pads every tensor (alignment 32)', () => {
    const path = tmp();
    const t = (name: string, n: number): { name: string; dims: number[]; type: 'F32'; data: Float32Array } => ({
      name,
      dims: [n],
      type: 'F32',
      data: new Float32Array(n).fill(n),
    });
    writeGguf(path, { metadata: [], tensors: [t('a', 3), t('b', 1), t('c', 9)] });
    const f = readGgufHeader(path);
    assert.deepEqual(
      f.tensors.map((x) => x.offset - f.dataOffset),
      [0, 32, 64],
    );
    assert.equal(statSync(path).size, f.dataOffset + 64 + 64);
    assert.deepEqual([...readGgufTensor(f, 'c')], new Array<number>(9).fill(9));
  });

  it('round-trips F32 exactly, F16/BF16 and Q8_0/Q4_0 within their error bounds', () => {
    const rng = createRng(99);
    const rows = 7;
    const cols = 96;
    const x = Float32Array.from({ length: rows * cols }, () => rng.normal() * (rng.next() < 0.05 ? 10 : 1));
    x[3] = 0;
    x.fill(0, cols, 2 * cols - 32); // a few all-zero blocks
    const path = tmp();
    let lazyCalls = 0;
    writeGguf(path, {
      metadata: [['general.architecture', 'string', 'test']],
      tensors: [
        { name: 'f32', dims: [cols, rows], type: 'F32', data: x },
        { name: 'f16', dims: [cols, rows], type: 'F16', data: x },
        { name: 'bf16', dims: [cols, rows], type: 'BF16', data: x },
        { name: 'q8', dims: [cols, rows], type: 'Q8_0', data: x },
        {
          name: 'q4',
          dims: [cols, rows],
          type: 'Q4_0',
          data: () => {
            lazyCalls++;
            return x;
          },
        },
      ],
    });
    assert.equal(lazyCalls, 1);
    const f = readGgufHeader(path);
    assert.deepEqual(
      f.tensors.map((t) => [t.typeName, t.byteLength]),
      [
        ['F32', rows * cols * 4],
        ['F16', rows * cols * 2],
        ['BF16', rows * cols * 2],
        ['Q8_0', (rows * cols * 34) / 32],
        ['Q4_0', (rows * cols * 18) / 32],
      ],
    );
    assert.deepEqual(readGgufTensor(f, 'f32'), x);
    const f16 = readGgufTensor(f, 'f16');
    const bf16 = readGgufTensor(f, 'bf16');
    const q8 = readGgufTensor(f, 'q8');
    const q4 = readGgufTensor(f, 'q4');
    for (let i = 0; i < x.length; i++) {
      const v = x[i] ?? 0;
      assert.ok(Math.abs((f16[i] ?? 0) - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `f16 ${i}`);
      assert.ok(Math.abs((bf16[i] ?? 0) - v) <= Math.abs(v) * 2 ** -8, `bf16 ${i}`);
    }
    for (let b = 0; b < x.length / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j] ?? 0));
      // Q8_0: |x − q·fp16(d)| ≤ d/2 + 127·|d − fp16(d)| ≤ amax·(1/254 + 2^-11).
      // Q4_0: rounding error ≤ |d|/2 except the clamp at q = 15 (≤ |d|), plus 8·|d − fp16(d)|; |d| = amax/8.
      for (let j = 0; j < 32; j++) {
        const i = b * 32 + j;
        const v = x[i] ?? 0;
        assert.ok(Math.abs((q8[i] ?? 0) - v) <= amax * (1 / 254 + 2 ** -11) * 1.0001 + 1e-7, `q8 block ${b} elem ${j}: ${q8[i]} vs ${v}`);
        assert.ok(Math.abs((q4[i] ?? 0) - v) <= (amax / 8) * (1 + 2 ** -8) * 1.0001 + 1e-7, `q4 block ${b} elem ${j}: ${q4[i]} vs ${v}`);
      }
      if (amax === 0) for (let j = 0; j < 32; j++) assert.ok(q4[b * 32 + j] === 0 && q8[b * 32 + j] === 0);
    }
    // Rounding to the nearest step leaves a mean error of about |d|/4 (uniform on ±|d|/2): far below the worst case.
    let errInSteps = 0;
    let counted = 0;
    for (let b = 0; b < x.length / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j] ?? 0));
      if (amax === 0) continue;
      for (let j = 0; j < 32; j++) errInSteps += Math.abs((q4[b * 32 + j] ?? 0) - (x[b * 32 + j] ?? 0)) / (amax / 8);
      counted += 32;
    }
    assert.ok(errInSteps / counted > 0.15 && errInSteps / counted < 0.35, `Q4_0 mean error ${errInSteps / counted} steps`);
  });

  it('writes raw bytes of any ggml type and reads them back through the dequantiser', () => {
    // One Q6_K block with d = 1 (half 0x3c00), all scales 1 and every quant 33 → every value (33 − 32)·1 = 1:
    // q = 33 = 0b100001 → low nibble 1 (ql bytes 0x11), top bits 0b10 (qh bytes 0b10101010).
    const block = new Uint8Array(210);
    block.fill(0x11, 0, 128);
    block.fill(0xaa, 128, 192);
    block.fill(1, 192, 208);
    block[208] = 0x00;
    block[209] = 0x3c;
    const path = tmp();
    writeGguf(path, { metadata: [], tensors: [{ name: 'k', dims: [256], type: 'Q6_K', raw: block }] });
    const f = readGgufHeader(path);
    assert.equal(f.tensors[0]?.typeName, 'Q6_K');
    assert.deepEqual([...readGgufTensor(f, 'k')], new Array<number>(256).fill(1));
  });

  it('reads big tensors in chunks (more than one 8 MiB read)', () => {
    const n = 32 * 300000; // 9.6M values; Q8_0 is 10.2 MB
    const x = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 255) - 127);
    const path = tmp();
    writeGguf(path, { metadata: [], tensors: [{ name: 'big', dims: [32 * 1000, 300], type: 'Q8_0', data: x }] });
    const f = readGgufHeader(path);
    const y = readGgufTensor(f, 'big');
    let maxErr = 0;
    for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs((y[i] ?? 0) - (x[i] ?? 0)));
    assert.ok(maxErr <= 127 / 254 + 0.1, `max error ${maxErr}`);
  });

  it('rejects invalid specs with a clear error', () => {
    const path = tmp();
    assert.throws(
      () => writeGguf(path, { metadata: [], tensors: [{ name: 'a', dims: [4, 2], type: 'F32', data: new Float32Array(7) }] }),
      /7 values for dims \[4, 2\]/,
    );
    assert.throws(
      () => writeGguf(path, { metadata: [], tensors: [{ name: 'a', dims: [16], type: 'Q8_0', data: new Float32Array(16) }] }),
      /not a multiple of the Q8_0 block size 32/,
    );
    assert.throws(() => writeGguf(path, { metadata: [['k', 'uint8', 256]], tensors: [] }), /not a valid uint8/);
    assert.throws(() => writeGguf(path, { metadata: [['k', 'int32', 1.5]], tensors: [] }), /not a valid int32/);
    assert.throws(() => writeGguf(path, { metadata: [['k', 'string', 1]], tensors: [] }), /not a valid string/);
    assert.throws(
      () =>
        writeGguf(path, {
          metadata: [
            ['k', 'uint8', 1],
            ['k', 'uint8', 2],
          ],
          tensors: [],
        }),
      /'k' given twice/,
    );
    assert.throws(
      () => writeGguf(path, { metadata: [], tensors: [{ name: 'r', dims: [256], type: 'Q4_K', raw: new Uint8Array(10) }] }),
      /10 raw bytes, Q4_K \[256\] needs 144/,
    );
    assert.throws(() => writeGguf(path, { metadata: [], tensors: [], alignment: 48 }), /power of two/);
  });
});
