/**
 * Needle in a haystack: a needle sentence hidden at depth d % of a haystack,
 * the whole prompt c tokens long, for every (c, d) of a grid — the sweep of
 * gkamradt/LLMTest_NeedleInAHaystack (context length on x, depth on y), with
 * the multi-key and multi-value variants of RULER (NVIDIA/RULER,
 * scripts/data/synthetic/niah.py) and the passkey test (a number in repetitive
 * filler).
 *
 * Everything here is KV Lab's own: the needle templates (a default set and a
 * disjoint held-out set for evaluation, `heldOutTemplates`), the filler
 * (filler.ts), the keys ("cobalt lantern") and the instructions.
 *
 * Prompt layout (every part in one string, before any chat template):
 *   <instruction>\n\n<haystack with needle(s)>\n\nQuestion: <q>\nAnswer: <answer prefix>
 *
 * - Length: the whole prompt is `contextLength` tokens of the runner's counter,
 *   within `lengthTolerance` (max(2, 0.2 %)); the haystack is whole sentences
 *   from a seeded offset, then the first words of the next one.
 * - Depth: the needle goes at the sentence boundary whose token position (per-
 *   sentence counts) is nearest to depth % of the haystack's tokens; 0 = before
 *   the first sentence, 100 = after the last word. The error is at most half a
 *   sentence.
 * - Variants: single — one needle; multikey — the target plus `needles − 1`
 *   distractor needles with other keys at seeded positions; multivalue —
 *   `needles` values for one key, consecutive at the depth, all to be recalled;
 *   passkey — a 5-digit number, filler haystack by default.
 * - Seeds: for a (contextLength, sample) pair the haystack, key, values and
 *   template are the same at every depth (only the needle moves), so a heatmap
 *   column compares like with like.
 * - Metric 'niah': the fraction of `answers` found in the output (metrics/text.ts),
 *   as RULER finds them (substrings); with `match: 'whole'`, 'niah_whole' (only
 *   whole words count) and the workload is named 'niah-<variant>-whole', so both
 *   scorings of the same prompts can sit in one experiment. `name` overrides the
 *   workload name (two grids that differ only in templates or haystack).
 *
 * Haystack texts are passed in by the runner (`texts`, in the order of
 * `haystack.names`); `meta.haystack` names the one a sample starts in.
 */
import { z } from 'zod';
import { createRng, mixSeed } from '../rng.ts';
import type { Rng } from '../rng.ts';
import { WorkloadError } from './errors.ts';
import { fillerSentences, NEEDLE_KEY_COUNT, needleKey } from './filler.ts';
import type { FitModel } from './text.ts';
import { fitUnits, lengthTolerance, SentencePool, textSentences } from './text.ts';
import { contextLengthsSchema, fillerHaystack, intIn, parseWorkload, textsHaystack } from './types.ts';
import type { GenerateOptions, Sample } from './types.ts';
import type { SampleGrid, SampleSketch, WorkloadKindDef } from './workload.ts';
import { countOr, plainOptions, uniqueNumbers, writeAs } from './workload.ts';

/** The variants, in the order of their seed codes (variant i seeds with i + 1): the one list the schema, generator and builder use. */
export const NIAH_VARIANTS = ['single', 'multikey', 'multivalue', 'passkey'] as const;
export type NiahVariant = (typeof NIAH_VARIANTS)[number];

export const niahWorkload = z.strictObject({
  kind: z.literal('niah'),
  variant: z
    .enum(NIAH_VARIANTS)
    .default('single')
    .describe(
      'single needle; multikey: distractor needles with other keys; multivalue: several values for one key, all to recall; passkey: a number in filler',
    ),
  contextLengths: contextLengthsSchema,
  depths: z.array(z.number().min(0).max(100)).min(1).describe('Needle depths in % of the haystack (0 = start, 100 = end).'),
  samplesPerCell: intIn(1, 100_000).default(1),
  haystack: z.discriminatedUnion('kind', [textsHaystack, fillerHaystack]).default({ kind: 'filler' }),
  heldOutTemplates: z.boolean().default(false).describe('Use the held-out needle templates (for evaluation), disjoint from the default set.'),
  needles: intIn(2, 64).default(4).describe('multikey: needles in all (1 target + distractors); multivalue: values for the key.'),
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
export type NiahWorkload = z.output<typeof niahWorkload>;

/** A needle: the statement hidden in the haystack and the question that asks for it. */
export interface NeedleTemplate {
  /** With {key} and {value}. */
  readonly statement: string;
  /** With {key}: asks for the one value. */
  readonly question: string;
  /** What the answer starts with (the prompt ends with it), with {key}. */
  readonly answerPrefix: string;
  /** Multi-value: asks for every value of the key. */
  readonly questionAll: string;
  readonly answerPrefixAll: string;
}

const T = (statement: string, question: string, answerPrefix: string, questionAll: string, answerPrefixAll: string): NeedleTemplate => ({
  statement,
  question,
  answerPrefix,
  questionAll,
  answerPrefixAll,
});

/** Needle templates for keyed variants. `heldOut` shares no sentence frame with `train`. */
export const NEEDLE_TEMPLATES: { readonly train: readonly NeedleTemplate[]; readonly heldOut: readonly NeedleTemplate[] } = {
  train: [
    T(
      'Remember this: the locker code for {key} is {value}.',
      'What is the locker code for {key}?',
      'The locker code for {key} is',
      'What are all the locker codes for {key}?',
      'The locker codes for {key} are',
    ),
    T(
      'A note pinned to the board says that the {key} archive is filed under number {value}.',
      'Under which number is the {key} archive filed?',
      'The {key} archive is filed under number',
      'Under which numbers is the {key} archive filed?',
      'The {key} archive is filed under numbers',
    ),
    T(
      'In the harbour log, the ship called {key} is listed with berth number {value}.',
      'Which berth number is listed for the ship called {key}?',
      'The berth number listed for the ship called {key} is',
      'Which berth numbers are listed for the ship called {key}?',
      'The berth numbers listed for the ship called {key} are',
    ),
    T(
      'Written in small letters on the last page: the combination for {key} is {value}.',
      'What is the combination for {key}?',
      'The combination for {key} is',
      'What are all the combinations for {key}?',
      'The combinations for {key} are',
    ),
    T(
      'The gardener told everyone that the {key} seeds came in packet {value}.',
      'Which packet did the {key} seeds come in?',
      'The {key} seeds came in packet',
      'Which packets did the {key} seeds come in?',
      'The {key} seeds came in packets',
    ),
  ],
  heldOut: [
    T(
      'For the record, the badge number given to {key} is {value}.',
      'What badge number was given to {key}?',
      'The badge number given to {key} is',
      'What are all the badge numbers given to {key}?',
      'The badge numbers given to {key} are',
    ),
    T(
      'According to the old ledger, the {key} account was settled with voucher {value}.',
      'Which voucher settled the {key} account?',
      'The {key} account was settled with voucher',
      'Which vouchers settled the {key} account?',
      'The {key} account was settled with vouchers',
    ),
    T(
      'On the station board, the train named {key} leaves from gate {value}.',
      'From which gate does the train named {key} leave?',
      'The train named {key} leaves from gate',
      'From which gates does the train named {key} leave?',
      'The train named {key} leaves from gates',
    ),
  ],
};

/** Passkey templates ({value} only). */
export const PASSKEY_TEMPLATES: { readonly train: readonly NeedleTemplate[]; readonly heldOut: readonly NeedleTemplate[] } = {
  train: [
    T('Keep this number in mind, it is the passkey: {value}.', 'What is the passkey?', 'The passkey is', '', ''),
    T('Here is the passkey you will need later: {value}. Once more, the passkey is {value}.', 'What is the passkey?', 'The passkey is', '', ''),
  ],
  heldOut: [T('Please memorise the access number {value}; it will be asked for at the end.', 'What is the access number?', 'The access number is', '', '')],
};

const INSTRUCTION = 'Below is a long text. Somewhere in it is a sentence that answers the question at the end. Answer from the text alone.';
const PASSKEY_INSTRUCTION = 'A number is hidden somewhere in the text below. Read all of it and keep the number in mind: you will be asked for it at the end.';

const variantCode = (v: NiahVariant): number => NIAH_VARIANTS.indexOf(v) + 1;

const fill = (s: string, key: string, value = ''): string => s.replaceAll('{key}', key).replaceAll('{value}', value);

/** `count` distinct numbers of `digits` digits, as strings. */
function distinctNumbers(count: number, digits: number, rng: Rng): string[] {
  const lo = 10 ** (digits - 1);
  const out = new Set<string>();
  while (out.size < count) out.add(String(lo + rng.int(9 * lo)));
  return [...out];
}

/** `count` distinct needle keys. */
function distinctKeys(count: number, rng: Rng): string[] {
  const out = new Set<string>();
  while (out.size < count) out.add(needleKey(rng.int(NEEDLE_KEY_COUNT)));
  return [...out];
}

/** Index of the boundary (0…positions.length−1) whose token position is nearest to `at` (ties: the earlier). */
function nearestBoundary(positions: readonly number[], at: number): number {
  let best = 0;
  for (let b = 1; b < positions.length; b++) if (Math.abs((positions[b] ?? 0) - at) < Math.abs((positions[best] ?? 0) - at)) best = b;
  return best;
}

/**
 * The workload name and metric of a NIAH definition, as written (defaults may be absent): its
 * `name`, else `niah-<variant>` (+ `-whole` with `match: 'whole'`), scored by 'niah' or 'niah_whole'.
 * The generator and the sketch both name samples by it.
 */
export function niahNaming(d: {
  readonly variant?: NiahVariant | undefined;
  readonly match?: 'substring' | 'whole' | undefined;
  readonly name?: string | undefined;
}): {
  readonly workload: string;
  readonly metric: 'niah' | 'niah_whole';
} {
  const whole = d.match === 'whole';
  return { workload: d.name ?? `niah-${d.variant ?? 'single'}${whole ? '-whole' : ''}`, metric: whole ? 'niah_whole' : 'niah' };
}

/** A sample's id: the one naming both the generator and the sketch use. */
const niahSampleId = (workload: string, length: number, depth: number, sample: number): string => `${workload}/c${length}/d${depth}/s${sample}`;

/** What one (context length, sample) pair shares at every depth: the haystack, needles and question (only the needle moves). */
interface NiahCell {
  readonly length: number;
  readonly sample: number;
  readonly key: string;
  readonly values: readonly string[];
  readonly templateId: string;
  readonly haystackName: string;
  readonly pool: SentencePool;
  readonly targetNeedles: readonly string[];
  readonly distractors: readonly string[];
  /** Distractor i sits at this fraction of the haystack. */
  readonly distractorAt: readonly number[];
  readonly head: string;
  readonly tail: string;
  readonly model: FitModel;
}

interface NiahContext {
  readonly d: NiahWorkload;
  readonly opts: GenerateOptions;
  readonly workload: string;
  readonly setName: 'train' | 'heldOut';
  readonly texts: readonly string[];
  readonly countCache: Map<string, number>;
}

/** The haystack stream of a cell: a seeded text at a seeded offset, or generated filler. */
function haystackStream(ctx: NiahContext, rng: Rng, base: number): { name: string; stream: Iterator<string> } {
  const { d, texts } = ctx;
  if (texts.length > 0 && d.haystack.kind === 'texts') {
    const ti = rng.int(texts.length);
    return { name: d.haystack.names[ti] ?? '', stream: textSentences(ctx.workload, texts, ti, rng.int((texts[ti] ?? '').length)) };
  }
  return { name: 'filler', stream: fillerSentences(createRng(mixSeed(base, 0x66))) };
}

/** Seeds and lays out one (length, sample) pair; the random draws keep their order, so the samples stay as they were. */
function niahCell(ctx: NiahContext, length: number, s: number): NiahCell {
  const { d, opts } = ctx;
  const passkey = d.variant === 'passkey';
  const templates = (passkey ? PASSKEY_TEMPLATES : NEEDLE_TEMPLATES)[ctx.setName];
  const base = mixSeed(opts.seed, variantCode(d.variant), length, s);
  const rng = createRng(base);
  const templateIndex = rng.int(templates.length);
  const template = templates[templateIndex] as NeedleTemplate;
  const multi = d.variant === 'multikey' || d.variant === 'multivalue';
  const keys = passkey ? ['passkey'] : distinctKeys(d.variant === 'multikey' ? d.needles : 1, rng);
  const values = distinctNumbers(multi ? d.needles : 1, passkey ? 5 : 7, rng);
  const key = keys[0] as string;
  // Distractors (multikey): needle i ≥ 1 pairs keys[i] with values[i], at a seeded fraction of the haystack.
  const distractorAt = d.variant === 'multikey' ? keys.slice(1).map(() => rng.next()) : [];
  const hay = haystackStream(ctx, rng, base);
  const pool = new SentencePool(hay.stream, opts.counter, ctx.countCache);
  const targetNeedles = d.variant === 'multivalue' ? values.map((v) => fill(template.statement, key, v)) : [fill(template.statement, key, values[0])];
  const distractors = distractorAt.map((_, i) => fill(template.statement, keys[i + 1] ?? '', values[i + 1]));
  const question =
    d.variant === 'multivalue'
      ? `Question: ${fill(template.questionAll, key)} There are ${values.length} of them.\nAnswer: ${fill(template.answerPrefixAll, key)}`
      : `Question: ${fill(template.question, key)}\nAnswer: ${fill(template.answerPrefix, key)}`;
  const head = `${passkey ? PASSKEY_INSTRUCTION : INSTRUCTION}\n\n`;
  const tail = `\n\n${question}`;
  const fixed = opts.counter.count(head + [...targetNeedles, ...distractors].join(' ') + tail);
  const model = { predict: (n: number) => fixed + pool.tokensOf(n), unitsFor: (t: number) => pool.wordsFor(t - fixed) };
  const templateId = `${ctx.setName}-${templateIndex}`;
  return { length, sample: s, key, values, templateId, haystackName: hay.name, pool, targetNeedles, distractors, distractorAt, head, tail, model };
}

/** The prompt of a cell with `n` haystack pieces and the needle(s) at `depth` %. */
function niahPrompt(cell: NiahCell, depth: number, n: number): string {
  const { pool } = cell;
  const pieces = pool.pieces(n);
  const total = pool.tokensOf(n);
  // Token position of the boundary before piece b (b = pieces.length: the end).
  const positions = pieces.map((_, b) => pool.cumTokens[b] ?? 0);
  positions.push(total);
  const at: string[][] = positions.map(() => []);
  at[nearestBoundary(positions, (depth / 100) * total)]?.push(...cell.targetNeedles);
  cell.distractorAt.forEach((f, i) => at[nearestBoundary(positions, f * total)]?.push(cell.distractors[i] ?? ''));
  const parts: string[] = [];
  for (let b = 0; b <= pieces.length; b++) {
    parts.push(...(at[b] ?? []));
    if (b < pieces.length) parts.push(pieces[b] ?? '');
  }
  return cell.head + parts.join(' ') + cell.tail;
}

/** One sample of a cell at `depth`, fitted to the cell's length; `start` is the piece count that fitted the previous depth. */
function niahSample(ctx: NiahContext, cell: NiahCell, depth: number, start: number | undefined): { sample: Sample; n: number } {
  const { d, workload } = ctx;
  const tol = lengthTolerance(cell.length);
  const fit = fitUnits(cell.length, tol, cell.model, (n) => ctx.opts.counter.count(niahPrompt(cell, depth, n)), { start });
  if (fit.tokens > cell.length + tol) {
    throw new WorkloadError(workload, `contextLength ${cell.length} is below the ${fit.tokens} tokens that the instructions, question and needles take`);
  }
  const multivalue = d.variant === 'multivalue';
  const sample: Sample = {
    id: niahSampleId(workload, cell.length, depth, cell.sample),
    workload,
    prompt: niahPrompt(cell, depth, fit.n),
    answers: multivalue ? cell.values : [cell.values[0] ?? ''],
    metric: niahNaming(d).metric,
    maxNewTokens: multivalue ? 16 * cell.values.length + 16 : 32,
    meta: {
      variant: d.variant,
      contextLength: cell.length,
      depth,
      key: cell.key,
      tokens: fit.tokens,
      haystack: cell.haystackName,
      template: cell.templateId,
      needles: cell.targetNeedles.length + cell.distractors.length,
      sample: cell.sample,
    },
  };
  return { sample, n: fit.n };
}

/**
 * Expands a NIAH definition into samples: for each context length, each
 * sample index and each depth (in that order), one prompt.
 */
export function generateNiah(def: z.input<typeof niahWorkload>, opts: GenerateOptions): Sample[] {
  const d = parseWorkload(niahWorkload, def, 'niah');
  const { workload } = niahNaming(d);
  const texts = d.haystack.kind === 'texts' ? (opts.texts ?? []) : [];
  if (d.haystack.kind === 'texts' && texts.length !== d.haystack.names.length) {
    throw new WorkloadError(workload, `haystack names ${d.haystack.names.length} texts, but ${texts.length} were passed in`);
  }
  const ctx: NiahContext = { d, opts, workload, setName: d.heldOutTemplates ? 'heldOut' : 'train', texts, countCache: new Map() };
  const out: Sample[] = [];
  for (const length of new Set(d.contextLengths)) {
    for (let s = 0; s < d.samplesPerCell; s++) {
      const cell = niahCell(ctx, length, s);
      let start: number | undefined;
      for (const depth of new Set(d.depths)) {
        const r = niahSample(ctx, cell, depth, start);
        start = r.n;
        out.push(r.sample);
      }
    }
  }
  return out;
}

/** The samples of a NIAH definition as written (half-typed input tolerated), named and ordered as generateNiah makes them. */
export function sketchNiah(w: z.input<typeof niahWorkload>): SampleGrid {
  const variant = w.variant ?? 'single';
  const { workload, metric } = niahNaming(w);
  const out: SampleSketch[] = [];
  for (const c of uniqueNumbers(w.contextLengths))
    for (let s = 0; s < countOr(w.samplesPerCell, 1); s++)
      for (const d of uniqueNumbers(w.depths))
        out.push({ id: niahSampleId(workload, c, d, s), workload, promptTokens: c, metric, meta: { contextLength: c, depth: d, variant } });
  return { samples: out, exact: true };
}

/** Needle in a haystack, as one registry entry. */
export const niah = {
  kind: 'niah',
  summary: 'Needle in a haystack: a context length × depth grid (single, multikey, multivalue, passkey).',
  schema: niahWorkload,
  generate: generateNiah,
  sketch: sketchNiah,
  sources: (d) => (d.haystack.kind === 'texts' ? { kind: 'texts', names: d.haystack.names } : { kind: 'none' }),
  form: [
    {
      key: 'variant',
      label: 'Variant',
      control: 'select',
      options: plainOptions(NIAH_VARIANTS),
      testId: 'variant',
      initial: 'passkey',
      write: writeAs.choice('variant'),
    },
    { key: 'contextLengths', label: 'Context lengths (tokens)', control: 'text', testId: 'contexts', initial: '256', write: writeAs.numbers('contextLengths') },
    { key: 'depths', label: 'Depths (%)', control: 'text', testId: 'depths', initial: '0, 50, 100', write: writeAs.numbers('depths') },
    { key: 'samplesPerCell', label: 'Samples per cell', control: 'text', testId: 'samples', initial: '1', write: writeAs.optionalNumber('samplesPerCell') },
    {
      key: 'haystack',
      label: 'Haystack texts',
      control: 'text',
      placeholder: 'filler (or e.g. austen-emma.txt)',
      testId: 'haystack',
      initial: '',
      // Empty: generated filler (the schema's default).
      write: (v) => {
        const names = writeAs.names('names')(v);
        return 'names' in names ? { haystack: { kind: 'texts', ...names } } : {};
      },
    },
    {
      key: 'match',
      label: 'Answer match',
      control: 'select',
      options: [
        ['substring', 'substring (RULER)'],
        ['whole', 'whole word only'],
      ],
      testId: 'match',
      initial: 'substring',
      write: writeAs.unlessDefault('match', 'substring'),
    },
    {
      key: 'heldOutTemplates',
      label: 'Held-out needle templates',
      control: 'check',
      title: "Needle phrasings kept out of the demo model's training: judges retrieval, not memorised wording",
      testId: 'held-out',
      initial: false,
      write: writeAs.unlessDefault('heldOutTemplates', false),
    },
    {
      key: 'name',
      label: 'Name in results',
      control: 'text',
      placeholder: (v) => niahNaming({ variant: v['variant'] as NiahVariant, match: v['match'] === 'whole' ? 'whole' : 'substring' }).workload,
      testId: 'name',
      initial: '',
      write: writeAs.optionalText('name'),
    },
  ],
} as const satisfies WorkloadKindDef<'niah', typeof niahWorkload>;
