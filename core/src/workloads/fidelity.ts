/**
 * Fidelity samples on any text: a prompt of N tokens and the M-token
 * continuation that follows it in the source, cut at a seeded sentence start.
 * The runner prefills the prompt (full and compressed KV), scores the
 * continuation teacher-forced (NLL, perplexity, ΔNLL, KL, top-1 agreement —
 * metrics/fidelity.ts) and compares greedy generations of `maxNewTokens` = M
 * tokens. These stay meaningful on small models that cannot retrieve (data.md
 * §4: stories260K's fidelity curve is monotone and smooth).
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
import { fidelityWorkload, parseWorkload } from './types.ts';
import type { GenerateOptions, Sample } from './types.ts';
import type { z } from 'zod';

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
        id: `fidelity/p${N}/s${s}`,
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
