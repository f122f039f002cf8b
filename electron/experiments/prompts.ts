/**
 * How a sample becomes the token ids a run prefills: the context every
 * workload is generated with (seed, token counter, texts, model-sampled text),
 * the generation cap, the cut that keeps a prompt inside the model's context
 * with room for its answer, the chat template, and the stop ids. The runner
 * and `findSample` (the host's getSample) share it, so a sample shown in the
 * app is the prompt the run really fed.
 */
import { resolve } from 'node:path';
import type { ExperimentDef, Sample } from '@kvlab/core';
import { parseExperiment, promptRoom } from '@kvlab/core';
import { openModel } from '../engine/engine.ts';
import { sampler } from '../engine/generate.ts';
import type { OpenedModel } from '../engine/inference-engine.ts';
import { KvCache } from '../engine/kv-cache.ts';
import type { HfTokenizer } from '../engine/tokenizers/hf.ts';
import type { RunOptions } from './runner.ts';
import type { SampleContext } from './samples.ts';
import { samplesForWorkload, tokenCounter } from './samples.ts';

/** A model as planning a run reads it: its context length and tokenizer. */
export type ModelView = Pick<OpenedModel, 'config' | 'tokenizer'>;

/** What every workload of `def` is generated with for `model`: the same seed, token counter, texts and model-sampled text in a run and in `findSample`. */
export async function sampleContext(def: ExperimentDef, model: OpenedModel, opts: Pick<RunOptions, 'baseDir' | 'cacheDir'>): Promise<SampleContext> {
  const counter = tokenCounter(model.tokenizer);
  const sampledText = await sampledTextFor(def, model, opts);
  return {
    seed: def.seed,
    counter,
    baseDir: opts.baseDir,
    ...(def.texts ? { textsDir: resolve(opts.baseDir, def.texts) } : {}),
    ...(sampledText !== undefined ? { sampledText } : {}),
  };
}

/** One sample of an experiment as a run built it, with the prompt token ids the run prefilled. */
export interface FoundSample {
  readonly sample: Sample;
  readonly modelIndex: number;
  readonly model: OpenedModel;
  readonly promptIds: number[];
}

/**
 * Rebuilds an experiment's samples exactly as `runExperiment` does and
 * returns the one with `sampleId` for the first model that has it (samples
 * depend on the model's tokenizer); undefined when none has it. `load` opens
 * a model as the run did (default: the real engine's openModel); a caller that
 * already holds the model, or runs over another engine, passes its own.
 */
export async function findSample(
  raw: unknown,
  sampleId: string,
  opts: Pick<RunOptions, 'baseDir' | 'cacheDir'>,
  load: (path: string) => Promise<OpenedModel> = (path) => openModel(path, { floatWeights: 'auto' }),
): Promise<FoundSample | undefined> {
  const def = parseExperiment(raw);
  for (const [mi, rel] of def.models.entries()) {
    const model = await load(resolve(opts.baseDir, rel));
    const ctx = await sampleContext(def, model, opts);
    for (const w of def.workloads) {
      const sample = samplesForWorkload(w, ctx).find((s) => s.id === sampleId);
      if (sample) return { sample, modelIndex: mi, model, promptIds: promptIds(model, sample, def) };
    }
  }
  return undefined;
}

/**
 * Text sampled from the model itself (seeded, temperature 1) for fidelity
 * workloads with `texts: 'sampled'` — in-domain text for small models such as
 * stories260K, whose training text is not at hand. Sampled in segments that
 * restart from BOS so no segment runs past the context the model was trained
 * at. Its engine runs with the default options, whatever the experiment's
 * engine settings, so the text is the same for every engine setting.
 */
async function sampledTextFor(def: ExperimentDef, model: OpenedModel, opts: Pick<RunOptions, 'cacheDir'>): Promise<string | undefined> {
  const ws = def.workloads.filter((w) => w.kind === 'fidelity' && w.texts === 'sampled');
  if (ws.length === 0) return undefined;
  const need = Math.max(...ws.map((w) => (w.kind === 'fidelity' ? (Math.max(...w.promptTokens) + w.continuationTokens) * (w.samples + 1) : 0))) + 256;
  const engine = await model.startEngine(opts.cacheDir ? { cacheDir: opts.cacheDir } : {});
  try {
    const segment = Math.min(256, model.config.contextLength);
    const bos = model.tokenizer.bosId ?? 1;
    const parts: string[] = [];
    let total = 0;
    for (let s = 0; total < need; s++) {
      const pre = await engine.prefill([bos]);
      const cache = KvCache.full(engine.shape, pre.keys, pre.values, 1);
      const pick = sampler({ temperature: 1, seed: def.seed * 7919 + s });
      const ids: number[] = [];
      let next = pick(pre.logits);
      while (ids.length < segment && !model.tokenizer.eosIds.includes(next) && next !== bos) {
        ids.push(next);
        next = pick((await engine.step(cache, [next])).logits);
      }
      total += ids.length;
      parts.push(model.tokenizer.decode(ids));
      if (s > 10_000) break;
    }
    return parts.join('\n');
  } finally {
    await engine.dispose();
  }
}

export function maxNew(sample: Sample, def: ExperimentDef): number {
  return def.generation.maxNewTokens ?? sample.maxNewTokens;
}

/**
 * Prompt token ids: the chat template where the model has one and the sample
 * wants it, else BOS + text. A prompt longer than the model's context minus
 * the generation cap is cut in the middle, keeping its head and tail, as
 * LongBench's pred.py does.
 */
export function promptIds(model: ModelView, sample: Sample, def: ExperimentDef): number[] {
  return fitPrompt(model, sample, def).ids;
}

/** Prompt tokens that fit in the model's context with room for the sample's answer (core's promptRoom rule). */
export function roomFor(model: ModelView, sample: Sample, def: ExperimentDef): number {
  return promptRoom(model.config.contextLength, maxNew(sample, def));
}

/**
 * The prompt's token ids, and whether it had to be cut: a prompt longer than
 * the model's context (minus the generation cap) loses its middle, as LongBench
 * does. Fidelity samples are never cut (their NLL needs the whole text).
 */
export function fitPrompt(model: ModelView, sample: Sample, def: ExperimentDef): { ids: number[]; truncated: boolean } {
  const tok = model.tokenizer as Partial<HfTokenizer> & ModelView['tokenizer'];
  let text = sample.prompt;
  let truncated = false;
  const room = roomFor(model, sample, def);
  if (sample.metric !== 'fidelity' && room > 0) {
    const raw = tok.encode(text, { addBos: false });
    if (raw.length > room) {
      const half = Math.floor(room / 2);
      text = tok.decode(raw.slice(0, half)) + tok.decode(raw.slice(raw.length - half));
      truncated = true;
    }
  }
  const wantsTemplate = def.generation.chatTemplate === 'auto' && sample.meta['chatTemplate'] !== false && sample.metric !== 'fidelity';
  const ids = wantsTemplate && tok.chatTemplate && tok.encodeChat ? tok.encodeChat([{ role: 'user', content: text }]) : tok.encode(text);
  return { ids, truncated };
}

/** Extra stop ids: LongBench's samsum stops at a newline (meta.stopAtNewline). */
export function stopIds(model: ModelView, sample: Sample): number[] {
  if (sample.meta['stopAtNewline'] !== true) return [];
  const nl = model.tokenizer.encode('\n', { addBos: false });
  return nl.length === 1 ? nl : [];
}
