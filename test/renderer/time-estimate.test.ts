/**
 * The builder's time estimate (renderer/src/util/cost.ts): a model's speed is
 * measured — from the timings its result rows recorded or from its last
 * Playground run — and the estimate is the experiment's tokens at that speed;
 * with nothing measured there is no number. Values checked by hand below.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyRow } from '@kvlab/core';
import { estimateSeconds, speedFromPlayground, speedFromRows } from '../../renderer/src/util/cost.ts';

/** A result row with only what the speed reads (the rest of a row plays no part). */
const row = (path: string, promptTokens: number, t: { prefillMs: number; compressMs: number; decodeMs: number; decodeTokens: number }): AnyRow =>
  ({ kind: 'cell', model: { path }, promptTokens, timings: t }) as unknown as AnyRow;

describe('time estimate', () => {
  const rows = [
    row('/m/a.gguf', 1000, { prefillMs: 500, compressMs: 10, decodeMs: 200, decodeTokens: 20 }),
    // A cell that reused its sample's prefill records none: it adds decode and compression only.
    row('/m/a.gguf', 1000, { prefillMs: 0, compressMs: 30, decodeMs: 100, decodeTokens: 10 }),
    row('/m/b.gguf', 1000, { prefillMs: 1, compressMs: 0, decodeMs: 1, decodeTokens: 1000 }),
    { kind: 'check' } as unknown as AnyRow,
  ];

  it("measures a model's speed from its rows: total tokens over total time", () => {
    const s = speedFromRows(rows, '/m/a.gguf');
    assert.ok(s);
    assert.equal(s.prefillTokensPerSecond, 2000); // 1000 tokens in 0.5 s
    assert.equal(s.decodeTokensPerSecond, 100); // 30 tokens in 0.3 s
    assert.equal(s.compressMsPerCell, 20); // (10 + 30) / 2 cells
    assert.equal(s.source, '2 result rows');
  });

  it('estimates prefill + compression + decode at that speed', () => {
    const s = speedFromRows(rows, '/m/a.gguf');
    assert.ok(s);
    // 4000 prompt tokens / 2000 tok/s = 2 s; 10 cells × 32 tokens / 100 tok/s = 3.2 s; 10 × 20 ms = 0.2 s.
    assert.ok(Math.abs(estimateSeconds({ promptTokens: 4000, cells: 10 }, s, 32) - 5.4) < 1e-9);
  });

  it('has no number for a model that has not run: no rows, or rows without timings', () => {
    assert.equal(speedFromRows(rows, '/m/never-run.gguf'), null);
    assert.equal(speedFromRows([row('/m/c.gguf', 100, { prefillMs: 0, compressMs: 0, decodeMs: 0, decodeTokens: 0 })], '/m/c.gguf'), null);
    assert.equal(speedFromPlayground(undefined), null);
    assert.equal(speedFromPlayground({ promptTokens: 100, prefillMs: 0, tokensPerSecond: 50 }), null);
  });

  it("a Playground run's shared prefill and full-cache decode rate are a speed too", () => {
    assert.deepEqual(speedFromPlayground({ promptTokens: 515, prefillMs: 250, tokensPerSecond: 90 }), {
      prefillTokensPerSecond: 2060,
      decodeTokensPerSecond: 90,
      compressMsPerCell: 0,
      source: 'the last Playground run',
    });
  });
});
