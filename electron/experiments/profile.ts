/**
 * Layer profiles — the paper's analysis figures: LMBA per layer and per head
 * (tokens needed to keep τ of the attention mass) and LMBO per layer (tokens
 * needed to keep the attention output within a cosine threshold of full
 * attention), for a model over a set of prompts. Stored as `kind: 'profile'`
 * rows in a results folder like any other result.
 */
import { computeLmbo, f32, lmbaPerHead } from '@kvlab/core';
import type { ProfileRow } from '@kvlab/core';
import type { InferenceEngine } from '../engine/inference-engine.ts';

export interface ProfileOptions {
  /** LMBA threshold τ (default 0.9). */
  readonly tau?: number;
  /** Observation window α (default 8). */
  readonly windowSize?: number;
  /** LMBO threshold τ_o (default 0.95). */
  readonly tauO?: number;
  /** Skip LMBO (it costs about one full attention pass per grid point block). */
  readonly lmbo?: boolean;
  readonly signal?: AbortSignal;
  /** The prefill's progress (PrefillOptions.onProgress). */
  readonly onProgress?: (done: number, total: number) => void;
  /** LMBO's progress, after each layer: minutes of JS on a long prompt, after the prefill. */
  readonly onLmbo?: (layersDone: number, layers: number) => void;
}

/** Profiles one prompt; returns the row fields that depend on the prompt. */
export async function profilePrompt(
  engine: InferenceEngine,
  ids: readonly number[],
  opts: ProfileOptions = {},
): Promise<Pick<ProfileRow, 'promptTokens' | 'tau' | 'lmba' | 'lmbaPerHead' | 'tauO' | 'lmbo' | 'lmboCurves'>> {
  const tau = opts.tau ?? 0.9;
  const alpha = Math.min(opts.windowSize ?? 8, ids.length);
  const tauO = opts.tauO ?? 0.95;
  const { signal, onProgress } = opts;
  const pre = await engine.prefill(ids, { windows: [alpha], queries: alpha, ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  const c = engine.config;
  const perHead = pre.observations.map((o) => [...lmbaPerHead(o, { tau, source: 'windowMean', windowSize: alpha })]);
  const lmba = perHead.map((h) => h.reduce((a, b) => a + b, 0) / Math.max(1, h.length));
  const lmbo: number[] = [];
  const curves: { budget: number; similarity: number }[][] = [];
  if (opts.lmbo ?? true) {
    for (const [l, o] of pre.observations.entries()) {
      // LMBO costs about one attention pass per grid point per layer, synchronous JS: yielding to the event loop
      // before each layer lets a cancel (Ctrl-C, cancelCall) and the progress events through between layers.
      await new Promise<void>((r) => setImmediate(r));
      signal?.throwIfAborted();
      const q = pre.queries?.[l];
      if (!q || !o.keys || !o.values) continue;
      const r = computeLmbo({ queries: f32([c.numHeads, alpha, c.headDim], q), keys: o.keys, values: o.values }, { threshold: tauO, grid: 16 });
      lmbo.push(r.lmbo);
      curves.push(r.curve.map((p) => ({ budget: p.budget, similarity: p.similarity })));
      opts.onLmbo?.(l + 1, pre.observations.length);
    }
  }
  return { promptTokens: ids.length, tau, lmba, lmbaPerHead: perHead, tauO, lmbo, lmboCurves: curves };
}
