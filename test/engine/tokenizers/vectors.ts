/** llama.cpp's tokenizer test vectors in ../shared/vocab (data.md §2), shared by the tokenizer tests. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedPath } from '../shared-data.ts';

/** The 46 strings of `ggml-vocab-<name>.gguf.inp` and their ids from `.out` (no BOS). */
export function vectors(name: string): { text: string; ids: number[] }[] {
  const inp = readFileSync(sharedPath(`vocab/ggml-vocab-${name}.gguf.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  assert.equal(inp.pop(), '', 'the .inp file ends with a separator');
  const out = readFileSync(sharedPath(`vocab/ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  assert.equal(out.pop(), '', 'the .out file ends with a newline');
  assert.equal(inp.length, 46);
  assert.equal(out.length, 46);
  return inp.map((text, i) => {
    const line = (out[i] as string).trim();
    return { text, ids: line === '' ? [] : line.split(' ').map(Number) };
  });
}
