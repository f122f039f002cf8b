import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { BudgetSpec, KvModelShape } from '@kvlab/core';
import { BudgetError, formatBudget, kvBytesPerToken, parseBudget, resolveBudget } from '@kvlab/core';

// Llama-3-8B: 32 layers, 8 KV heads, head dim 128, fp16 → 128 KiB of KV per token.
const llama3: KvModelShape = { numLayers: 32, numKvHeads: 8, headDim: 128, dtype: 'float16' };

describe('budget language', () => {
  it('knows the KV bytes per token of a real model', () => {
    assert.equal(kvBytesPerToken(llama3), 131072); // 2 · 32 · 8 · 128 · 2
  });

  it('"KV size 128" (KVCache-Factory) at n=4096 is a 3.125 % keep ratio, 96.875 % compression (kvpress)', () => {
    const r = resolveBudget(parseBudget('128'), llama3, 4096);
    assert.equal(r.totalTokens, 32 * 128);
    assert.equal(r.keepRatio, 0.03125);
    assert.equal(r.compressionRatio, 0.96875);
    assert.equal(r.bytes, 128 * kvBytesPerToken(llama3));
    assert.equal(r.fullBytes, 4096 * kvBytesPerToken(llama3));
    assert.equal(r.compress, true);
  });

  it('every unit resolves to the same total for the same memory', () => {
    const n = 1000;
    const specs: BudgetSpec[] = [
      { kind: 'keepRatio', value: 0.2 },
      { kind: 'compressionRatio', value: 0.8 },
      { kind: 'tokensPerLayer', value: 200 },
      { kind: 'totalTokens', value: 6400 },
      { kind: 'bytes', value: 6400 * 4096 },
    ];
    for (const s of specs) assert.equal(resolveBudget(s, llama3, n).totalTokens, 6400, s.kind);
  });

  it('a budget ≥ the prompt keeps everything and does not compress', () => {
    const r = resolveBudget({ kind: 'tokensPerLayer', value: 5000 }, llama3, 1000);
    assert.equal(r.compress, false);
    assert.equal(r.totalTokens, 32000);
    assert.equal(r.keepRatio, 1);
  });

  it('a byte budget never rounds up past the bytes asked for', () => {
    const r = resolveBudget({ kind: 'bytes', value: 4096 * 10 + 4095 }, llama3, 1000);
    assert.equal(r.totalTokens, 10);
    assert.ok(r.bytes <= 4096 * 10 + 4095);
  });

  it('parses and formats the CLI/experiment strings', () => {
    assert.deepEqual(parseBudget('20%'), { kind: 'keepRatio', value: 0.2 });
    assert.deepEqual(parseBudget(' keep:0.25 '), { kind: 'keepRatio', value: 0.25 });
    assert.deepEqual(parseBudget('cr:0.8'), { kind: 'compressionRatio', value: 0.8 });
    assert.deepEqual(parseBudget('128/layer'), { kind: 'tokensPerLayer', value: 128 });
    assert.deepEqual(parseBudget('4096 total'), { kind: 'totalTokens', value: 4096 });
    assert.deepEqual(parseBudget('64MiB'), { kind: 'bytes', value: 64 * 1024 * 1024 });
    assert.deepEqual(parseBudget('2.5 GB'), { kind: 'bytes', value: 2.5e9 });
    for (const s of ['20%', 'cr:0.8', '128/layer', '4096 total', '1000b']) assert.equal(formatBudget(parseBudget(s)), s);
  });

  it('round-trips every spec through format/parse', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: 0.0001, max: 1, noNaN: true }).map((v): BudgetSpec => ({ kind: 'keepRatio', value: v })),
          fc.integer({ min: 1, max: 1e6 }).map((v): BudgetSpec => ({ kind: 'tokensPerLayer', value: v })),
          fc.integer({ min: 1, max: 1e9 }).map((v): BudgetSpec => ({ kind: 'totalTokens', value: v })),
        ),
        (spec) => {
          const back = parseBudget(formatBudget(spec));
          assert.equal(back.kind, spec.kind);
          assert.ok(Math.abs(back.value - spec.value) <= 1e-9 * spec.value);
        },
      ),
    );
  });

  it('rejects malformed budgets with a BudgetError saying what is accepted', () => {
    assert.throws(
      () => parseBudget('lots'),
      (e: unknown) =>
        e instanceof BudgetError &&
        e.message ===
          'Budget "lots" is not understood: write a share of the cache (20%), tokens per layer (128), a compression ratio (cr:0.8), a total (4096 total) or a size (64MiB)',
    );
    assert.throws(() => resolveBudget({ kind: 'keepRatio', value: 1.5 }, llama3, 10), /keepRatio must be in \(0, 1\], got 1.5/);
    assert.throws(() => resolveBudget({ kind: 'compressionRatio', value: 1 }, llama3, 10), /compressionRatio must be in \[0, 1\)/);
    assert.throws(() => resolveBudget({ kind: 'totalTokens', value: 2.5 }, llama3, 10), BudgetError);
    assert.throws(() => resolveBudget({ kind: 'bytes', value: 100 }, llama3, 10), /less than one token/);
    assert.throws(() => resolveBudget({ kind: 'tokensPerLayer', value: 8 }, { ...llama3, numKvHeads: 0 }, 10), /numKvHeads must be a positive integer/);
  });

  it("refuses out-of-range budgets when parsing, in the user's terms, and quotes long or odd text cut short", () => {
    const refuses = (text: string, message: RegExp): void =>
      assert.throws(
        () => parseBudget(text),
        (e: unknown) => e instanceof BudgetError && e.apiCode === 'E_INVALID' && message.test(e.message),
      );
    refuses('150%', /^Budget "150%" is not a share of the cache: keep more than 0% and at most 100%/);
    refuses('0%', /is not a share of the cache/);
    refuses('cr:1', /^Budget "cr:1" is not a compression ratio/);
    refuses('0', /^Budget "0" keeps nothing: give more than 0 tokens/);
    refuses('0 MiB', /keeps nothing: give more than 0 bytes/);
    refuses('9'.repeat(400), /is too large a number|not understood/);
    refuses('x'.repeat(70_000), /^Budget "x{60}…" is not understood/);
    refuses('a\u0000b', /^Budget "a\\u0000b" is not understood/);
    assert.deepEqual(parseBudget('100%'), { kind: 'keepRatio', value: 1 });
    assert.deepEqual(parseBudget('cr:0'), { kind: 'compressionRatio', value: 0 });
  });
});
