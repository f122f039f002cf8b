/** Test helpers for engine tests: engines over in-memory models, a minimal byte tokenizer, temp graph caches. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../electron/engine/engine.ts';
import type { LoadedModel, ModelConfig, Tokenizer, WeightTensor } from '../../electron/engine/model.ts';

/** A tokenizer for random-weight models, whose vocab means nothing: ids ↔ bytes modulo the vocab. */
export function byteTokenizer(vocabSize: number): Tokenizer {
  return {
    vocabSize,
    bosId: 1,
    eosIds: [2],
    encode: (text) => [1, ...[...new TextEncoder().encode(text)].map((b) => (b + 3) % vocabSize)],
    decode: (ids) => ids.map((i) => String.fromCharCode(32 + (i % 90))).join(''),
    piece: (id) => String.fromCharCode(32 + (id % 90)),
  };
}

export function inMemoryModel(
  m: { config: ModelConfig; weights: Map<string, WeightTensor> },
  tokenizer: Tokenizer = byteTokenizer(m.config.vocabSize),
): LoadedModel {
  return { path: `<memory:${m.config.name}>`, format: 'gguf', config: m.config, weights: m.weights, tokenizer, metadata: {} };
}

let cacheDir: string | undefined;
/** One temporary graph cache per test process (never the user's ~/.cache). */
export function testCacheDir(): string {
  cacheDir ??= mkdtempSync(join(tmpdir(), 'kvlab-graphs-'));
  return cacheDir;
}

export function createEngine(model: LoadedModel, prefillChunk = 128): Promise<Engine> {
  return Engine.create(model, { cacheDir: testCacheDir(), threads: 1, prefillChunk });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
  return Number.isNaN(m) ? Infinity : m;
}
