/**
 * The Playground: one prompt generated with full attention and with up to a
 * few compressed configurations, sharing one prefill (runPlayground), and
 * the example prompts it offers, measured in the model's tokens
 * (playgroundExample). Both run on the engine session's open engine.
 */
import type { BudgetSpec, LabHandlers, LabOutput, LabParsedInput, PlaygroundResult } from '@kvlab/core';
import { ApiError, formatMethodSpec, formatOfTotal, parseBudget, parseMethodSpec, playgroundExample } from '@kvlab/core';
import type { Method } from '../engine/generate.ts';
import { generate, prefillForMethods } from '../engine/generate.ts';
import type { InferenceEngine, OpenedModel, PrefillResult } from '../engine/inference-engine.ts';
import type { Tokenizer } from '../engine/model.ts';
import type { HfTokenizer } from '../engine/tokenizers/hf.ts';
import { tokenCounter } from '../experiments/samples.ts';
import type { EngineSession, OpenSession } from './engine-session.ts';
import type { ModelRegistry } from './model-registry.ts';
import { checkPromptKv, compressedShare } from '../experiments/memory.ts';
import type { CallControl, CallHandle } from './calls.ts';
import { engineWatch, prefillProgress } from './calls.ts';

export interface PlaygroundOptions {
  readonly registry: ModelRegistry;
  readonly session: EngineSession;
  /** Reports runPlayground's progress and cancels it. */
  readonly calls: CallControl;
}

/** One configuration, parsed: what generate() takes plus how the answer labels it. */
interface PlaygroundConfig {
  readonly label: string;
  readonly method: Method;
  readonly budget: BudgetSpec | undefined;
  readonly budgetText: string;
}

const FULL: PlaygroundConfig = { label: 'full', method: 'full', budget: undefined, budgetText: 'full' };

type ChatTokenizer = Tokenizer & Partial<Pick<HfTokenizer, 'chatTemplate' | 'encodeChat'>>;

/** Parses every configuration before the engine is touched: a typo fails fast and names its place. */
function parseConfigs(configs: LabParsedInput<'runPlayground'>['configs']): PlaygroundConfig[] {
  return configs.map((c, i) => {
    let method: Method;
    try {
      method = parseMethodSpec(c.method);
    } catch (e) {
      // The message is the user's sentence (it quotes the text, which tells the configurations apart); the field is in details.
      throw new ApiError('E_INVALID', (e as Error).message, { field: `configs.${i}.method` });
    }
    let budget: BudgetSpec | undefined;
    try {
      budget = method === 'full' ? undefined : parseBudget(c.budget);
    } catch (e) {
      throw new ApiError('E_INVALID', (e as Error).message, { field: `configs.${i}.budget` });
    }
    return { label: c.method.trim(), method, budget, budgetText: method === 'full' ? 'full' : c.budget };
  });
}

function encodePrompt(tok: ChatTokenizer, prompt: string, chatTemplate: boolean): number[] {
  return chatTemplate && tok.chatTemplate && tok.encodeChat ? tok.encodeChat([{ role: 'user', content: prompt }]) : tok.encode(prompt);
}

/**
 * The run goes on past the model's declared context (a user may want to see
 * it), but says so: positions past it are ones the model was not trained
 * for, and its outputs there say little about compression.
 */
function contextWarnings(model: Pick<OpenedModel, 'config'>, promptTokens: number, maxNewTokens: number): string[] {
  const limit = model.config.contextLength;
  if (promptTokens + maxNewTokens <= limit) return [];
  const more = promptTokens > limit ? '' : ` and up to ${maxNewTokens} more are generated`;
  return [
    `The prompt has ${promptTokens.toLocaleString('en-US')} tokens${more}, longer than ${model.config.name}'s context (${limit.toLocaleString('en-US')} tokens): the model was not trained for those positions, so its answers there say little about compression.`,
  ];
}

interface GenerateOne {
  readonly engine: InferenceEngine;
  readonly tok: Tokenizer;
  readonly ids: readonly number[];
  readonly pre: PrefillResult;
  readonly maxTokens: number;
  /** Nothing reads the prefill after this configuration (generate's lastUseOfPrefill). */
  readonly lastUse?: boolean;
  readonly call: CallHandle;
}

/** Generates one configuration from the shared prefill and reports it as the Playground shows it. */
async function runConfig(c: PlaygroundConfig, g: GenerateOne): Promise<PlaygroundResult> {
  let made = 0;
  const r = await generate(g.engine, g.ids, {
    method: c.method,
    ...(c.budget ? { budget: c.budget } : {}),
    maxTokens: g.maxTokens,
    prefill: g.pre,
    lastUseOfPrefill: g.lastUse ?? false,
    signal: g.call.signal,
    onToken: () => g.call.progress('generate', ++made, g.maxTokens, `${c.label}: ${formatOfTotal(made, g.maxTokens)} tokens`),
  });
  const held = r.heldAfterCompression;
  const plan = r.plan;
  return {
    label: c.label,
    method: formatMethodSpec(c.method),
    budget: c.budgetText,
    text: g.tok.decode(r.tokens),
    promptTokens: g.ids.length,
    generatedTokens: r.tokens.length,
    tokensPerSecond: r.timings.decodeTokens > 0 ? r.timings.decodeTokens / (r.timings.decodeMs / 1000) : 0,
    prefillMs: g.pre.timings.prefillMs,
    kvBytes: held.bytes,
    fullBytes: held.fullBytes,
    kept: plan?.compress ? plan.kept.map((heads) => heads.map((k) => Array.from(k))) : [],
    layerBudgets: plan ? Array.from(plan.layerBudgets) : new Array<number>(g.engine.config.numLayers).fill(g.ids.length),
    notices: r.notices,
  };
}

export class Playground {
  constructor(private readonly opts: PlaygroundOptions) {}

  handlers(): Pick<LabHandlers, 'runPlayground' | 'playgroundExample'> {
    return {
      runPlayground: (input) => this.run(input),
      playgroundExample: (input) => this.example(input),
    };
  }

  private run(input: LabParsedInput<'runPlayground'>): Promise<LabOutput<'runPlayground'>> {
    const configs = parseConfigs(input.configs);
    const ref = this.opts.registry.get(input.modelId);
    return this.opts.calls.track('runPlayground', input.requestId, (call) =>
      this.opts.session.withEngine(ref, (s) => this.generateAll(s, input, configs, call), engineWatch(call, ref.name)),
    );
  }

  private async generateAll(
    { engine, model, kvRoom }: OpenSession,
    input: LabParsedInput<'runPlayground'>,
    configs: readonly PlaygroundConfig[],
    call: CallHandle,
  ): Promise<LabOutput<'runPlayground'>> {
    const tok = model.tokenizer as ChatTokenizer;
    const ids = encodePrompt(tok, input.prompt, input.chatTemplate);
    checkPromptKv(kvRoom, ids.length, input.maxNewTokens, compressedShare(engine.shape, configs, ids.length));
    // One full-attention prefill with every statistic the configurations need, shared by all of them.
    const methods = ['full' as const, ...configs.map((c) => c.method)];
    const pre = await prefillForMethods(engine, ids, methods, { signal: call.signal, onProgress: prefillProgress(call) });
    const one = { engine, tok, ids, pre, maxTokens: input.maxNewTokens, call };
    // The compressed configurations first; the full cache last takes the prefill's K/V over instead of copying them, so
    // the prompt's K/V are held once (a 32K prompt on Llama-3-8B is 8 GiB of float32). The answer lists full first.
    const compressed: PlaygroundResult[] = [];
    for (const c of configs) compressed.push(await runConfig(c, one));
    const results = [await runConfig(FULL, { ...one, lastUse: true }), ...compressed];
    const warnings = contextWarnings(model, ids.length, input.maxNewTokens);
    return { tokens: ids.map((id) => tok.piece(id)), results, ...(warnings.length ? { warnings } : {}) };
  }

  private example(input: LabParsedInput<'playgroundExample'>): Promise<LabOutput<'playgroundExample'>> {
    // The model is loaded (as the Playground's run will need it) for its tokenizer: lengths are in its tokens, as a run's are.
    return this.opts.session.withEngine(this.opts.registry.get(input.modelId), ({ model }) =>
      Promise.resolve(
        playgroundExample(
          { kind: input.kind, contextLength: input.contextLength, depth: input.depth, template: input.template, seed: input.seed },
          tokenCounter(model.tokenizer),
        ),
      ),
    );
  }
}
