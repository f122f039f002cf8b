/**
 * llama2.c's tokenizer (`tokenizer.bin`, e.g. stories260K's `tok512.bin`) and
 * its encode/decode from run.c, as a `Tokenizer`.
 *
 * File: int32 max_token_len, then per token (float32 score, int32 len, `len`
 * bytes), little-endian. The file does not say how many tokens it holds (run.c
 * takes the model header's vocab_size); without `vocabSize` we read records
 * to the end of the file.
 *
 * Encode (run.c `encode`): BOS (id 1) when asked; the token for " " if the text
 * is non-empty (the dummy prefix); each UTF-8 code point as its token, or as
 * byte fallbacks (id = byte + 3) when it has none; then repeatedly merge the
 * adjacent pair whose concatenation is a token with the highest score (ties:
 * leftmost). Decode (run.c `decode`): a piece that follows BOS — here also the
 * first piece of the sequence — loses its leading space; `<0xNN>` gives the raw
 * byte; BOS/EOS (ids 1, 2) give nothing. Bytes are UTF-8 decoded at the end.
 * Token texts are compared as bytes, as run.c's strcmp does.
 */
import { decodeUtf8 } from './bytes.ts';
import { readFileSync } from 'node:fs';
import { ModelFileError } from '../model.ts';
import type { Tokenizer } from '../model.ts';
import { BigramQueue } from './spm.ts';

export interface Llama2cVocab {
  readonly maxTokenLength: number;
  /** Token texts as raw bytes. */
  readonly pieces: readonly Uint8Array[];
  readonly scores: readonly number[];
}

export interface Llama2cTokenizer extends Tokenizer {
  readonly vocab: Llama2cVocab;
}

/** run.c's fixed ids. */
export const LLAMA2C_UNK = 0;
export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;
/** Byte b falls back to id b + 3. */
const BYTE_OFFSET = 3;

/** Parses a llama2.c tokenizer file's bytes; throws ModelFileError naming `file` when it is malformed or holds fewer than `vocabSize` tokens. */
export function parseLlama2cVocab(data: Uint8Array, file: string, vocabSize?: number): Llama2cVocab {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 4) throw new ModelFileError(file, `llama2.c tokenizer is ${data.byteLength} bytes, too short for its header`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) throw new ModelFileError(file, `llama2.c tokenizer declares max_token_len ${maxTokenLength}`);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let o = 4;
  while (vocabSize === undefined ? o < data.byteLength : pieces.length < vocabSize) {
    const i = pieces.length;
    if (o + 8 > data.byteLength)
      throw new ModelFileError(
        file,
        `llama2.c tokenizer ends inside token ${i} (offset ${o}, ${data.byteLength} bytes)${vocabSize === undefined ? '' : `; expected ${vocabSize} tokens`}`,
      );
    const score = view.getFloat32(o, true);
    const len = view.getInt32(o + 4, true);
    o += 8;
    if (len < 0 || len > maxTokenLength) throw new ModelFileError(file, `llama2.c tokenizer token ${i} has length ${len} (max_token_len ${maxTokenLength})`);
    if (o + len > data.byteLength)
      throw new ModelFileError(file, `llama2.c tokenizer token ${i} runs past the end of the file (offset ${o} + ${len}, ${data.byteLength} bytes)`);
    if (!Number.isFinite(score)) throw new ModelFileError(file, `llama2.c tokenizer token ${i} has score ${score}`);
    pieces.push(Uint8Array.prototype.slice.call(data, o, o + len));
    scores.push(score);
    o += len;
  }
  if (pieces.length < BYTE_OFFSET + 256)
    throw new ModelFileError(
      file,
      `llama2.c tokenizer has ${pieces.length} tokens; needs at least ${BYTE_OFFSET + 256} (unk, BOS, EOS and 256 byte fallbacks)`,
    );
  return { maxTokenLength, pieces, scores };
}

/** Reads and parses a llama2.c tokenizer file (ModelFileError when it cannot be read or is malformed). */
export function loadLlama2cVocab(path: string, vocabSize?: number): Llama2cVocab {
  let data: Uint8Array;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new ModelFileError(path, `cannot read the llama2.c tokenizer: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseLlama2cVocab(data, path, vocabSize);
}

/** Bytes as a binary string (one char per byte), the key for byte-exact lookups. */
function binary(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>/;

/** What encode and decode look up, built once per vocabulary. */
interface Llama2cTables {
  readonly vocab: Llama2cVocab;
  readonly n: number;
  /** Each token's bytes as a binary string. */
  readonly texts: readonly string[];
  /** Binary string → first id with it. */
  readonly lookup: ReadonlyMap<string, number>;
  readonly spaceId: number | undefined;
}

function encode(t: Llama2cTables, text: string, opts?: { readonly addBos?: boolean }): number[] {
  const tokens: number[] = [];
  if (opts?.addBos ?? true) tokens.push(LLAMA2C_BOS);
  if (text === '') return tokens;
  // run.c pushes str_lookup(" ") as is (-1 if absent); fall back to the byte instead.
  tokens.push(t.spaceId ?? 0x20 + BYTE_OFFSET);
  const bytes = binary(utf8Encoder.encode(text));
  for (let i = 0; i < bytes.length;) {
    // A code point: a byte plus its continuation bytes, at most 4 (run.c's grouping).
    let j = i + 1;
    while (j < bytes.length && (bytes.charCodeAt(j) & 0xc0) === 0x80 && j - i < 4) j++;
    const cp = bytes.slice(i, j);
    const id = t.lookup.get(cp);
    if (id !== undefined) tokens.push(id);
    else for (let k = 0; k < cp.length; k++) tokens.push(cp.charCodeAt(k) + BYTE_OFFSET);
    i = j;
  }
  return merge(t, tokens);
}

/**
 * run.c's merge loop: while some adjacent pair concatenates to a token,
 * replace the pair whose token has the highest score (strictly above -1e10;
 * ties: the leftmost) by that token. run.c rescans the whole list per merge
 * (quadratic); a priority queue with stale entries skipped picks the same
 * pair every step, since list order is index order.
 */
function merge(t: Llama2cTables, tokens: number[]): number[] {
  const n = tokens.length;
  const tok = Int32Array.from(tokens);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const alive = new Uint8Array(n).fill(1);
  const queue = new BigramQueue();
  const mergedId = (l: number, r: number): number | undefined => t.lookup.get((t.texts[tok[l] as number] as string) + (t.texts[tok[r] as number] as string));
  const tryAdd = (l: number, r: number): void => {
    if (l < 0 || r < 0) return;
    const id = mergedId(l, r);
    if (id === undefined) return;
    const score = t.vocab.scores[id] as number;
    if (score > -1e10) queue.push(l, r, score, id);
  };
  for (let i = 0; i + 1 < n; i++) tryAdd(i, i + 1);
  while (queue.pop()) {
    const { topLeft: l, topRight: r, topSize: id } = queue;
    // Stale: one side merged away or changed since the pair was queued.
    if (!alive[l] || !alive[r] || next[l] !== r || mergedId(l, r) !== id) continue;
    tok[l] = id;
    alive[r] = 0;
    const rn = next[r] as number;
    next[l] = rn;
    if (rn >= 0) prev[rn] = l;
    tryAdd(prev[l] as number, l);
    tryAdd(l, rn);
  }
  const out: number[] = [];
  for (let i = n > 0 ? 0 : -1; i !== -1; i = next[i] as number) out.push(tok[i] as number);
  return out;
}

/** run.c decode(prev, token) for one token, as bytes. */
function pieceBytes(t: Llama2cTables, id: number, afterBos: boolean): Uint8Array {
  let p = t.vocab.pieces[id] as Uint8Array;
  if (afterBos && p[0] === 0x20) p = p.subarray(1);
  const m = BYTE_PIECE.exec(t.texts[id] as string);
  return m ? Uint8Array.of(parseInt(m[1] as string, 16)) : p;
}

function check(t: Llama2cTables, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= t.n) throw new RangeError(`token id ${id} is outside the vocabulary (${t.n} tokens)`);
}

function decode(t: Llama2cTables, ids: readonly number[]): string {
  const chunks: Uint8Array[] = [];
  let afterBos = true;
  for (const id of ids) {
    check(t, id);
    if (id === LLAMA2C_BOS || id === LLAMA2C_EOS) {
      afterBos = id === LLAMA2C_BOS;
      continue;
    }
    const b = pieceBytes(t, id, afterBos);
    afterBos = false;
    chunks.push(b);
  }
  return decodeUtf8(chunks);
}

function piece(t: Llama2cTables, id: number): string {
  check(t, id);
  const m = BYTE_PIECE.exec(t.texts[id] as string);
  if (m) {
    const b = parseInt(m[1] as string, 16);
    if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  }
  return utf8Decoder.decode(t.vocab.pieces[id]);
}

export function createLlama2cTokenizer(vocab: Llama2cVocab): Llama2cTokenizer {
  const n = vocab.pieces.length;
  const texts = vocab.pieces.map(binary);
  const lookup = new Map<string, number>();
  texts.forEach((t, id) => {
    if (!lookup.has(t)) lookup.set(t, id);
  });
  const t: Llama2cTables = { vocab, n, texts, lookup, spaceId: lookup.get(' ') };
  return {
    vocab,
    vocabSize: n,
    bosId: LLAMA2C_BOS,
    eosIds: [LLAMA2C_EOS],
    encode: (text, opts) => encode(t, text, opts),
    decode: (ids) => decode(t, ids),
    piece: (id) => piece(t, id),
  };
}

/** loadLlama2cVocab + createLlama2cTokenizer. */
export function loadLlama2cTokenizer(path: string, vocabSize?: number): Llama2cTokenizer {
  return createLlama2cTokenizer(loadLlama2cVocab(path, vocabSize));
}
