/**
 * Access to the shared data folder (`../shared` next to the repository root,
 * or `$KVLAB_SHARED`) for tests and benchmarks. Every file is checked against
 * the sha256 listed in shared/docs/data.md §5 before use; a missing or
 * different file THROWS, so a test that needs it fails visibly instead of
 * passing without its data.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** sha256 of every shared file, from shared/docs/data.md §5 (paths relative to the shared folder). */
export const SHARED_SHA256: Readonly<Record<string, string>> = {
  'models/stories260K/stories260K.gguf': '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d',
  'models/stories260K/stories260K.bin': 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696',
  'models/stories260K/tok512.bin': '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312',
  'models/stories260K/LICENSE-llama2c': 'e87b912002f04cdfa837eaf7f70548ab79b9cb62a285495edf575f3da875aec4',
  'vocab/ggml-vocab-llama-spm.gguf': '16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69',
  'vocab/ggml-vocab-llama-spm.gguf.inp': 'ef7a25a263fba141f64a8a842ceb1c572cdb8e1313f592d974f7a06bbd3a4934',
  'vocab/ggml-vocab-llama-spm.gguf.out': 'ea602819af9f9af53a7af285a284ee810e70a4a14a5972e4c891ccd683488af5',
  'vocab/ggml-vocab-llama-bpe.gguf.inp': 'ef7a25a263fba141f64a8a842ceb1c572cdb8e1313f592d974f7a06bbd3a4934',
  'vocab/ggml-vocab-llama-bpe.gguf.out': '5c92e3c68163aa74c73a6128c0598c1dfad31dde068a0a48be496d3046816ec1',
  'vocab/ggml-vocab-qwen2.gguf.inp': 'ef7a25a263fba141f64a8a842ceb1c572cdb8e1313f592d974f7a06bbd3a4934',
  'vocab/ggml-vocab-qwen2.gguf.out': '4fdf5ff70fcfbb819642b522a47b8f61522fa20d938fa7470a8497bc52773cd4',
  'texts/austen-emma.txt': 'dd08b340a56ad4a0a00718d5682528a5a5886ae0aef91c9e0fa528074fa64b75',
  'texts/austen-mansfieldpark.txt': 'e0e9ef3863ea77f51f6070062ee0dd50ad9b933223880617629e4e4963ea40ff',
  'texts/austen-northangerabbey.txt': '8618a5acf5be50cc6e9b7680c7469fb6012649ab08c709dfc63c6367989fd31d',
  'texts/austen-persuasion.txt': '726513a6c18bb678427bcbcf7c72d0d20816a67c25b0471b26ddcabf3ebac140',
  'texts/austen-prideprejudice.txt': '2e44edaa4946d64ad541c68e0224f5d672f43bf3ce2a8a0b0637ad5e02fc6eb3',
  'texts/austen-sensesensibility.txt': '0996d90842bbe8093f3b8142c1e77d1b20cff52d1d0615f3ed67733653e74e26',
  'texts/kjv.txt': '6f74f5589333c56c263963e6347dba662bae2d96861302e690aaae0b4a855eda',
  'texts/melville-mobydick.txt': 'b2f38e1677e91d582eb1e4c70c991f148ace3ed4de8417fb717c5c26f637a698',
  'texts/jargon.txt': '40dfb4b98191a670a09a183d5798d50f243d23fdbd1495dcc0aca2ce5895ba97',
  'texts/devil.txt': '703d1225d2fb927653bfd8b00e4e96938e0b630c6023edd26702ac6ed50383f8',
};

/** The shared folder: $KVLAB_SHARED, else ../shared relative to the repository root. */
export const sharedRoot = (): string => resolve(process.env['KVLAB_SHARED'] ?? join(REPO_ROOT, '..', 'shared'));

const verified = new Map<string, string>();

/**
 * Absolute path of a shared file (e.g. 'models/stories260K/stories260K.gguf'),
 * after checking that it exists and that its sha256 matches data.md §5.
 * Throws an Error saying what is wrong and where to get the file.
 */
export function sharedPath(rel: string): string {
  const cached = verified.get(rel);
  if (cached) return cached;
  const expected = SHARED_SHA256[rel];
  if (!expected) throw new Error(`sharedPath: '${rel}' is not listed in shared/docs/data.md §5; add its sha256 to test/engine/shared-data.ts`);
  const abs = join(sharedRoot(), rel);
  if (!existsSync(abs))
    throw new Error(`missing ../shared/${rel} (looked for ${abs}): see shared/docs/data.md for where to get it, or set KVLAB_SHARED to the shared folder`);
  const actual = createHash('sha256').update(readFileSync(abs)).digest('hex');
  if (actual !== expected)
    throw new Error(`../shared/${rel} (${abs}) has sha256 ${actual}, expected ${expected}: wrong or corrupt copy, see shared/docs/data.md`);
  verified.set(rel, abs);
  return abs;
}
