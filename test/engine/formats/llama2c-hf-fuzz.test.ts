/**
 * Seeded fuzzing of the model files the GGUF and safetensors fuzz tests do not
 * cover: llama2.c `.bin` checkpoints, and an HF folder's `config.json` and
 * `tokenizer.json`. Each mutated file (random truncations, byte flips, junk,
 * header fields set to edge values, JSON fields given wrong types, absurd or
 * non-finite numbers) must either load or be refused with a ModelFileError
 * that names the mutated file — never another error, a crash or a hang (each
 * test has a time limit).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Rng } from '@kvlab/core';
import { createRng } from '@kvlab/core';
import { writeHfFolder } from '../../../electron/engine/formats/hf.ts';
import { loadLlama2c, readLlama2cHeader } from '../../../electron/engine/formats/llama2c.ts';
import { loadModelSync } from '../../../electron/engine/load.ts';
import { ModelFileError } from '../../../electron/engine/model.ts';
import { randomModel } from '../reference/random-model.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvlab-fuzz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)] as T;

interface Case {
  readonly what: string;
  /**
   * Whether a disagreement with another file may be reported instead: a well-formed, well-typed value
   * (e.g. 10^15 layers, or one more token in the vocabulary) is only wrong against the weights or the
   * tokenizer, and the loader may name the folder or that other file. Broken JSON or a value of the
   * wrong type must always name the mutated file.
   */
  readonly crossFile?: boolean;
}

/** Runs `load` on each case; counts loads and refusals, failing on anything but a ModelFileError naming `file` (or, for crossFile cases, its folder or a file in it). */
function expectLoadsOrNamesFile(file: string, cases: number, write: (i: number) => Case, load: () => unknown) {
  let ok = 0;
  let refused = 0;
  let crossFile = 0;
  const problems = new Set<string>();
  for (let i = 0; i < cases; i++) {
    const c = write(i);
    try {
      load();
      ok++;
    } catch (e) {
      if (!(e instanceof ModelFileError)) assert.fail(`case ${i} (${c.what}): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
      assert.ok(e.message.startsWith(`${e.file}: `), `case ${i} (${c.what}): message does not start with the file: ${e.message}`);
      if (e.file !== file) {
        const dir = dirname(file);
        assert.ok(
          c.crossFile && (e.file === dir || dirname(e.file) === dir),
          `case ${i} (${c.what}): the error names ${e.file}, not the mutated file: ${e.message}`,
        );
        crossFile++;
      }
      problems.add(e.problem.replace(/-?\d[\d.e+-]*/g, 'N').slice(0, 50));
      refused++;
    }
  }
  return { ok, refused, crossFile, problems };
}

// ---------------------------------------------------------------------------
// llama2.c .bin
// ---------------------------------------------------------------------------

/** A legacy llama2.c checkpoint assembled here from its layout (7 int32, then float32 tensors; negative vocab = untied head). */
function llama2cBytes(rng: Rng, o: { dim: number; hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number }): Buffer {
  const hd = o.dim / o.heads;
  const kv = hd * o.kvHeads;
  const V = Math.abs(o.vocab);
  const L = o.layers;
  const floats =
    V * o.dim +
    L * (o.dim + o.dim * o.dim + 2 * kv * o.dim + o.dim * o.dim + o.dim + 3 * o.hidden * o.dim) +
    o.dim +
    2 * o.seqLen * (hd / 2) +
    (o.vocab < 0 ? V * o.dim : 0);
  const b = Buffer.alloc(28 + 4 * floats);
  [o.dim, o.hidden, o.layers, o.heads, o.kvHeads, o.vocab, o.seqLen].forEach((v, i) => b.writeInt32LE(v, 4 * i));
  for (let i = 0; i < floats; i++) b.writeFloatLE(0.3 * rng.normal(), 28 + 4 * i);
  return b;
}

const INT32_EDGES = [0, 1, -1, 2, 3, 7, 8, 16, 0x7fffffff, -0x80000000, 1 << 20, 46341, 0x616b3432];
const FLOAT_EDGES = [NaN, Infinity, -Infinity, 3.4e38, -0, 1e-45];

function mutateLlama2c(base: Buffer, rng: Rng): { bytes: Buffer; what: string } {
  const b = Buffer.from(base);
  switch (rng.int(6)) {
    case 0: {
      const n = rng.int(b.length);
      return { bytes: b.subarray(0, n), what: `truncated to ${n}` };
    }
    case 1: {
      const junk = Buffer.from(Array.from({ length: 1 + rng.int(64) }, () => rng.int(256)));
      return { bytes: Buffer.concat([b, junk]), what: `${junk.length} junk bytes appended` };
    }
    case 2: {
      const k = 1 + rng.int(8);
      for (let i = 0; i < k; i++) b[rng.int(b.length)] = rng.int(256);
      return { bytes: b, what: `${k} random bytes` };
    }
    case 3:
    case 4: {
      const field = rng.int(7);
      const v = pick(rng, INT32_EDGES);
      b.writeInt32LE(v, 4 * field);
      return { bytes: b, what: `header field ${field} = ${v}` };
    }
    default: {
      const at = 28 + 4 * rng.int((b.length - 28) / 4);
      const v = pick(rng, FLOAT_EDGES);
      b.writeFloatLE(v, at);
      return { bytes: b, what: `float ${v} at ${at}` };
    }
  }
}

describe('llama2.c .bin fuzzing', () => {
  it('400 seeded mutations of two small checkpoints (tied and untied): load or a ModelFileError naming the file', { timeout: 60_000 }, () => {
    const rng = createRng(0x11a2c);
    const bases = [
      llama2cBytes(rng, { dim: 8, hidden: 12, layers: 2, heads: 2, kvHeads: 1, vocab: 16, seqLen: 8 }),
      llama2cBytes(rng, { dim: 8, hidden: 12, layers: 1, heads: 4, kvHeads: 2, vocab: -10, seqLen: 4 }),
    ];
    const p = join(tmp, 'fuzz.bin');
    // The unmutated files load.
    for (const base of bases) {
      writeFileSync(p, base);
      assert.equal(loadLlama2c(p).config.hiddenSize, 8);
    }
    const { ok, refused, crossFile, problems } = expectLoadsOrNamesFile(
      p,
      400,
      (i) => {
        const { bytes, what } = mutateLlama2c(bases[i % 2] ?? Buffer.alloc(0), rng);
        writeFileSync(p, bytes);
        return { what };
      },
      () => {
        readLlama2cHeader(p);
        // Tensors are read when used: read them all, as the graph builder does.
        for (const w of loadLlama2c(p).weights.values()) void w.data;
      },
    );
    assert.ok(ok > 20 && refused > 150, `outcomes: ${ok} loaded, ${refused} refused`);
    assert.equal(crossFile, 0);
    assert.ok(problems.size >= 6, `only ${problems.size} distinct problems: ${[...problems].join(' | ')}`);
  });
});

// ---------------------------------------------------------------------------
// HF config.json and tokenizer.json
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Edge values a JSON field can be given. `RAW:` values are written into the text as they are (1e309 parses to Infinity). */
const WRONG_VALUES: readonly unknown[] = [
  null,
  'RAW:1e309',
  'RAW:-1e309',
  -1,
  0,
  1.5,
  2 ** 53 + 2,
  1e15,
  2 ** 31,
  'RAW:1e-400',
  '12',
  '',
  true,
  [],
  [3],
  {},
  { a: 1 },
];

/** JSON text for `obj`, with RAW: markers spliced in unquoted. */
function jsonText(obj: unknown): string {
  return JSON.stringify(obj).replace(/"RAW:([^"]*)"/g, '$1');
}

/** A text-level mutation: truncation, byte flips, structural characters, junk. */
function mutateText(text: string, rng: Rng): { text: string; what: string } {
  const b = Buffer.from(text, 'utf8');
  switch (rng.int(4)) {
    case 0: {
      const n = rng.int(b.length);
      return { text: b.subarray(0, n).toString('latin1'), what: `truncated to ${n}` };
    }
    case 1: {
      const k = 1 + rng.int(6);
      for (let i = 0; i < k; i++) b[rng.int(b.length)] = pick(rng, [0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30 + rng.int(10), 0x2d, 0x65, rng.int(256)]);
      return { text: b.toString('latin1'), what: `${k} bytes changed` };
    }
    case 2:
      return { text: `${text}${pick(rng, ['}', ']', ',', 'x', '\u0000', ' {"a":1}'])}`, what: 'trailing junk' };
    default:
      return { text: pick(rng, ['', ' ', 'null', '[]', '0', '"config"', '\u0000\u0001', '{']), what: 'replaced whole' };
  }
}

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Sets `path` (dot-separated) in a deep copy of `obj` to `v` (or deletes it when v is undefined). */
function setPath(obj: Json, path: string, v: unknown): Json {
  const out = structuredClone(obj);
  const keys = path.split('.');
  let cur: Json = out;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return out;
    cur = next as Json;
  }
  const last = keys.at(-1) ?? '';
  if (v === undefined) Reflect.deleteProperty(cur, last);
  else cur[last] = v;
  return out;
}

describe('HF config.json and tokenizer.json fuzzing', () => {
  const dir = join(tmp, 'hf');
  const model = randomModel({
    vocab: 40,
    hidden: 16,
    inter: 24,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 4,
    qkvBias: false,
    tied: false,
    ropeLayout: 'halves',
    ropeTheta: 10000,
    seed: 3,
  });
  writeHfFolder(dir, model);
  const configPath = join(dir, 'config.json');
  const tokenizerPath = join(dir, 'tokenizer.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Json;
  const tokenizer = JSON.parse(readFileSync(tokenizerPath, 'utf8')) as Json;
  const restore = () => {
    writeFileSync(configPath, JSON.stringify(config));
    writeFileSync(tokenizerPath, JSON.stringify(tokenizer));
  };

  it('300 seeded mutations of config.json: load or a ModelFileError naming config.json', { timeout: 60_000 }, () => {
    restore();
    assert.equal(loadModelSync(dir).config.hiddenSize, 16);
    const rng = createRng(0xc0f1);
    const fields = [
      'model_type',
      'hidden_size',
      'intermediate_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'head_dim',
      'vocab_size',
      'rms_norm_eps',
      'rope_theta',
      'rope_scaling',
      'max_position_embeddings',
      'tie_word_embeddings',
      'hidden_act',
      'attention_bias',
      'architectures',
      'sliding_window',
    ];
    const { ok, refused, crossFile, problems } = expectLoadsOrNamesFile(
      configPath,
      300,
      (i) => {
        if (i % 3 === 0) {
          const { text, what } = mutateText(JSON.stringify(config), rng);
          writeFileSync(configPath, text);
          return { what, crossFile: parses(text) };
        }
        const field = pick(rng, fields);
        const v =
          rng.int(8) === 0
            ? undefined
            : i % 3 === 1
              ? pick(rng, WRONG_VALUES)
              : { type: pick(rng, ['llama3', 'linear', 'yarn', 5]), factor: pick(rng, WRONG_VALUES) };
        writeFileSync(configPath, jsonText(setPath(config, field, v)));
        // A number, boolean or null where config.json has one (or a dropped field) is well-typed; strings, arrays and objects are not, except in the fields that hold them.
        const wellTyped = v === undefined || v === null || typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.startsWith('RAW:'));
        return {
          what: `${field} = ${v === undefined ? 'deleted' : jsonText(v)}`,
          crossFile: wellTyped || ['model_type', 'hidden_act', 'architectures', 'rope_scaling'].includes(field),
        };
      },
      () => loadModelSync(dir),
    );
    assert.ok(ok > 10 && refused > 150, `outcomes: ${ok} loaded, ${refused} refused`);
    assert.ok(crossFile < refused / 10, `${crossFile} of ${refused} refusals named another file`);
    assert.ok(problems.size >= 10, `only ${problems.size} distinct problems: ${[...problems].join(' | ')}`);
  });

  it('300 seeded mutations of tokenizer.json: load or a ModelFileError naming tokenizer.json', { timeout: 60_000 }, () => {
    restore();
    assert.equal(loadModelSync(dir).tokenizer.vocabSize, 40);
    const rng = createRng(0x70c);
    const vocab = (tokenizer['model'] as Json)['vocab'] as Record<string, number>;
    const firstToken = Object.keys(vocab)[5] ?? 'a';
    const fields = [
      'model',
      'model.type',
      'model.vocab',
      `model.vocab.${firstToken}`,
      'model.merges',
      'model.unk_token',
      'added_tokens',
      'normalizer',
      'pre_tokenizer',
      'post_processor',
      'decoder',
      'version',
    ];
    const { ok, refused, crossFile, problems } = expectLoadsOrNamesFile(
      tokenizerPath,
      300,
      (i) => {
        if (i % 2 === 0) {
          const { text, what } = mutateText(JSON.stringify(tokenizer), rng);
          writeFileSync(tokenizerPath, text);
          return { what, crossFile: parses(text) };
        }
        const field = pick(rng, fields);
        const v = rng.int(6) === 0 ? undefined : pick(rng, [...WRONG_VALUES, { type: 'Nonexistent' }, [{ id: 'x' }], [['a', 'b', 'c']], 'BPE', 'WordPiece']);
        writeFileSync(tokenizerPath, jsonText(setPath(tokenizer, field, v)));
        // Whatever the value, a tokenizer that builds may still disagree with the model's vocabulary size (checked against the folder).
        return { what: `${field} = ${v === undefined ? 'deleted' : jsonText(v)}`, crossFile: true };
      },
      () => loadModelSync(dir),
    );
    assert.ok(ok > 10 && refused > 100, `outcomes: ${ok} loaded, ${refused} refused`);
    assert.ok(crossFile < refused / 10, `${crossFile} of ${refused} refusals named another file`);
    assert.ok(problems.size >= 3, `only ${problems.size} distinct problems: ${[...problems].join(' | ')}`);
  });
});
