/**
 * Short prompts on the real stories260K model: prompts of 1, 2, 3 … tokens, below
 * every method's observation window, work for every registered scorer ×
 * allocator, with and without every head-wise split. The property: a budget
 * that covers the prompt gives exactly the full-cache run (same tokens, same
 * bytes), and so does any budget when the method protects the whole prompt
 * (the budget is then raised to the full cache, with a notice).
 * Above the window, a small budget compresses and the cache holds exactly the
 * (possibly raised) budget it reports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BudgetSpec, CompressionConfig } from '@kvlab/core';
import { ALLOCATORS, formatMethodSpec, HEADWISE, minimumTotal, SCORERS } from '@kvlab/core';
import type { Engine } from '../../electron/engine/engine.ts';
import { generate, prefillForMethods } from '../../electron/engine/generate.ts';
import { loadModel } from '../../electron/engine/load.ts';
import { createEngine } from './engine-helpers.ts';
import { sharedPath } from './shared-data.ts';

const configs: CompressionConfig[] = Object.keys(SCORERS).flatMap((s) =>
  Object.keys(ALLOCATORS).flatMap((a) =>
    [undefined, ...Object.keys(HEADWISE)].map((h) => ({ scorer: { id: s }, allocator: { id: a }, ...(h ? { headwise: { id: h } } : {}) })),
  ),
);
// Up to two past the default window α = 8 (+1 kept per layer), so both sides of "the method protects the whole prompt" are covered.
const LENGTHS = Array.from({ length: 11 }, (_, i) => i + 1);
const MAX_TOKENS = 6;

describe('short prompts on stories260K, every method', () => {
  let engine: Engine;
  let story: number[];
  before(async () => {
    const model = await loadModel(sharedPath('models/stories260K/stories260K.gguf'));
    engine = await createEngine(model);
    story = model.tokenizer.encode('Once upon a time, there was a little dog named Max. He liked to run in the park.');
    assert.ok(story.length > LENGTHS.length && story[0] === model.tokenizer.bosId, 'the prompt starts at BOS and is long enough');
  });
  after(() => engine.dispose());

  for (const n of LENGTHS) {
    it(`${n}-token prompt: a covering budget, or any budget the method cannot go below, gives the full-cache run`, async () => {
      const prompt = story.slice(0, n);
      // One prefill serves every method, as in an experiment (the union of the clamped windows).
      const pre = await prefillForMethods(engine, prompt, configs);
      const full = await generate(engine, prompt, { maxTokens: MAX_TOKENS, stopAtEos: false, prefill: pre });
      const L = engine.config.numLayers;
      for (const method of configs) {
        const label = `${formatMethodSpec(method)}, n = ${n}`;
        const covering: BudgetSpec[] = [
          { kind: 'tokensPerLayer', value: n },
          { kind: 'keepRatio', value: 1 },
        ];
        for (const budget of covering) {
          const r = await generate(engine, prompt, { method, budget, maxTokens: MAX_TOKENS, stopAtEos: false, prefill: pre });
          assert.deepEqual(r.tokens, full.tokens, `${label} @ ${JSON.stringify(budget)}`);
          assert.equal(r.heldAfterCompression.bytes, full.heldAfterCompression.bytes, label);
          assert.deepEqual(r.notices, [], `${label}: nothing to say about a covering budget`);
        }
        // One token per layer: below every method's minimum, so it is raised, never an error.
        const tiny = await generate(engine, prompt, {
          method,
          budget: { kind: 'totalTokens', value: L },
          maxTokens: MAX_TOKENS,
          stopAtEos: false,
          prefill: pre,
        });
        const floor = minimumTotal(method, L, n).tokens;
        assert.ok(tiny.budget, label);
        assert.equal(tiny.budget.totalTokens, Math.max(L, floor), `${label}: raised to the minimum`);
        assert.equal(tiny.notices.length, floor > L ? 1 : 0, `${label}: one notice iff raised`);
        // Honest numbers: the cache holds exactly what the budget reports.
        assert.equal(tiny.heldAfterCompression.bytes, tiny.budget.bytes, label);
        if (floor >= L * n) {
          assert.equal(tiny.budget.compress, false, label);
          assert.deepEqual(tiny.tokens, full.tokens, `${label}: the method protects the whole prompt, so the run is the full run`);
        }
      }
    });
  }
});
