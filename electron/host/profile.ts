/**
 * profileModel: the layer profile of one prompt (LMBA per layer and head,
 * LMBO, and the uncertainty ZigZagKV's allocator derives from LMBA), on the
 * engine session's open engine.
 */
import type { LabHandlers, LabParsedInput, LayerProfile } from '@kvlab/core';
import { formatOfTotal, layerUncertainty } from '@kvlab/core';
import { checkPromptKv } from '../experiments/memory.ts';
import { profilePrompt } from '../experiments/profile.ts';
import type { CallControl, CallHandle } from './calls.ts';
import { engineWatch, prefillProgress } from './calls.ts';
import type { EngineSession, OpenSession } from './engine-session.ts';
import type { ModelRegistry } from './model-registry.ts';

export interface ProfilerOptions {
  readonly registry: ModelRegistry;
  readonly session: EngineSession;
  /** Reports profileModel's progress and cancels it. */
  readonly calls: CallControl;
}

export class Profiler {
  constructor(private readonly opts: ProfilerOptions) {}

  handlers(): Pick<LabHandlers, 'profileModel'> {
    return { profileModel: (input) => this.profile(input) };
  }

  private profile(input: LabParsedInput<'profileModel'>): Promise<LayerProfile> {
    const ref = this.opts.registry.get(input.modelId);
    return this.opts.calls.track('profileModel', input.requestId, (call) =>
      this.opts.session.withEngine(ref, (s) => measure(s, input, call), engineWatch(call, ref.name)),
    );
  }
}

async function measure({ engine, model, kvRoom }: OpenSession, input: LabParsedInput<'profileModel'>, call: CallHandle): Promise<LayerProfile> {
  const ids = model.tokenizer.encode(input.prompt);
  checkPromptKv(kvRoom, ids.length, 0);
  const opts = { tau: input.tau, windowSize: input.windowSize, tauO: input.tauO, lmbo: input.lmbo };
  const p = await profilePrompt(engine, ids, {
    ...opts,
    signal: call.signal,
    onProgress: prefillProgress(call),
    onLmbo: (done, total) => call.progress('analyse', done, total, `LMBO ${formatOfTotal(done, total)} layers`),
  });
  return {
    modelId: input.modelId,
    promptTokens: p.promptTokens,
    tau: p.tau,
    lmba: p.lmba,
    lmbaPerHead: p.lmbaPerHead,
    tauO: p.tauO,
    lmbo: p.lmbo,
    uncertainty: Array.from(layerUncertainty(p.lmba)),
  };
}
