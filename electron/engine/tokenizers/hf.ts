/**
 * Hugging Face tokenizers (`tokenizer.json` + `tokenizer_config.json`) through
 * @huggingface/tokenizers (pure JS), wrapped as our `Tokenizer`, and chat
 * templates through @huggingface/jinja.
 *
 * - encode: the library's encode with add_special_tokens = false (added and
 *   special tokens written in the text are still matched, as in transformers),
 *   then BOS prepended when `addBos`. The post-processor's other additions (EOS,
 *   pair templates) are never applied: generation does not want them.
 * - BOS/EOS: `bos_token` / `eos_token` of tokenizer_config.json (a string or an
 *   AddedToken object), looked up in the vocabulary; extra end-of-generation ids
 *   (generation_config.json's `eos_token_id`) can be passed in.
 * - addBos: tokenizer_config.json's `add_bos_token` when it is a boolean, else
 *   whether the tokenizer.json post-processor puts BOS in front of a single
 *   sequence (probed with the library itself).
 * - decode: special tokens skipped; `clean_up_tokenization_spaces` as the config says.
 * - Chat: `applyChatTemplate` renders `chat_template` (the config's, or
 *   chat_template.jinja next to it) with transformers' variables: messages,
 *   add_generation_prompt and the config's *_token strings. The result already
 *   holds whatever special tokens the template writes (often BOS), so encode it
 *   with `addBos: false` — `encodeChat` does both, as transformers'
 *   apply_chat_template(tokenize=True) does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { ModelFileError } from '../model.ts';
import type { Tokenizer } from '../model.ts';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface ChatTemplateOptions {
  /** End with the assistant turn's header so the model writes the reply. Default true. */
  readonly addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `enable_thinking: false` for Qwen3). */
  readonly variables?: Readonly<Record<string, unknown>>;
}

export interface HfTokenizer extends Tokenizer {
  /** Whether encode() prepends BOS by default. */
  readonly addBos: boolean;
  /** The chat template source, if the tokenizer has one. */
  readonly chatTemplate: string | undefined;
  /** Renders `messages` with the chat template; throws if there is none. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
  /** applyChatTemplate, then encode without adding BOS (the template writes its own special tokens). */
  encodeChat(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): number[];
}

export interface HfTokenizerOptions {
  /** Used in error messages; default 'tokenizer.json'. */
  readonly file?: string;
  /** A chat template that overrides tokenizer_config.json's (e.g. from chat_template.jinja). */
  readonly chatTemplate?: string;
  /** More end-of-generation ids (generation_config.json `eos_token_id`). */
  readonly extraEosIds?: readonly number[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A special-token field of tokenizer_config.json: "<s>", { content: "<s>", … } or null. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  return undefined;
}

/** tokenizer_config.json's chat_template: a string, or a list of { name, template } (the 'default' one, else the first). */
function pickChatTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.filter(isObject);
    const t = named.find((x) => x['name'] === 'default') ?? named[0];
    const src = t?.['template'];
    if (typeof src === 'string') return src;
  }
  return undefined;
}

/** Renders a Jinja chat template as transformers' apply_chat_template does. */
export function renderChatTemplate(
  template: string | Template,
  messages: readonly ChatMessage[],
  variables: Readonly<Record<string, unknown>> = {},
  addGenerationPrompt = true,
): string {
  const t = typeof template === 'string' ? new Template(template) : template;
  return t.render({ ...variables, messages: messages.map((m) => ({ ...m })), add_generation_prompt: addGenerationPrompt });
}

function buildLib(tokenizerJson: Json, config: Json, file: string): HfLibTokenizer {
  try {
    return new HfLibTokenizer(tokenizerJson, config);
  } catch (e) {
    throw new ModelFileError(file, `cannot build the tokenizer: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One past the highest id in the vocabulary (added tokens included). */
function vocabSizeOf(lib: HfLibTokenizer): number {
  let vocabSize = 0;
  for (const id of lib.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  return vocabSize;
}

/** The id of a special-token field of tokenizer_config.json ('bos_token'), if set and in the vocabulary. */
function specialId(lib: HfLibTokenizer, config: Json, field: string): number | undefined {
  const content = tokenContent(config[field]);
  return content === undefined ? undefined : lib.token_to_id(content);
}

/** add_bos_token when it is a boolean, else whether the post-processor puts BOS in front of a single sequence. */
function defaultAddBos(lib: HfLibTokenizer, config: Json, bosId: number | undefined): boolean {
  const cfgAddBos = config['add_bos_token'];
  if (bosId === undefined) return false;
  if (typeof cfgAddBos === 'boolean') return cfgAddBos;
  const withSpecial = lib.encode('a', { add_special_tokens: true }).ids;
  const without = lib.encode('a', { add_special_tokens: false }).ids;
  return withSpecial[0] === bosId && without[0] !== bosId;
}

/** The *_token strings transformers hands to the template. */
function specialVarsOf(config: Json): Record<string, string> {
  const specialVars: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    const c = k.endsWith('_token') ? tokenContent(v) : undefined;
    if (c !== undefined) specialVars[k] = c;
  }
  return specialVars;
}

/** applyChatTemplate for a template source (compiled on first use); throws when there is none. */
function chatRenderer(file: string, chatTemplate: string | undefined, specialVars: Record<string, string>): HfTokenizer['applyChatTemplate'] {
  let compiled: Template | undefined;
  return (messages, o = {}) => {
    if (chatTemplate === undefined) throw new Error(`${file}: the tokenizer has no chat template`);
    compiled ??= new Template(chatTemplate);
    return renderChatTemplate(compiled, messages, { ...specialVars, ...o.variables }, o.addGenerationPrompt ?? true);
  };
}

/** Builds the tokenizer from the parsed contents of tokenizer.json and tokenizer_config.json. */
export function createHfTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown, opts: HfTokenizerOptions = {}): HfTokenizer {
  const file = opts.file ?? 'tokenizer.json';
  if (!isObject(tokenizerJson)) throw new ModelFileError(file, 'tokenizer.json is not a JSON object');
  const config: Json = isObject(tokenizerConfig) ? tokenizerConfig : {};
  const lib = buildLib(tokenizerJson, config, file);
  const vocabSize = vocabSizeOf(lib);
  const bosId = specialId(lib, config, 'bos_token');
  const eosId = specialId(lib, config, 'eos_token');
  const eosIds = [...new Set([...(eosId === undefined ? [] : [eosId]), ...(opts.extraEosIds ?? [])])];
  const addBos = defaultAddBos(lib, config, bosId);
  const specialVars = specialVarsOf(config);
  const chatTemplate = opts.chatTemplate ?? pickChatTemplate(config['chat_template']);
  const applyChatTemplate = chatRenderer(file, chatTemplate, specialVars);

  const encode = (text: string, o?: { readonly addBos?: boolean }): number[] => {
    const ids = text === '' ? [] : lib.encode(text, { add_special_tokens: false }).ids;
    return (o?.addBos ?? addBos) && bosId !== undefined ? [bosId, ...ids] : ids;
  };
  const check = (id: number): void => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize || lib.id_to_token(id) === undefined)
      throw new RangeError(`token id ${id} is outside the vocabulary (${vocabSize} tokens)`);
  };
  return {
    vocabSize,
    bosId,
    eosIds,
    addBos,
    chatTemplate,
    encode,
    decode: (ids) => {
      ids.forEach(check);
      return ids.length === 0 ? '' : lib.decode([...ids], { skip_special_tokens: true });
    },
    piece: (id) => {
      check(id);
      return lib.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },
    applyChatTemplate,
    encodeChat: (messages, o) => encode(applyChatTemplate(messages, o), { addBos: false }),
  };
}

function readJson(path: string, required: boolean): unknown {
  if (!existsSync(path)) {
    if (required) throw new ModelFileError(path, 'missing (a Hugging Face model folder needs tokenizer.json)');
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new ModelFileError(path, `cannot read JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The tokenizer of a Hugging Face model folder: tokenizer.json (required),
 * tokenizer_config.json, chat_template.jinja and generation_config.json (optional).
 */
export function loadHfTokenizer(dir: string): HfTokenizer {
  const file = join(dir, 'tokenizer.json');
  const json = readJson(file, true);
  const config = readJson(join(dir, 'tokenizer_config.json'), false);
  const gen = readJson(join(dir, 'generation_config.json'), false);
  const templatePath = join(dir, 'chat_template.jinja');
  const chatTemplate = existsSync(templatePath) ? readFileSync(templatePath, 'utf8') : undefined;
  const genEos = isObject(gen) ? gen['eos_token_id'] : undefined;
  const extraEosIds = (Array.isArray(genEos) ? genEos : [genEos]).filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return createHfTokenizer(json, config, { file, extraEosIds, ...(chatTemplate === undefined ? {} : { chatTemplate }) });
}
