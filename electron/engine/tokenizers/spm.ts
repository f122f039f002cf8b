/**
 * The GGUF "llama" SentencePiece tokenizer (tokenizer.ggml.model = "llama"),
 * written by hand to match llama.cpp's `llm_tokenizer_spm` exactly
 * (src/llama-vocab.cpp, ggml-org/llama.cpp; checked against llama.cpp's own
 * test vectors for its Llama SPM vocabulary, ggml-vocab-llama-spm.gguf.{inp,out}).
 *
 * Encoding, as llama.cpp does it:
 *  1. Special-token partition: user-defined tokens (and, with `parseSpecial`,
 *     control and unknown tokens) are cut out of the text as whole strings,
 *     longest first; each becomes its id.
 *  2. Every remaining text fragment gets a leading ' ' when `addSpacePrefix`
 *     and it starts the text or follows a special token; then ' ' → '▁' (U+2581).
 *  3. The fragment is split into UTF-8 code points (by lead byte), and adjacent
 *     symbols are merged through a priority queue: the pair whose
 *     concatenation is a vocabulary token with the highest score goes first,
 *     ties to the leftmost pair.
 *  4. Each final symbol is emitted as its token; a symbol that is not a token
 *     is re-segmented along the merges that built it, and whatever still is no
 *     token is emitted byte by byte as `<0xNN>` (byte fallback).
 * Everything works on UTF-8 bytes (held as a "binary string", one char per
 * byte), as the C++ does, so merges and lookups are byte-exact.
 *
 * Decoding: control and unknown tokens give nothing, '▁' → ' ', byte tokens
 * give their raw byte, user-defined tokens their text; the bytes are decoded
 * as UTF-8 at the end (invalid sequences → U+FFFD). With `addSpacePrefix`, one
 * leading space is dropped from the first piece and from the first piece after
 * every control/user-defined token — the inverse of step 2, so that
 * decode(encode(s)) === s. (llama.cpp's `llama_detokenize` drops it only from
 * the very first token, and keeps it when that first token is a removed BOS;
 * SentencePiece, llama2.c and HF drop it after BOS, which is what we want.)
 *
 * Deviations from llama.cpp, none of which the Llama-2 vocab or stories260K
 * can reach: a byte with neither `<0xNN>` nor a one-byte token gives the unknown
 * id (llama.cpp throws std::out_of_range); EOS is never appended by encode
 * (`tokenizer.ggml.add_eos_token` is read by nobody here — generation never wants it).
 */
import { decodeUtf8 } from './bytes.ts';
import { Buffer } from 'node:buffer';
import { ModelFileError } from '../model.ts';
import type { Tokenizer } from '../model.ts';

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
export const SpmTokenType = {
  undefined: 0,
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface SpmVocab {
  /** Token texts, spaces written as '▁' (U+2581), byte tokens as `<0xNN>`. */
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  /** One of SpmTokenType per token. */
  readonly types: readonly number[];
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  /** Prepend BOS when encode() is not told otherwise. */
  readonly addBos: boolean;
  /** Prefix each text fragment with a space (SentencePiece's dummy prefix). */
  readonly addSpacePrefix: boolean;
}

export interface SpmEncodeOptions {
  readonly addBos?: boolean;
  /** Match control and unknown tokens written in the text (e.g. "<s>") as those tokens. Default false, as llama.cpp's tokenizer tests. */
  readonly parseSpecial?: boolean;
}

export interface SpmTokenizer extends Tokenizer {
  readonly vocab: SpmVocab;
  encode(text: string, opts?: SpmEncodeOptions): number[];
}

const SPACE = ' ';
const ESCAPED_SPACE = '\u2581';

// -- GGUF metadata ---------------------------------------------------------

const KEY = {
  model: 'tokenizer.ggml.model',
  tokens: 'tokenizer.ggml.tokens',
  scores: 'tokenizer.ggml.scores',
  types: 'tokenizer.ggml.token_type',
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
} as const;

function numberArray(metadata: ReadonlyMap<string, unknown>, key: string, file: string, n: number, integer: boolean): number[] | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ModelFileError(file, `metadata '${key}' is not an array`);
  if (v.length < n) throw new ModelFileError(file, `metadata '${key}' has ${v.length} entries for ${n} tokens`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x: unknown = v[i];
    const y = typeof x === 'bigint' ? Number(x) : x;
    if (typeof y !== 'number' || !Number.isFinite(y) || (integer && !Number.isInteger(y))) {
      throw new ModelFileError(file, `metadata '${key}'[${i}] is not ${integer ? 'an integer' : 'a finite number'}`);
    }
    out[i] = y;
  }
  return out;
}

function tokenId(metadata: ReadonlyMap<string, unknown>, key: string, file: string, n: number, fallback: number): number | undefined {
  const v = metadata.get(key);
  // llama.cpp: an absent key keeps the default; an id outside the vocabulary
  // is warned about and the default kept; a default outside it disables the token.
  const def = fallback < n ? fallback : undefined;
  if (v === undefined) return def;
  const x = typeof v === 'bigint' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ModelFileError(file, `metadata '${key}' is not a token id`);
  return x < n ? x : def;
}

function flag(metadata: ReadonlyMap<string, unknown>, key: string, file: string, fallback: boolean): boolean {
  const v = metadata.get(key);
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ModelFileError(file, `metadata '${key}' is not a boolean`);
  return v;
}

/**
 * The SentencePiece vocabulary of a GGUF file, from its metadata (as read by
 * formats/gguf.ts). Defaults are llama.cpp's for the "llama" model: scores 0,
 * types normal, BOS 1, EOS 2, unknown 0, add BOS, add the space prefix.
 * Throws ModelFileError naming `file` when a key is missing or ill-typed.
 */
export function spmVocabFromGguf(metadata: ReadonlyMap<string, unknown>, file: string): SpmVocab {
  const model = metadata.get(KEY.model);
  if (model !== undefined && model !== 'llama') {
    throw new ModelFileError(file, `tokenizer '${String(model)}' is not supported (only the "llama" SentencePiece vocabulary is)`, 'E_MODEL_UNSUPPORTED');
  }
  const raw = metadata.get(KEY.tokens);
  if (raw === undefined) throw new ModelFileError(file, `metadata '${KEY.tokens}' is missing (no tokenizer vocabulary)`);
  if (!Array.isArray(raw)) throw new ModelFileError(file, `metadata '${KEY.tokens}' is not an array`);
  const n = raw.length;
  if (n === 0) throw new ModelFileError(file, `metadata '${KEY.tokens}' is empty`);
  const tokens = new Array<string>(n);
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const t: unknown = raw[i];
    if (typeof t !== 'string') throw new ModelFileError(file, `metadata '${KEY.tokens}'[${i}] is not a string`);
    const word = t === '' ? `[EMPTY_${i}]` : t; // as llama.cpp
    const prev = seen.get(word);
    if (prev !== undefined) throw new ModelFileError(file, `duplicate token in vocabulary: '${word}' has ids ${prev} and ${i}`);
    seen.set(word, i);
    tokens[i] = word;
  }
  const scores = numberArray(metadata, KEY.scores, file, n, false) ?? new Array<number>(n).fill(0);
  const types = numberArray(metadata, KEY.types, file, n, true) ?? new Array<number>(n).fill(SpmTokenType.normal);
  const bosId = tokenId(metadata, KEY.bos, file, n, 1);
  const eosId = tokenId(metadata, KEY.eos, file, n, 2);
  const unkId = tokenId(metadata, KEY.unk, file, n, 0);
  const addBos = flag(metadata, KEY.addBos, file, true);
  const addSpacePrefix = flag(metadata, KEY.addSpacePrefix, file, true);
  if (addBos && bosId === undefined) throw new ModelFileError(file, `${KEY.addBos} is true, but ${KEY.bos} is not set`);
  return { tokens, scores, types, bosId, eosId, unkId, addBos, addSpacePrefix };
}

// -- UTF-8 as binary strings ----------------------------------------------

const utf8Encoder = new TextEncoder();

/** UTF-8 bytes of `s` as a string with one char (0–255) per byte. */
function toBinary(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** llama.cpp's unicode_len_utf8: sequence length from the lead byte's high nibble. */
const UTF8_LEN = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4] as const;

// -- Priority queue (llm_bigram_spm::queue) ---------------------------------

/**
 * Max-heap of bigrams (left, right, score, size): the highest score first,
 * ties to the smallest `left` — llm_bigram_spm::comparator. Kept as parallel
 * typed arrays: a heap of objects is several times slower on long texts.
 * `size` is an opaque integer to the queue (llama2c.ts stores the merged id there).
 */
export class BigramQueue {
  private score = new Float64Array(64);
  private left = new Int32Array(64);
  private right = new Int32Array(64);
  private sz = new Int32Array(64);
  private n = 0;
  /** Filled by pop(). */
  topLeft = 0;
  topRight = 0;
  topSize = 0;

  private before(i: number, j: number): boolean {
    const a = this.score[i] as number;
    const b = this.score[j] as number;
    return a > b || (a === b && (this.left[i] as number) < (this.left[j] as number));
  }
  private move(from: number, to: number): void {
    this.score[to] = this.score[from] as number;
    this.left[to] = this.left[from] as number;
    this.right[to] = this.right[from] as number;
    this.sz[to] = this.sz[from] as number;
  }
  private grow(): void {
    const cap = this.score.length * 2;
    const f = new Float64Array(cap);
    f.set(this.score);
    this.score = f;
    for (const k of ['left', 'right', 'sz'] as const) {
      const a = new Int32Array(cap);
      a.set(this[k]);
      this[k] = a;
    }
  }
  push(left: number, right: number, score: number, size: number): void {
    // Slot n+1 is scratch space for the element being sifted.
    if (this.n + 2 > this.score.length) this.grow();
    const tmp = this.n + 1;
    this.score[tmp] = score;
    this.left[tmp] = left;
    this.right[tmp] = right;
    this.sz[tmp] = size;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(tmp, p)) break;
      this.move(p, i);
      i = p;
    }
    this.move(tmp, i);
  }
  /** Removes the top bigram into topLeft/topRight/topSize; false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    this.topLeft = this.left[0] as number;
    this.topRight = this.right[0] as number;
    this.topSize = this.sz[0] as number;
    const n = --this.n;
    if (n === 0) return true;
    // Sift the last element down from the root.
    const last = n;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(r, l) ? r : l;
      if (!this.before(c, last)) break;
      this.move(c, i);
      i = c;
    }
    this.move(last, i);
    return true;
  }
}

// -- Tokenizer ---------------------------------------------------------------

type Fragment = { readonly text: string } | { readonly token: number };

/** A token cut out of the text before SPM runs; `parsedAlways` for user-defined tokens, else only with parseSpecial. */
interface SpecialToken {
  readonly id: number;
  readonly text: string;
  readonly bytes: number;
  readonly parsedAlways: boolean;
}

/** What encode and decode look up, built once per vocabulary. */
interface SpmTables {
  readonly vocab: SpmVocab;
  readonly n: number;
  /** Token text (UTF-8 bytes as a binary string) → first id with it. */
  readonly byText: ReadonlyMap<string, number>;
  readonly specials: readonly SpecialToken[];
  /** Byte → its token (`<0xNN>`, else the one-byte token, else unknown), −1 when none. */
  readonly byteTokens: readonly number[];
  /** Bytes each token contributes to decoded text, filled as tokens are decoded. */
  readonly pieceBytes: (Uint8Array | undefined)[];
}

const typeOf = (vocab: SpmVocab, id: number): number => vocab.types[id] ?? SpmTokenType.normal;

function textIndex(vocab: SpmVocab): Map<string, number> {
  const byText = new Map<string, number>();
  for (let id = 0; id < vocab.tokens.length; id++) {
    const key = toBinary(vocab.tokens[id] as string);
    if (!byText.has(key)) byText.set(key, id);
  }
  return byText;
}

/** llama.cpp's cache_special_tokens: longest UTF-8 text first, ties by id (std::sort leaves those unspecified). */
function specialTokens(vocab: SpmVocab): SpecialToken[] {
  const specials: SpecialToken[] = [];
  for (let id = 0; id < vocab.tokens.length; id++) {
    const t = typeOf(vocab, id);
    const text = vocab.tokens[id] as string;
    if (text === '') continue;
    const bytes = utf8Encoder.encode(text).length;
    if (t === SpmTokenType.userDefined) specials.push({ id, text, bytes, parsedAlways: true });
    else if (t === SpmTokenType.control || t === SpmTokenType.unknown) specials.push({ id, text, bytes, parsedAlways: false });
  }
  return specials.sort((a, b) => b.bytes - a.bytes || a.id - b.id);
}

function byteTokenIds(vocab: SpmVocab, byText: ReadonlyMap<string, number>): number[] {
  const HEX = '0123456789ABCDEF';
  const byteTokens: number[] = [];
  for (let b = 0; b < 256; b++) {
    const id = byText.get(`<0x${HEX[b >> 4]}${HEX[b & 15]}>`) ?? byText.get(String.fromCharCode(b)) ?? vocab.unkId;
    byteTokens.push(id ?? -1);
  }
  return byteTokens;
}

function byteToToken(t: SpmTables, b: number): number {
  const id = t.byteTokens[b] ?? -1;
  if (id < 0) throw new Error(`SPM vocabulary has no token for byte 0x${b.toString(16).padStart(2, '0')} and no unknown token`);
  return id;
}

/** Step 1: the text cut at every special token that applies, longest first. */
function partition(t: SpmTables, text: string, parseSpecial: boolean): Fragment[] {
  let frags: Fragment[] = [{ text }];
  for (const s of t.specials) {
    if (!s.parsedAlways && !parseSpecial) continue;
    const next: Fragment[] = [];
    for (const f of frags) {
      if (!('text' in f)) {
        next.push(f);
        continue;
      }
      let from = 0;
      for (;;) {
        const at = f.text.indexOf(s.text, from);
        if (at < 0) break;
        if (at > from) next.push({ text: f.text.slice(from, at) });
        next.push({ token: s.id });
        from = at + s.text.length;
      }
      if (from < f.text.length) next.push({ text: f.text.slice(from) });
    }
    frags = next;
  }
  return frags;
}

/** A fragment's symbols: byte offset and length (0 once merged away), doubly linked. */
interface Symbols {
  readonly start: Int32Array;
  readonly len: Int32Array;
  readonly prev: Int32Array;
  readonly next: Int32Array;
  readonly count: number;
}

/** Step 3's start: one symbol per UTF-8 code point (by lead byte). */
function splitSymbols(text: string): Symbols {
  const cap = text.length;
  const start = new Int32Array(cap);
  const len = new Int32Array(cap);
  const prev = new Int32Array(cap);
  const next = new Int32Array(cap);
  let count = 0;
  for (let offs = 0; offs < text.length; count++) {
    const l = Math.min(UTF8_LEN[text.charCodeAt(offs) >> 4] ?? 1, text.length - offs);
    start[count] = offs;
    len[count] = l;
    offs += l;
    prev[count] = count - 1;
    next[count] = offs === text.length ? -1 : count + 1;
  }
  return { start, len, prev, next, count };
}

/** One fragment's merge state: its text, symbols, queued bigrams and the merge that built each piece. */
interface Session {
  readonly t: SpmTables;
  readonly text: string;
  readonly sym: Symbols;
  readonly queue: BigramQueue;
  readonly revMerge: Map<string, [number, number]>;
}

function tryAddBigram(ss: Session, left: number, right: number): void {
  if (left === -1 || right === -1) return;
  const { start, len } = ss.sym;
  const s = start[left] as number;
  const piece = ss.text.slice(s, s + (len[left] as number) + (len[right] as number));
  const id = ss.t.byText.get(piece);
  if (id === undefined) return;
  ss.queue.push(left, right, ss.t.vocab.scores[id] as number, piece.length);
  ss.revMerge.set(piece, [left, right]);
}

/** Step 3: merges adjacent symbols, the best-scoring vocabulary pair first, until none is left. */
function mergeSymbols(ss: Session): void {
  const { len, prev, next, count } = ss.sym;
  for (let i = 1; i < count; i++) tryAddBigram(ss, i - 1, i);
  const queue = ss.queue;
  while (queue.pop()) {
    const { topLeft: left, topRight: right, topSize: size } = queue;
    const ln = len[left] as number;
    const rn = len[right] as number;
    // One of the two was merged away since this pair was queued.
    if (ln === 0 || rn === 0 || ln + rn !== size) continue;
    len[left] = ln + rn;
    len[right] = 0;
    const rnext = next[right] as number;
    next[left] = rnext;
    if (rnext >= 0) prev[rnext] = left;
    tryAddBigram(ss, prev[left] as number, left);
    tryAddBigram(ss, left, rnext);
  }
}

/** Step 4 for one symbol: its token, else the merges that built it, else its bytes. */
function resegment(ss: Session, sym: number, out: number[]): void {
  const s = ss.sym.start[sym] as number;
  const piece = ss.text.slice(s, s + (ss.sym.len[sym] as number));
  const id = ss.t.byText.get(piece);
  if (id !== undefined) {
    out.push(id);
    return;
  }
  const p = ss.revMerge.get(piece);
  if (p === undefined) {
    for (let j = 0; j < piece.length; j++) out.push(byteToToken(ss.t, piece.charCodeAt(j)));
    return;
  }
  resegment(ss, p[0], out);
  resegment(ss, p[1], out);
}

/** llm_tokenizer_spm_session::tokenize on one escaped fragment (UTF-8 binary string). */
function session(t: SpmTables, text: string, out: number[]): void {
  const sym = splitSymbols(text);
  if (sym.count === 0) return;
  const ss: Session = { t, text, sym, queue: new BigramQueue(), revMerge: new Map() };
  mergeSymbols(ss);
  for (let i = 0; i !== -1; i = sym.next[i] as number) resegment(ss, i, out);
}

function encode(t: SpmTables, text: string, opts?: SpmEncodeOptions): number[] {
  const { vocab } = t;
  const out: number[] = [];
  const addBos = opts?.addBos ?? vocab.addBos;
  if (addBos) {
    if (vocab.bosId === undefined) throw new Error('SPM vocabulary has no BOS token');
    out.push(vocab.bosId);
  }
  if (text === '') return out;
  let prevSpecial = true;
  for (const f of partition(t, text, opts?.parseSpecial ?? false)) {
    if ('text' in f) {
      const s = (vocab.addSpacePrefix && prevSpecial ? SPACE : '') + f.text;
      session(t, toBinary(s.replaceAll(SPACE, ESCAPED_SPACE)), out);
      prevSpecial = false;
    } else {
      out.push(f.token);
      prevSpecial = true;
    }
  }
  return out;
}

/** Bytes a token contributes to decoded text (llama.cpp token_to_piece, special = false). */
function bytesOf(t: SpmTables, id: number): Uint8Array {
  const cached = t.pieceBytes[id];
  if (cached) return cached;
  const text = t.vocab.tokens[id] as string;
  let bytes: Uint8Array;
  switch (typeOf(t.vocab, id)) {
    case SpmTokenType.normal:
      bytes = utf8Encoder.encode(text.replaceAll(ESCAPED_SPACE, SPACE));
      break;
    case SpmTokenType.userDefined:
      bytes = utf8Encoder.encode(text);
      break;
    case SpmTokenType.byte:
      bytes = Uint8Array.of(parseInt(text.slice(3, 5), 16) & 0xff);
      break;
    default: // control, unknown, unused, undefined: nothing
      bytes = new Uint8Array(0);
  }
  t.pieceBytes[id] = bytes;
  return bytes;
}

function decode(t: SpmTables, ids: readonly number[]): string {
  const { vocab, n } = t;
  const chunks: Uint8Array[] = [];
  let strip = vocab.addSpacePrefix;
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= n) throw new RangeError(`token id ${id} is outside the vocabulary (${n} tokens)`);
    const type = typeOf(vocab, id);
    if (type === SpmTokenType.control || type === SpmTokenType.unknown) {
      strip = vocab.addSpacePrefix;
      continue;
    }
    let bytes = bytesOf(t, id);
    if (strip && bytes.length > 0 && bytes[0] === 0x20) bytes = bytes.subarray(1);
    strip = type === SpmTokenType.userDefined && vocab.addSpacePrefix;
    chunks.push(bytes);
  }
  return decodeUtf8(chunks);
}

function piece(t: SpmTables, id: number): string {
  const { vocab, n } = t;
  if (!Number.isInteger(id) || id < 0 || id >= n) throw new RangeError(`token id ${id} is outside the vocabulary (${n} tokens)`);
  const text = vocab.tokens[id] as string;
  switch (typeOf(vocab, id)) {
    case SpmTokenType.normal:
      return text.replaceAll(ESCAPED_SPACE, SPACE);
    case SpmTokenType.byte: {
      const b = parseInt(text.slice(3, 5), 16);
      return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : text;
    }
    default:
      return text;
  }
}

/** Builds the tokenizer for `vocab`. */
export function createSpmTokenizer(vocab: SpmVocab): SpmTokenizer {
  const n = vocab.tokens.length;
  if (vocab.scores.length < n || vocab.types.length < n)
    throw new Error(`SPM vocabulary: ${n} tokens but ${vocab.scores.length} scores and ${vocab.types.length} types`);
  const byText = textIndex(vocab);
  const t: SpmTables = {
    vocab,
    n,
    byText,
    specials: specialTokens(vocab),
    byteTokens: byteTokenIds(vocab, byText),
    pieceBytes: new Array<Uint8Array | undefined>(n),
  };
  return {
    vocab,
    vocabSize: n,
    bosId: vocab.bosId,
    eosIds: vocab.eosId === undefined ? [] : [vocab.eosId],
    encode: (text, opts) => encode(t, text, opts),
    decode: (ids) => decode(t, ids),
    piece: (id) => piece(t, id),
  };
}
