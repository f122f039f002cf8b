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
 * The four kinds (landscape.md §3 describes the conventions they follow):
 *   niah       needle-in-a-haystack grid, context length × depth   (niah.ts)
 *   ruler      RULER-style synthetic tasks: vt, cwe, fwe, kv        (ruler.ts)
 *   longbench  LongBench v1 JSONL, the 16 English + code datasets  (longbench.ts)
 *   fidelity   prompt + teacher-forced continuation cut from texts (fidelity.ts)
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

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const contextLengths = z.array(int(16, 4_194_304)).min(1).describe('Prompt lengths in tokens of the model under test (before the chat template).');

/** A text haystack: files the runner reads (by name, e.g. 'austen-emma.txt' from ../shared/texts) and passes in as strings. */
const textsHaystack = z.strictObject({ kind: z.literal('texts'), names: z.array(pathText()).min(1) });
const fillerHaystack = z.strictObject({ kind: z.literal('filler') });

export const niahWorkload = z.strictObject({
  kind: z.literal('niah'),
  variant: z
    .enum(['single', 'multikey', 'multivalue', 'passkey'])
    .default('single')
    .describe(
      'single needle; multikey: distractor needles with other keys; multivalue: several values for one key, all to recall; passkey: a number in filler',
    ),
  contextLengths,
  depths: z.array(z.number().min(0).max(100)).min(1).describe('Needle depths in % of the haystack (0 = start, 100 = end).'),
  samplesPerCell: int(1, 100_000).default(1),
  haystack: z.discriminatedUnion('kind', [textsHaystack, fillerHaystack]).default({ kind: 'filler' }),
  heldOutTemplates: z.boolean().default(false).describe('Use the held-out needle templates (for evaluation), disjoint from the default set.'),
  needles: int(2, 64).default(4).describe('multikey: needles in all (1 target + distractors); multivalue: values for the key.'),
  // Optional without a default: an experiment that leaves it out parses (and hashes) as it did before the field existed.
  match: z
    .enum(['substring', 'whole'])
    .optional()
    .describe(
      "How an answer is found in the output. substring (the default): anywhere, as RULER's string_match_all scores — 81995 counts in '819955.'; whole: only as a whole word, with no letter or digit directly before or after it (metric niah_whole, workload named niah-<variant>-whole).",
    ),
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-", starting with a letter or digit')
    .optional()
    .describe(
      "The workload's name in results and sample ids (default niah-<variant>, niah-<variant>-whole with match whole): gives two NIAH workloads of one experiment that differ only in templates, haystack or needles names of their own.",
    ),
});

export const rulerWorkload = z.strictObject({
  kind: z.literal('ruler'),
  task: z.enum(['vt', 'cwe', 'fwe', 'kv']).describe('vt: variable tracking; cwe: common words; fwe: frequent words; kv: key-value retrieval'),
  contextLengths,
  samples: int(1, 100_000).default(1).describe('Samples per context length.'),
});

export const longbenchWorkload = z.strictObject({
  kind: z.literal('longbench'),
  path: pathText().describe('A LongBench-format JSONL file (or a folder of them; the runner resolves it).'),
  datasets: z.array(z.string().min(1)).min(1).optional().describe("Keep only these datasets (the records' `dataset` field)."),
  limit: int(1, 1_000_000).optional().describe('At most this many samples per dataset, in file order.'),
});

export const fidelityWorkload = z.strictObject({
  kind: z.literal('fidelity'),
  texts: z
    .union([z.array(z.string().min(1)).min(1), z.literal('sampled')])
    .optional()
    .describe("Text names the runner reads, or 'sampled': text the runner samples from the model itself (seeded) — in-domain for small models."),
  promptTokens: z.array(int(1, 4_194_304)).min(1),
  continuationTokens: int(1, 65_536),
  samples: int(1, 100_000).default(1).describe('Samples per prompt length.'),
});

/** One workload of an experiment, discriminated on `kind`. Unknown keys are rejected. */
export const workloadDef = z.discriminatedUnion('kind', [niahWorkload, rulerWorkload, longbenchWorkload, fidelityWorkload]);

/** A parsed workload (defaults filled in). */
export type WorkloadDef = z.output<typeof workloadDef>;
/** A workload as written in an experiment file (defaults optional). */
export type WorkloadDefInput = z.input<typeof workloadDef>;
export type NiahWorkload = z.output<typeof niahWorkload>;
export type RulerWorkload = z.output<typeof rulerWorkload>;
export type LongBenchWorkload = z.output<typeof longbenchWorkload>;
export type FidelityWorkload = z.output<typeof fidelityWorkload>;

/**
 * Parses with `schema` (defaults filled in); throws a WorkloadError naming the
 * workload and every problem (in the user's terms, issues.ts) instead of a ZodError.
 */
export function parseWorkload<S extends z.ZodType>(schema: S, def: unknown, workload = 'definition'): z.output<S> {
  const r = schema.safeParse(def);
  if (!r.success) throw new WorkloadError(workload, joinIssues(describeIssues(r.error.issues)));
  return r.data;
}

/** Parses one workload of an experiment file. */
export function parseWorkloadDef(def: unknown): WorkloadDef {
  return parseWorkload(workloadDef, def, typeof def === 'object' && def !== null && 'kind' in def ? String(def.kind) : 'definition');
}
