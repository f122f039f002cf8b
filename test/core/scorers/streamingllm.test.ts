import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LayerObservation, StreamingLlmParams, ScorerDef } from '@kvlab/core';
import { BudgetError, ParamError, parseParams, selectTokens, streamingllm } from '@kvlab/core';

/** The scorer through its contract type (its literal functions declare only the parameters they use). */
const asDef = (s: ScorerDef<'streamingllm', StreamingLlmParams>) => s;

/** An observation with nothing in it but the shape: StreamingLLM needs no inputs. */
function bare(n: number, Hkv: number, Hq = Hkv): LayerObservation {
  return { layer: 0, seqLen: n, numQueryHeads: Hq, numKvHeads: Hkv, headDim: 4, windows: [] };
}

/** StreamingLLM from the paper: the first `sinks` tokens and the last `budget − sinks` tokens. */
function naiveStreaming(n: number, budget: number, sinks: number): number[] {
  if (budget >= n) return Array.from({ length: n }, (_, i) => i);
  const keep: number[] = [];
  for (let i = 0; i < sinks; i++) keep.push(i);
  for (let i = n - (budget - sinks); i < n; i++) keep.push(i);
  return keep;
}

describe('streamingllm scorer', () => {
  it('defaults: 4 sinks, no inputs, decode-time', () => {
    const p = parseParams(streamingllm, {});
    assert.deepEqual(p, { sinkTokens: 4 });
    assert.deepEqual(streamingllm.protect(p), { sinks: 4, window: 0 });
    assert.deepEqual(asDef(streamingllm).needs(p), []);
    assert.equal(streamingllm.decodeTime, true);
  });

  it('keeps [0..3] ∪ the last budget − 4 tokens with the defaults', () => {
    const p = parseParams(streamingllm, {});
    const kept = selectTokens(streamingllm.score(bare(20, 2, 4), p), [10, 10], streamingllm.protect(p), 'streamingllm');
    for (const k of kept) assert.deepEqual([...k], [0, 1, 2, 3, 14, 15, 16, 17, 18, 19]);
  });

  it('keeps sinks + the most recent tokens for every n, budget and sink count', () => {
    for (const sinkTokens of [0, 1, 4, 7]) {
      const p = parseParams(streamingllm, { sinkTokens });
      for (const n of [1, 3, 8, 33]) {
        const scores = streamingllm.score(bare(n, 3), p);
        assert.deepEqual(scores.dims, [3, n]);
        const s = Math.min(sinkTokens, n);
        for (let b = s; b <= n + 1; b++) {
          const kept = selectTokens(scores, [b, b, b], streamingllm.protect(p), 'streamingllm');
          for (const k of kept) assert.deepEqual([...k], naiveStreaming(n, b, s), `sinks ${sinkTokens} n ${n} budget ${b}`);
        }
      }
    }
  });

  it('scores: +Infinity on the sinks, finite and increasing with position elsewhere', () => {
    const s = streamingllm.score(bare(12, 2), parseParams(streamingllm, { sinkTokens: 3 }));
    for (let h = 0; h < 2; h++) {
      const r = [...s.data.subarray(h * 12, (h + 1) * 12)];
      assert.deepEqual(r.slice(0, 3), [Infinity, Infinity, Infinity]);
      for (let j = 3; j < 12; j++) assert.ok(Number.isFinite(r[j]) && (j === 3 || (r[j] ?? 0) > (r[j - 1] ?? 0)));
    }
  });

  it('a budget below the sinks is a BudgetError from the selector', () => {
    const p = parseParams(streamingllm, {});
    assert.throws(() => selectTokens(streamingllm.score(bare(10, 1), p), [3], streamingllm.protect(p), 'streamingllm'), BudgetError);
  });

  it('rejects invalid parameters with a ParamError naming method and parameter', () => {
    for (const raw of [{ sinkTokens: -1 }, { sinkTokens: 1.5 }, { sinkTokens: null }, { sinkTokens: 1e6 }]) {
      assert.throws(
        () => parseParams(streamingllm, raw),
        (e: unknown) => e instanceof ParamError && e.method === 'streamingllm' && e.param === 'sinkTokens' && /sinkTokens for 'streamingllm'/.test(e.message),
        JSON.stringify(raw),
      );
    }
    assert.throws(
      () => parseParams(streamingllm, { nSink: 4 }),
      (e: unknown) => e instanceof ParamError && /nSink/.test(e.message),
    );
  });
});
