/**
 * Fidelity samples on any text: a prompt of N tokens and the M-token
 * continuation that follows it in the source, cut at a seeded sentence start.
 * The runner prefills the prompt (full and compressed KV), scores the
 * continuation teacher-forced (NLL, perplexity, ΔNLL, KL, top-1 agreement —
 * metrics/fidelity.ts) and compares greedy generations of `maxNewTokens` = M
 * tokens. These stay meaningful on small models that cannot retrieve
 * (stories260K's fidelity curve is monotone and smooth).
 *
 * - Source: `texts` (names in the definition), or 'sampled' — text the runner
 *   samples from the model itself (seeded, in-domain) and passes in as texts.
 * - Cut: whitespace is collapsed (as for NIAH haystacks); prompt + continuation
 *   is exactly the collapsed source from the cut on, so the continuation starts
 *   with a space. Prompt and continuation end at word boundaries, within
 *   `lengthTolerance` of N and M tokens of the runner's counter.
 * - Seeds: mixSeed(seed, 21, N, sample) picks the text and the offset.
 * - meta: promptTokens (requested N), tokens (measured prompt), continuationTokens
 *   (measured), text (name), sample.
 */
import { createRng, mixSeed } from '../rng.ts';
import { WorkloadError } from './errors.ts';
import { fitUnits, lengthTolerance, SentencePool, textSentences } from './text.ts';
import { intIn, parseWorkload } from './types.ts';
import type { GenerateOptions, Sample } from './types.ts';
import type { SampleGrid, SampleSketch, WorkloadKindDef } from './workload.ts';
import { countOr, uniqueNumbers, writeAs } from './workload.ts';
import { z } from 'zod';

export const fidelityWorkload = z.strictObject({
  kind: z.literal('fidelity'),
  texts: z
    .union([z.array(z.string().min(1)).min(1), z.literal('sampled')])
    .optional()
    .describe("Text names the runner reads, or 'sampled': text the runner samples from the model itself (seeded) — in-domain for small models."),
  promptTokens: z.array(intIn(1, 4_194_304)).min(1),
  continuationTokens: intIn(1, 65_536),
  samples: intIn(1, 100_000).default(1).describe('Samples per prompt length.'),
});
export type FidelityWorkload = z.output<typeof fidelityWorkload>;

/** The source when `texts` is left out. */
const DEFAULT_TEXTS = ['austen-emma.txt'];

/** A sample's id: the one naming both the generator and the sketch use. */
const fidelitySampleId = (promptTokens: number, sample: number): string => `fidelity/p${promptTokens}/s${sample}`;

export function generateFidelity(def: z.input<typeof fidelityWorkload>, opts: GenerateOptions): Sample[] {
  const d = parseWorkload(fidelityWorkload, def, 'fidelity');
  const texts = opts.texts ?? [];
  if (texts.length === 0) throw new WorkloadError('fidelity', 'no source texts were given');
  if (Array.isArray(d.texts) && d.texts.length !== texts.length)
    throw new WorkloadError('fidelity', `texts names ${d.texts.length} texts, but ${texts.length} were passed in`);
  const names = Array.isArray(d.texts) ? d.texts : texts.map((_, i) => (d.texts === 'sampled' ? `sampled-${i}` : `text-${i}`));
  const cache = new Map<string, number>();
  const out: Sample[] = [];
  for (const N of new Set(d.promptTokens)) {
    for (let s = 0; s < d.samples; s++) {
      const rng = createRng(mixSeed(opts.seed, 21, N, s));
      const ti = rng.int(texts.length);
      const pool = new SentencePool(textSentences('fidelity', texts, ti, rng.int((texts[ti] ?? '').length)), opts.counter, cache);
      const prefix = (n: number): string => pool.pieces(n).join(' ');
      const prompt = fitUnits(N, lengthTolerance(N), { predict: (n) => pool.tokensOf(n), unitsFor: (t) => pool.wordsFor(t) }, (n) =>
        opts.counter.count(prefix(n)),
      );
      if (prompt.n === 0) throw new WorkloadError('fidelity', `promptTokens ${N} is shorter than one word of the source`);
      const n = prompt.n;
      const base = pool.tokensOf(n);
      const cont = (m: number): string => prefix(n + m).slice(prefix(n).length);
      const fit = fitUnits(
        d.continuationTokens,
        lengthTolerance(d.continuationTokens),
        { predict: (m) => pool.tokensOf(n + m) - base, unitsFor: (t) => Math.max(0, pool.wordsFor(base + t) - n) },
        (m) => opts.counter.count(cont(m)),
      );
      out.push({
        id: fidelitySampleId(N, s),
        workload: 'fidelity',
        prompt: prefix(n),
        continuation: cont(Math.max(1, fit.n)),
        answers: [],
        metric: 'fidelity',
        maxNewTokens: d.continuationTokens,
        meta: {
          promptTokens: N,
          tokens: prompt.tokens,
          continuationTokens: fit.n >= 1 ? fit.tokens : opts.counter.count(cont(1)),
          text: names[ti] ?? `text-${ti}`,
          sample: s,
        },
      });
    }
  }
  return out;
}

/** The samples of a fidelity definition as written (half-typed input tolerated), named and ordered as generateFidelity makes them. */
export function sketchFidelity(w: z.input<typeof fidelityWorkload>): SampleGrid {
  const out: SampleSketch[] = [];
  const meta = { continuationTokens: countOr(w.continuationTokens, 1), source: w.texts === 'sampled' ? 'sampled' : 'texts' };
  for (const p of uniqueNumbers(w.promptTokens))
    for (let s = 0; s < countOr(w.samples, 1); s++)
      out.push({ id: fidelitySampleId(p, s), workload: 'fidelity', promptTokens: p, metric: 'fidelity', meta: { promptTokens: p, ...meta } });
  return { samples: out, exact: true };
}

/** Fidelity to the full cache on any text, as one registry entry. */
export const fidelity = {
  kind: 'fidelity',
  summary: 'A prompt and the continuation that follows it in a text, scored teacher-forced against the full cache (ΔNLL, KL, top-1).',
  schema: fidelityWorkload,
  generate: generateFidelity,
  sketch: sketchFidelity,
  sources: (d) => (d.texts === 'sampled' ? { kind: 'sampled' } : { kind: 'texts', names: d.texts ?? DEFAULT_TEXTS }),
  form: [
    {
      key: 'texts',
      label: 'Texts',
      control: 'text',
      placeholder: 'sampled, or text names',
      testId: 'texts',
      initial: 'sampled',
      write: (v) => (typeof v === 'string' && v.trim() === 'sampled' ? { texts: 'sampled' } : writeAs.names('texts')(v)),
    },
    { key: 'promptTokens', label: 'Prompt tokens', control: 'text', testId: 'prompts', initial: '256', write: writeAs.numbers('promptTokens') },
    {
      key: 'continuationTokens',
      label: 'Continuation tokens',
      control: 'text',
      testId: 'continuation',
      initial: '32',
      write: writeAs.number('continuationTokens'),
    },
    { key: 'samples', label: 'Samples per length', control: 'text', testId: 'samples', initial: '2', write: writeAs.optionalNumber('samples') },
  ],
} as const satisfies WorkloadKindDef<'fidelity', typeof fidelityWorkload>;
