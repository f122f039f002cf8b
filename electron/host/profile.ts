/**
 * profileModel: the layer profile of one prompt (LMBA per layer and head,
 * LMBO, and the uncertainty ZigZagKV's allocator derives from LMBA), on the
 * engine session's open engine.
 */
import type { LabHandlers, LabParsedInput, LayerProfile } from '@kvlab/core';
import { layerUncertainty } from '@kvlab/core';
import { checkPromptKv } from '../experiments/memory.ts';
import { profilePrompt } from '../experiments/profile.ts';
import type { EngineSession } from './engine-session.ts';
import type { ModelRegistry } from './model-registry.ts';

export interface ProfilerOptions {
  readonly registry: ModelRegistry;
  readonly session: EngineSession;
}

export class Profiler {
  constructor(private readonly opts: ProfilerOptions) {}

  handlers(): Pick<LabHandlers, 'profileModel'> {
    return { profileModel: (input) => this.profile(input) };
  }

  private profile(input: LabParsedInput<'profileModel'>): Promise<LayerProfile> {
    return this.opts.session.withEngine(this.opts.registry.get(input.modelId), async ({ engine, model, kvRoom }) => {
      const ids = model.tokenizer.encode(input.prompt);
      checkPromptKv(kvRoom, ids.length, 0);
      const p = await profilePrompt(engine, ids, { tau: input.tau, windowSize: input.windowSize, tauO: input.tauO, lmbo: input.lmbo });
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
    });
  }
}
