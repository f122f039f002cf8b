/**
 * The GGUF byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2": Llama 3,
 * Qwen2/2.5, SmolLM, GPT-2-style vocabularies): the metadata is turned into
 * a Hugging Face `tokenizer.json` object in memory and run by
 * @huggingface/tokenizers through `createHfTokenizer` (hf.ts). Checked against
 * llama.cpp's own tokenizer test vectors for its Llama 3 and Qwen2 vocabularies
 * (ggml-vocab-{llama-bpe,qwen2}.gguf.{inp,out}).
 *
 * The tokenizer.json, field by field, as llama.cpp reads the GGUF (src/llama-vocab.cpp, ggml-org/llama.cpp):
 *  - model: BPE with vocab = `tokenizer.ggml.tokens` (id = index; an empty
 *    token becomes `[EMPTY_<id>]`, a duplicate is an error, both as llama.cpp),
 *    merges = `tokenizer.ggml.merges` ("a b", split at the first space after
 *    the first character; a repeated pair keeps its first rank), no unknown
 *    token, no byte fallback, `ignore_merges` where llama.cpp sets it (the Llama 3 group).
 *  - pre_tokenizer: the Split regexes llama.cpp picks for `tokenizer.ggml.pre`
 *    (its llm_tokenizer_bpe regex_exprs, one Split per regex, matches isolated),
 *    then ByteLevel without regex and without a prefix space. Only the
 *    byte-level families whose regexes are plain tiktoken-style patterns are
 *    taken (`SUPPORTED_BPE_PRE`); any other value is E_MODEL_UNSUPPORTED.
 *    A missing `pre` is llama.cpp's "default" (it warns that quality degrades).
 *  - normalizer: none — llama.cpp applies none (HF's Qwen2 tokenizer.json has NFC).
 *  - added_tokens: token_type 3 (control) and 2 (unknown) → special added
 *    tokens, 4 (user-defined) → non-special added tokens; their GGUF text is
 *    the raw text (the converter stores them pre-normalized), so they decode verbatim.
 *  - post_processor: TemplateProcessing putting BOS in front when BOS is added.
 *  - decoder: ByteLevel.
 *
 * tokenizer_config.json equivalents: bos_token / eos_token from
 * `tokenizer.ggml.bos_token_id` / `eos_token_id` (no defaults — llama.cpp's
 * default of 11 for both is a GPT-2 leftover); add_bos_token from
 * `tokenizer.ggml.add_bos_token`, else llama.cpp's default for the `pre`
 * (true for the Llama 3 group, false otherwise); clean_up_tokenization_spaces
 * false, so decode(encode(s)) === s; the chat template from `tokenizer.chat_template`.
 * End of generation (`eosIds`): EOS, `eot_token_id`, `eom_token_id` and the tokens
 * llama.cpp recognises as end-of-generation by their text ("<|eot_id|>", "<|im_end|>", …).
 *
 * Deviations from llama.cpp: control tokens written in the text are matched as
 * those tokens (transformers' behaviour, and what hf.ts does; llama.cpp only
 * with parse_special); a symbol BPE leaves that is not in the vocabulary is
 * dropped (llama.cpp emits its single-byte tokens) — no byte-level vocabulary
 * lacks one of its 256 byte symbols.
 */
import type { GgufValue } from '../formats/gguf.ts';
import { ModelFileError } from '../model.ts';
import type { Tokenizer } from '../model.ts';
import { createHfTokenizer, type HfTokenizer } from './hf.ts';
import { createSpmTokenizer, spmVocabFromGguf } from './spm.ts';

// -- Pre-tokenizer regexes (llama.cpp's llm_tokenizer_bpe, "adapted" forms) --

/** LLAMA_VOCAB_PRE_TYPE_LLAMA3 (also DBRX, SMAUG): tiktoken cl100k with case-folded contractions spelt out. */
const LLAMA3_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** LLAMA_VOCAB_PRE_TYPE_QWEN2 (also STABLELM2, HUNYUAN, SOLAR_OPEN): as Llama 3 but one digit per piece. */
const QWEN2_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** LLAMA_VOCAB_PRE_TYPE_GPT2 (also MPT, OLMO, JAIS, TRILLION, GRANITE_DOCLING). */
const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** LLAMA_VOCAB_PRE_TYPE_DEFAULT: four regexes applied in turn. */
const DEFAULT_REGEXES = ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_REGEX, '\\p{N}+', '[0-9][0-9][0-9]'] as const;
/** LLAMA_VOCAB_PRE_TYPE_STARCODER (also REFACT, COMMAND_R, SMOLLM, CODESHELL, EXAONE, MINERVA, MELLUM2): digits split, then GPT-2. */
const STARCODER_REGEXES = ['\\p{N}', GPT2_REGEX] as const;

interface PreTokenizerSpec {
  readonly regexes: readonly string[];
  /** Look a whole pre-token up in the vocabulary before merging (llama.cpp's ignore_merges). */
  readonly ignoreMerges: boolean;
  /** add_bos when the GGUF does not say. */
  readonly addBos: boolean;
}

const LLAMA3: PreTokenizerSpec = { regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true };
const LLAMA3_REGEX_ONLY: PreTokenizerSpec = { regexes: [LLAMA3_REGEX], ignoreMerges: false, addBos: false };
const QWEN2: PreTokenizerSpec = { regexes: [QWEN2_REGEX], ignoreMerges: false, addBos: false };
const GPT2: PreTokenizerSpec = { regexes: [GPT2_REGEX], ignoreMerges: false, addBos: false };
const DEFAULT: PreTokenizerSpec = { regexes: DEFAULT_REGEXES, ignoreMerges: false, addBos: false };
const STARCODER: PreTokenizerSpec = { regexes: STARCODER_REGEXES, ignoreMerges: false, addBos: false };

/** `tokenizer.ggml.pre` values → pre-tokenizer, as llama.cpp's llama_vocab::impl::load maps them. */
const PRE_TOKENIZERS: ReadonlyMap<string, PreTokenizerSpec> = new Map<string, PreTokenizerSpec>([
  ['default', DEFAULT],
  ...(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'] as const).map((p) => [p, LLAMA3] as const),
  ...(['dbrx', 'smaug-bpe'] as const).map((p) => [p, LLAMA3_REGEX_ONLY] as const),
  ...(['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'megrez', 'stablelm2', 'hunyuan', 'solar-open'] as const).map((p) => [p, QWEN2] as const),
  ...(
    [
      'gpt-2',
      'phi-2',
      'jina-es',
      'jina-de',
      'gigachat',
      'jina-v2-es',
      'jina-v2-de',
      'a.x-4.0',
      'mellum',
      'modern-bert',
      'exaone4',
      'mpt',
      'olmo',
      'jais',
      'trillion',
      'granite-docling',
    ] as const
  ).map((p) => [p, GPT2] as const),
  ...(['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'] as const).map((p) => [p, STARCODER] as const),
]);

/** The `tokenizer.ggml.pre` values ggufBpeTokenizer accepts. */
export const SUPPORTED_BPE_PRE: readonly string[] = [...PRE_TOKENIZERS.keys()];

/** Token texts llama.cpp treats as end of generation whatever their metadata says (llama_vocab::impl::load). */
const EOG_TEXTS: ReadonlySet<string> = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<｜end▁of▁sentence｜>',
]);

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4 } as const;

const KEY = {
  model: 'tokenizer.ggml.model',
  pre: 'tokenizer.ggml.pre',
  tokens: 'tokenizer.ggml.tokens',
  types: 'tokenizer.ggml.token_type',
  merges: 'tokenizer.ggml.merges',
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  eom: 'tokenizer.ggml.eom_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  chatTemplate: 'tokenizer.chat_template',
} as const;

// -- Metadata readers ---------------------------------------------------------

type Metadata = ReadonlyMap<string, GgufValue>;

function stringArray(metadata: Metadata, key: string, file: string): string[] {
  const v = metadata.get(key);
  if (v === undefined) throw new ModelFileError(file, `metadata '${key}' is missing`);
  if (!Array.isArray(v)) throw new ModelFileError(file, `metadata '${key}' is not an array`);
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new ModelFileError(file, `metadata '${key}'[${i}] is not a string`);
    return x;
  });
}

function optionalString(metadata: Metadata, key: string, file: string): string | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ModelFileError(file, `metadata '${key}' is not a string`);
  return v;
}

function tokenTypes(metadata: Metadata, file: string, n: number): number[] {
  const v = metadata.get(KEY.types);
  if (v === undefined) return new Array<number>(n).fill(TOKEN_TYPE.normal);
  if (!Array.isArray(v)) throw new ModelFileError(file, `metadata '${KEY.types}' is not an array`);
  if (v.length < n) throw new ModelFileError(file, `metadata '${KEY.types}' has ${v.length} entries for ${n} tokens`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x: GgufValue | undefined = v[i];
    const y = typeof x === 'bigint' ? Number(x) : x;
    if (typeof y !== 'number' || !Number.isInteger(y)) throw new ModelFileError(file, `metadata '${KEY.types}'[${i}] is not an integer`);
    out[i] = y;
  }
  return out;
}

/** A token id key: absent → undefined; outside the vocabulary → undefined (llama.cpp warns and keeps its default). */
function tokenId(metadata: Metadata, key: string, file: string, n: number): number | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  const x = typeof v === 'bigint' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ModelFileError(file, `metadata '${key}' is not a token id`);
  return x < n ? x : undefined;
}

function flag(metadata: Metadata, key: string, file: string): boolean | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ModelFileError(file, `metadata '${key}' is not a boolean`);
  return v;
}

// -- tokenizer.json -------------------------------------------------------------

/** What ggufBpeTokenizerJson builds: the inputs of createHfTokenizer. */
export interface GgufBpeTokenizerFiles {
  /** A Hugging Face tokenizer.json object. */
  readonly tokenizerJson: Record<string, unknown>;
  /** The tokenizer_config.json fields createHfTokenizer reads. */
  readonly tokenizerConfig: Record<string, unknown>;
  /** End-of-generation ids besides EOS. */
  readonly extraEosIds: readonly number[];
  readonly chatTemplate: string | undefined;
}

/** The pre-tokenizer `tokenizer.ggml.pre` names (default 'default'); E_MODEL_UNSUPPORTED for an unknown one. */
function preTokenizerOf(metadata: Metadata, file: string): { pre: string; spec: PreTokenizerSpec } {
  const model = metadata.get(KEY.model);
  if (model !== 'gpt2') {
    throw new ModelFileError(file, `tokenizer '${String(model)}' is not a byte-level BPE vocabulary (${KEY.model} must be "gpt2")`, 'E_MODEL_UNSUPPORTED');
  }
  const pre = optionalString(metadata, KEY.pre, file) ?? 'default';
  const spec = PRE_TOKENIZERS.get(pre);
  if (!spec) {
    throw new ModelFileError(
      file,
      `pre-tokenizer '${pre}' (${KEY.pre}) is not supported; supported values: ${SUPPORTED_BPE_PRE.join(', ')}`,
      'E_MODEL_UNSUPPORTED',
    );
  }
  return { pre, spec };
}

/** The vocabulary: token texts by id, the text → id map, and the added (control, unknown, user-defined) tokens. */
interface BpeVocab {
  readonly tokens: string[];
  readonly vocab: Record<string, number>;
  readonly addedTokens: Record<string, unknown>[];
}

function bpeVocab(metadata: Metadata, file: string): BpeVocab {
  const raw = stringArray(metadata, KEY.tokens, file);
  const n = raw.length;
  if (n === 0) throw new ModelFileError(file, `metadata '${KEY.tokens}' is empty`);
  const types = tokenTypes(metadata, file, n);
  const tokens = new Array<string>(n);
  // A null-prototype object: tokens such as "__proto__" or "constructor" are ordinary keys.
  const vocab = Object.create(null) as Record<string, number>;
  const seen = new Map<string, number>();
  const addedTokens: Record<string, unknown>[] = [];
  for (let id = 0; id < n; id++) {
    const t = raw[id] as string;
    const text = t === '' ? `[EMPTY_${id}]` : t;
    const prev = seen.get(text);
    if (prev !== undefined) throw new ModelFileError(file, `duplicate token in vocabulary: '${text}' has ids ${prev} and ${id}`);
    seen.set(text, id);
    tokens[id] = text;
    vocab[text] = id;
    const type = types[id];
    if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.unknown || type === TOKEN_TYPE.userDefined) {
      addedTokens.push({ id, content: text, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type !== TOKEN_TYPE.userDefined });
    }
  }
  return { tokens, vocab, addedTokens };
}

/** The merges as pairs, first occurrence of each; entries without a separating space are dropped. */
function bpeMerges(metadata: Metadata, file: string): [string, string][] {
  const merges: [string, string][] = [];
  const seenMerges = new Set<string>();
  for (const m of stringArray(metadata, KEY.merges, file)) {
    const at = m.indexOf(' ', 1);
    if (at < 0) continue; // llama.cpp ranks an unsplittable entry as ("", ""), which never matches
    if (seenMerges.has(m)) continue;
    seenMerges.add(m);
    merges.push([m.slice(0, at), m.slice(at + 1)]);
  }
  return merges;
}

/** BOS, EOS and whether BOS is added (the file's flag, else the pre-tokenizer's default, as llama.cpp). */
interface BosEos {
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly addBos: boolean;
}

function bosEos(metadata: Metadata, file: string, n: number, pre: { pre: string; spec: PreTokenizerSpec }): BosEos {
  const bosId = tokenId(metadata, KEY.bos, file, n);
  const eosId = tokenId(metadata, KEY.eos, file, n);
  const explicitAddBos = flag(metadata, KEY.addBos, file);
  const addBos = explicitAddBos ?? pre.spec.addBos;
  if (addBos && bosId === undefined) {
    throw new ModelFileError(
      file,
      explicitAddBos === undefined
        ? `pre-tokenizer '${pre.pre}' adds BOS (as llama.cpp), but ${KEY.bos} is not set`
        : `${KEY.addBos} is true, but ${KEY.bos} is not set`,
    );
  }
  return { bosId, eosId, addBos };
}

/** End-of-generation ids besides EOS: end-of-turn/message keys and the known end-of-generation texts. */
function extraEosIdsOf(metadata: Metadata, file: string, tokens: readonly string[], eosId: number | undefined): number[] {
  const extra = new Set<number>();
  for (const key of [KEY.eot, KEY.eom]) {
    const id = tokenId(metadata, key, file, tokens.length);
    if (id !== undefined) extra.add(id);
  }
  tokens.forEach((t, id) => {
    if (EOG_TEXTS.has(t)) extra.add(id);
  });
  if (eosId !== undefined) extra.delete(eosId);
  return [...extra].sort((a, b) => a - b);
}

/** The post-processor that prepends BOS, or null when BOS is not added. */
function bosPostProcessor(addBos: boolean, bosText: string | undefined, bosId: number | undefined): Record<string, unknown> | null {
  if (!(addBos && bosText !== undefined && bosId !== undefined)) return null;
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bosText, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bosText, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bosText, type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [bosText]: { id: bosText, ids: [bosId], tokens: [bosText] } },
  };
}

/** The tokenizer.json object for a vocabulary, its merges, pre-tokenizer and post-processor. */
function tokenizerJsonOf(
  v: BpeVocab,
  merges: [string, string][],
  spec: PreTokenizerSpec,
  postProcessor: Record<string, unknown> | null,
): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: v.addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...spec.regexes.map((regex) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false })),
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: spec.ignoreMerges,
      vocab: v.vocab,
      merges,
    },
  };
}

/**
 * The Hugging Face tokenizer.json (and tokenizer_config.json fields) that the
 * GGUF BPE metadata describes (see the module comment). Throws ModelFileError
 * naming `file` for a missing or ill-typed key, and E_MODEL_UNSUPPORTED for a
 * model other than "gpt2" or an unknown `tokenizer.ggml.pre`.
 */
export function ggufBpeTokenizerJson(metadata: Metadata, file: string): GgufBpeTokenizerFiles {
  const pre = preTokenizerOf(metadata, file);
  const v = bpeVocab(metadata, file);
  const merges = bpeMerges(metadata, file);
  const { bosId, eosId, addBos } = bosEos(metadata, file, v.tokens.length, pre);
  const extraEosIds = extraEosIdsOf(metadata, file, v.tokens, eosId);
  const bosText = bosId === undefined ? undefined : v.tokens[bosId];
  const tokenizerJson = tokenizerJsonOf(v, merges, pre.spec, bosPostProcessor(addBos, bosText, bosId));
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: addBos,
    clean_up_tokenization_spaces: false,
    ...(bosText === undefined ? {} : { bos_token: bosText }),
    ...(eosId === undefined ? {} : { eos_token: v.tokens[eosId] }),
  };
  return { tokenizerJson, tokenizerConfig, extraEosIds, chatTemplate: optionalString(metadata, KEY.chatTemplate, file) };
}

/**
 * The byte-level BPE tokenizer of a GGUF file (tokenizer.ggml.model = "gpt2"),
 * from its metadata (as read by formats/gguf.ts). Throws ModelFileError naming `file`.
 */
export function ggufBpeTokenizer(metadata: Metadata, file: string): HfTokenizer {
  const { tokenizerJson, tokenizerConfig, extraEosIds, chatTemplate } = ggufBpeTokenizerJson(metadata, file);
  return createHfTokenizer(tokenizerJson, tokenizerConfig, { file, extraEosIds, ...(chatTemplate === undefined ? {} : { chatTemplate }) });
}

/**
 * The tokenizer a GGUF file carries: "llama" (SentencePiece, tokenizers/spm.ts;
 * also when the key is absent, as spmVocabFromGguf assumes) or "gpt2"
 * (byte-level BPE, ggufBpeTokenizer). Any other model is E_MODEL_UNSUPPORTED.
 */
export function tokenizerFromGguf(metadata: Metadata, file: string): Tokenizer {
  const model = metadata.get(KEY.model);
  if (model === undefined || model === 'llama') return createSpmTokenizer(spmVocabFromGguf(metadata, file));
  if (model === 'gpt2') return ggufBpeTokenizer(metadata, file);
  throw new ModelFileError(
    file,
    `tokenizer '${String(model)}' (${KEY.model}) is not supported: KV Lab reads "llama" (SentencePiece) and "gpt2" (byte-level BPE) vocabularies`,
    'E_MODEL_UNSUPPORTED',
  );
}
