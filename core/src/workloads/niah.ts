/**
 * Needle in a haystack: a needle sentence hidden at depth d % of a haystack,
 * the whole prompt c tokens long, for every (c, d) of a grid — the sweep of
 * gkamradt/LLMTest_NeedleInAHaystack (context length on x, depth on y), with
 * the multi-key and multi-value variants of RULER (NVIDIA/RULER,
 * scripts/data/synthetic/niah.py) and the passkey test (a number in repetitive
 * filler). landscape.md §3 has the conventions.
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
import { createRng, mixSeed } from '../rng.ts';
import type { Rng } from '../rng.ts';
import { WorkloadError } from './errors.ts';
import { fillerSentences, NEEDLE_KEY_COUNT, needleKey } from './filler.ts';
import { fitUnits, lengthTolerance, SentencePool, textSentences } from './text.ts';
import { niahWorkload, parseWorkload } from './types.ts';
import type { GenerateOptions, Sample } from './types.ts';
import type { z } from 'zod';

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

const VARIANT_CODE = { single: 1, multikey: 2, multivalue: 3, passkey: 4 } as const;

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
 * The generator and the builder's cost sketch (renderer/src/util/cost.ts) both name samples by it.
 */
export function niahNaming(d: {
  readonly variant?: keyof typeof VARIANT_CODE | undefined;
  readonly match?: 'substring' | 'whole' | undefined;
  readonly name?: string | undefined;
}): {
  readonly workload: string;
  readonly metric: 'niah' | 'niah_whole';
} {
  const whole = d.match === 'whole';
  return { workload: d.name ?? `niah-${d.variant ?? 'single'}${whole ? '-whole' : ''}`, metric: whole ? 'niah_whole' : 'niah' };
}

/**
 * Expands a NIAH definition into samples: for each context length, each
 * sample index and each depth (in that order), one prompt.
 */
// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function generateNiah(def: z.input<typeof niahWorkload>, opts: GenerateOptions): Sample[] {
  const d = parseWorkload(niahWorkload, def, 'niah');
  const { workload, metric } = niahNaming(d);
  const passkey = d.variant === 'passkey';
  const setName = d.heldOutTemplates ? 'heldOut' : 'train';
  const templates = (passkey ? PASSKEY_TEMPLATES : NEEDLE_TEMPLATES)[setName];
  const texts = d.haystack.kind === 'texts' ? (opts.texts ?? []) : [];
  if (d.haystack.kind === 'texts' && texts.length !== d.haystack.names.length) {
    throw new WorkloadError(workload, `haystack names ${d.haystack.names.length} texts, but ${texts.length} were passed in`);
  }
  const countCache = new Map<string, number>();
  const out: Sample[] = [];

  for (const length of new Set(d.contextLengths)) {
    const tol = lengthTolerance(length);
    for (let s = 0; s < d.samplesPerCell; s++) {
      const base = mixSeed(opts.seed, VARIANT_CODE[d.variant], length, s);
      const rng = createRng(base);
      const templateIndex = rng.int(templates.length);
      const template = templates[templateIndex] as NeedleTemplate;
      const multi = d.variant === 'multikey' || d.variant === 'multivalue';
      const keys = passkey ? ['passkey'] : distinctKeys(d.variant === 'multikey' ? d.needles : 1, rng);
      const values = distinctNumbers(multi ? d.needles : 1, passkey ? 5 : 7, rng);
      const key = keys[0] as string;
      // Distractors (multikey): needle i ≥ 1 pairs keys[i] with values[i], at a seeded fraction of the haystack.
      const distractorAt = d.variant === 'multikey' ? keys.slice(1).map(() => rng.next()) : [];
      let haystackName = 'filler';
      let stream: Iterator<string>;
      if (texts.length > 0 && d.haystack.kind === 'texts') {
        const ti = rng.int(texts.length);
        haystackName = d.haystack.names[ti] ?? '';
        stream = textSentences(workload, texts, ti, rng.int((texts[ti] ?? '').length));
      } else {
        stream = fillerSentences(createRng(mixSeed(base, 0x66)));
      }
      const pool = new SentencePool(stream, opts.counter, countCache);

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

      let start: number | undefined;
      for (const depth of new Set(d.depths)) {
        const build = (n: number): { prompt: string; needleAt: number } => {
          const pieces = pool.pieces(n);
          const total = pool.tokensOf(n);
          // Token position of the boundary before piece b (b = pieces.length: the end).
          const positions = pieces.map((_, b) => pool.cumTokens[b] ?? 0);
          positions.push(total);
          const at: string[][] = positions.map(() => []);
          const needleAt = nearestBoundary(positions, (depth / 100) * total);
          at[needleAt]?.push(...targetNeedles);
          distractorAt.forEach((f, i) => at[nearestBoundary(positions, f * total)]?.push(distractors[i] ?? ''));
          const parts: string[] = [];
          for (let b = 0; b <= pieces.length; b++) {
            parts.push(...(at[b] ?? []));
            if (b < pieces.length) parts.push(pieces[b] ?? '');
          }
          return { prompt: head + parts.join(' ') + tail, needleAt };
        };
        const fit = fitUnits(length, tol, model, (n) => opts.counter.count(build(n).prompt), start);
        if (fit.tokens > length + tol) {
          throw new WorkloadError(workload, `contextLength ${length} is below the ${fit.tokens} tokens that the instructions, question and needles take`);
        }
        start = fit.n;
        out.push({
          id: `${workload}/c${length}/d${depth}/s${s}`,
          workload,
          prompt: build(fit.n).prompt,
          answers: d.variant === 'multivalue' ? values : [values[0] ?? ''],
          metric,
          maxNewTokens: d.variant === 'multivalue' ? 16 * values.length + 16 : 32,
          meta: {
            variant: d.variant,
            contextLength: length,
            depth,
            key,
            tokens: fit.tokens,
            haystack: haystackName,
            template: `${setName}-${templateIndex}`,
            needles: targetNeedles.length + distractors.length,
            sample: s,
          },
        });
      }
    }
  }
  return out;
}
