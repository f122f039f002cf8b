/**
 * Workloads: what the runner prefills, what it expects back and how it scores it.
 *
 * A workload definition (`WorkloadDef`, zod, stored in experiment files) is
 * expanded by a generator into `Sample`s. Generators are pure and seeded: the
 * same definition, seed, token counter and texts give the same samples on every
 * platform. They never read files — the runner reads haystack texts and
 * LongBench JSONL and passes the strings in.
 *
 * Lengths are in tokens of the model under test, measured with a `TokenCounter`
 * (the runner passes `encode(text).length` without BOS); a prompt of "4096
 * tokens" is the text before any chat template and BOS.
 *
 * Each kind is one file exporting one definition (schema, generator, sample
 * sketch, builder form; workload.ts), listed in registry.ts. This file holds
 * what they share: the Sample they produce and common schema pieces.
 */
import { z } from 'zod';
import { describeIssues, joinIssues } from '../issues.ts';
import { pathText } from '../path-text.ts';
import { WorkloadError } from './errors.ts';

/** Counts the tokens of a text with the model's tokenizer (no BOS, no chat template). */
export interface TokenCounter {
  count(text: string): number;
}

/**
 * How a sample's output is scored (metrics/text.ts `METRICS`), or 'fidelity'
 * for samples scored from logits (metrics/fidelity.ts).
 *   qa_f1 · rouge_l · classification · retrieval · count · code_sim   LongBench's metrics.py
 *   niah    fraction of the expected answers found in the output (all are required)
 *   niah_whole  the same, counting an answer only where it stands as a whole
 *           word — no letter or digit directly before or after it
 *   exact   1 if the output, trimmed, equals one of the answers
 */
export type TextMetricId = 'qa_f1' | 'rouge_l' | 'classification' | 'retrieval' | 'count' | 'code_sim' | 'niah' | 'niah_whole' | 'exact';
export type MetricId = TextMetricId | 'fidelity';

export type MetaValue = string | number | boolean;
export type SampleMeta = Readonly<Record<string, MetaValue>>;

export interface Sample {
  /** Unique within a workload and stable across runs, e.g. 'niah-single/c4096/d50/s0'. */
  readonly id: string;
  /** 'niah-single', 'ruler-vt', 'longbench-qasper', 'fidelity', … */
  readonly workload: string;
  /** The text to prefill, before any chat template. */
  readonly prompt: string;
  /**
   * Expected outputs. For 'niah' and 'niah_whole' every entry must be recalled
   * (the score is the fraction found); for the LongBench metrics and 'exact' they are alternatives
   * (the score is the max over them). Empty for 'fidelity'.
   */
  readonly answers: readonly string[];
  readonly metric: MetricId;
  /** Generation cap (LongBench's dataset2maxlen for LongBench samples). */
  readonly maxNewTokens: number;
  /**
   * Facts about the sample: depth, contextLength, tokens (measured prompt
   * tokens), dataset, chatTemplate (false = prefill without the chat
   * template), firstLine (score only the first line of the output),
   * allClasses (LongBench classification: the label set as a JSON array), …
   */
  readonly meta: SampleMeta;
  /** Fidelity: the text scored teacher-forced right after the prompt (prompt + continuation is the original text). */
  readonly continuation?: string;
}

/** What a generator gets besides its definition. */
export interface GenerateOptions {
  /** The experiment seed; every random choice derives from it (rng.ts mixSeed/createRng). */
  readonly seed: number;
  /** The model's tokenizer, for every length in tokens. */
  readonly counter: TokenCounter;
  /** Haystack / source texts, read by the runner, in the order of the definition's names. */
  readonly texts?: readonly string[];
}

/** An integer schema in [min, max]. */
export const intIn = (min: number, max: number) => z.number().int().min(min).max(max);
/** The prompt lengths of a length-swept workload (niah, ruler). */
export const contextLengthsSchema = z
  .array(intIn(16, 4_194_304))
  .min(1)
  .describe('Prompt lengths in tokens of the model under test (before the chat template).');

/** A text haystack: files the runner reads (by name, e.g. 'austen-emma.txt' from ../shared/texts) and passes in as strings. */
export const textsHaystack = z.strictObject({ kind: z.literal('texts'), names: z.array(pathText()).min(1) });
export const fillerHaystack = z.strictObject({ kind: z.literal('filler') });

/**
 * Parses with `schema` (defaults filled in); throws a WorkloadError naming the
 * workload and every problem (in the user's terms, issues.ts) instead of a ZodError.
 */
export function parseWorkload<S extends z.ZodType>(schema: S, def: unknown, workload = 'definition'): z.output<S> {
  const r = schema.safeParse(def);
  if (!r.success) throw new WorkloadError(workload, joinIssues(describeIssues(r.error.issues)));
  return r.data;
}
