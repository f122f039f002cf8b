/**
 * RULER-style synthetic tasks (Hsieh et al. 2024, "RULER: What's the Real
 * Context Size of Your Long-Context Language Models?",
 * https://arxiv.org/abs/2404.06654; generators in NVIDIA/RULER
 * scripts/data/synthetic/). The task families and their scoring follow RULER;
 * the wording, formats and vocabularies are KV Lab's own.
 *
 *   vt   variable tracking — two chains of 5 assignments ("VAR QKZTP = 31845.",
 *        then "VAR MWLAS = VAR QKZTP." …) spread in order through filler; asks
 *        which variables equal the target chain's value. Answers: its 5 names.
 *   cwe  common words — a comma-separated list where 10 pseudo-words occur
 *        `fc` times and every other word 3 times (fc = clamp(⌊c/100⌋, 5, 30);
 *        RULER uses 30 and 3); asks for the 10 most common. Answers: those 10.
 *   fwe  frequent words — pseudo-words drawn from a Zipf(α = 2) law over 200
 *        words; asks for the 3 most frequent (the 3rd strictly more frequent
 *        than the 4th). Answers: those 3.
 *   kv   key-value retrieval — a JSON object of UUID-like keys and values; asks
 *        for the value of one key at a seeded position. Answer: the value.
 *
 * Every task is scored with 'niah' (the fraction of answers recalled, RULER's
 * string_match_all). Lengths: the whole prompt is `contextLength` tokens of the
 * runner's counter within `lengthTolerance`, fitted by the number of filler
 * sentences, list items or pairs. Seeds: mixSeed(seed, task, length, sample).
 */
import { createRng, mixSeed } from '../rng.ts';
import type { Rng } from '../rng.ts';
import { WorkloadError } from './errors.ts';
import { distinctPseudoWords, fillerSentences } from './filler.ts';
import type { FitModel } from './text.ts';
import { fitUnits, lengthTolerance, SentencePool, shuffled } from './text.ts';
import { contextLengthsSchema, intIn, parseWorkload } from './types.ts';
import type { GenerateOptions, Sample, TokenCounter } from './types.ts';
import type { SampleGrid, SampleSketch, WorkloadKindDef } from './workload.ts';
import { countOr, plainOptions, uniqueNumbers, writeAs } from './workload.ts';
import { z } from 'zod';

/** The tasks and their seed codes: the one list the schema, generator and builder use. */
const TASK_CODE = { vt: 11, cwe: 12, fwe: 13, kv: 14 } as const;
export type RulerTask = keyof typeof TASK_CODE;
export const RULER_TASKS = Object.keys(TASK_CODE) as [RulerTask, ...RulerTask[]];

export const rulerWorkload = z.strictObject({
  kind: z.literal('ruler'),
  task: z.enum(RULER_TASKS).describe('vt: variable tracking; cwe: common words; fwe: frequent words; kv: key-value retrieval'),
  contextLengths: contextLengthsSchema,
  samples: intIn(1, 100_000).default(1).describe('Samples per context length.'),
});
export type RulerWorkload = z.output<typeof rulerWorkload>;

/** A sample's id: the one naming both the generator and the sketch use. */
const rulerSampleId = (workload: string, length: number, sample: number): string => `${workload}/c${length}/s${sample}`;

/** Items made on demand (item i is fixed whatever the count), with cumulative token costs. */
class ItemPool {
  private readonly items: string[] = [];
  private readonly cum: number[] = [0];
  constructor(
    private readonly make: (i: number) => string,
    private readonly cost: (item: string) => number,
  ) {}
  private push(): void {
    const item = this.make(this.items.length);
    this.items.push(item);
    this.cum.push((this.cum[this.cum.length - 1] ?? 0) + Math.max(1, this.cost(item)));
  }
  first(n: number): string[] {
    while (this.items.length < n) this.push();
    return this.items.slice(0, n);
  }
  tokens(n: number): number {
    while (this.items.length < n) this.push();
    return this.cum[n] ?? 0;
  }
  /** Largest n with tokens(n) ≤ t. */
  unitsFor(t: number): number {
    while ((this.cum[this.cum.length - 1] ?? 0) <= t) this.push();
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.cum[mid] ?? 0) <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

interface Built {
  readonly prompt: string;
  readonly answers: readonly string[];
  readonly meta?: Readonly<Record<string, string | number>>;
}

interface TaskPlan {
  readonly model: FitModel;
  readonly build: (n: number) => Built;
  /** Optional: whether the sample with n units has an unambiguous answer (fwe: no tie at rank 3); if not, the sample is redrawn. */
  readonly ok?: (n: number) => boolean;
  readonly maxNewTokens: number;
}

const cached = (counter: TokenCounter): ((s: string) => number) => {
  const m = new Map<string, number>();
  return (s) => {
    let c = m.get(s);
    if (c === undefined) {
      c = counter.count(s);
      m.set(s, c);
    }
    return c;
  };
};

const upperName = (rng: Rng): string => Array.from({ length: 5 }, () => String.fromCharCode(65 + rng.int(26))).join('');
const hex = (rng: Rng, n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[rng.int(16)] ?? '0').join('');
const uuidLike = (rng: Rng): string => `${hex(rng, 8)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 12)}`;

function planVt(rng: Rng, base: number, counter: TokenCounter): TaskPlan {
  const names = new Set<string>();
  while (names.size < 10) names.add(upperName(rng));
  const [a, b] = [[...names].slice(0, 5), [...names].slice(5)];
  const values = new Set<string>();
  while (values.size < 2) values.add(String(10000 + rng.int(90000)));
  const [value, otherValue] = [...values] as [string, string];
  const chain = (vars: string[], v: string): string[] => vars.map((x, i) => (i === 0 ? `VAR ${x} = ${v}.` : `VAR ${x} = VAR ${vars[i - 1] ?? ''}.`));
  // Each chain's statements at sorted seeded fractions, so assignments come in order.
  const fractions = (k: number): number[] => Array.from({ length: k }, () => rng.next()).sort((x, y) => x - y);
  const fa = fractions(5);
  const fb = fractions(5);
  const statements = [...chain(a, value).map((s, i) => ({ s, f: fa[i] ?? 0 })), ...chain(b, otherValue).map((s, i) => ({ s, f: fb[i] ?? 0 }))];
  const pool = new SentencePool(fillerSentences(createRng(mixSeed(base, 0x66))), counter);
  const head = 'The text below contains variable assignments written as VAR NAME = value. Track them carefully; a question follows.\n\n';
  const tail = `\n\nQuestion: Which variables end up equal to ${value}? Give every name.\nAnswer: The variables equal to ${value} are:`;
  const fixed = counter.count(head + statements.map((x) => x.s).join(' ') + tail);
  return {
    model: { predict: (n) => fixed + pool.tokensOf(n), unitsFor: (t) => pool.wordsFor(t - fixed) },
    build: (n) => {
      const pieces = pool.pieces(n);
      const at: string[][] = Array.from({ length: pieces.length + 1 }, () => []);
      // Insert at the boundary with the nearest piece index; stable order keeps each chain in sequence.
      const ordered = [...statements].sort((x, y) => x.f - y.f);
      for (const st of ordered) at[Math.round(st.f * pieces.length)]?.push(st.s);
      const parts: string[] = [];
      for (let i = 0; i <= pieces.length; i++) {
        parts.push(...(at[i] ?? []));
        if (i < pieces.length) parts.push(pieces[i] ?? '');
      }
      return { prompt: head + parts.join(' ') + tail, answers: a, meta: { value } };
    },
    maxNewTokens: 48,
  };
}

function planCwe(rng: Rng, base: number, counter: TokenCounter, length: number): TaskPlan {
  const fc = Math.min(30, Math.max(5, Math.floor(length / 100)));
  const fu = 3;
  const common = distinctPseudoWords(10, rng);
  const taken = new Set(common);
  const wordRng = createRng(mixSeed(base, 0x77));
  const count = cached(counter);
  const pool = new ItemPool(
    () => {
      for (;;) {
        const w = distinctPseudoWords(1, wordRng)[0] ?? '';
        if (!taken.has(w)) {
          taken.add(w);
          return w;
        }
      }
    },
    (w) => fu * count(`, ${w}`),
  );
  const head = 'Below is a long list of words separated by commas. A few words occur much more often than all the others.\n\n';
  const tail = '\n\nQuestion: Which 10 words occur most often in the list? Give all 10.\nAnswer: The 10 most frequent words are:';
  const fixed = counter.count(head + Array.from({ length: fc }, () => common.join(', ')).join(', ') + tail);
  return {
    model: { predict: (n) => fixed + pool.tokens(n), unitsFor: (t) => pool.unitsFor(t - fixed) },
    build: (n) => {
      const bag = [...Array.from({ length: fc }, () => common).flat(), ...pool.first(n).flatMap((w) => [w, w, w])];
      const list = shuffled(bag, createRng(mixSeed(base, 0x78, n)));
      return { prompt: head + list.join(', ') + tail, answers: common, meta: { commonFrequency: fc, uncommonFrequency: fu, uncommonWords: n } };
    },
    maxNewTokens: 96,
  };
}

function planFwe(rng: Rng, base: number, counter: TokenCounter): TaskPlan {
  const vocab = distinctPseudoWords(200, rng);
  const cdf: number[] = [];
  let z = 0;
  for (let r = 1; r <= vocab.length; r++) cdf.push((z += 1 / r ** 2));
  const drawRng = createRng(mixSeed(base, 0x79));
  const count = cached(counter);
  const pool = new ItemPool(
    () => {
      const u = drawRng.next() * z;
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((cdf[mid] ?? 0) > u) hi = mid;
        else lo = mid + 1;
      }
      return vocab[lo] ?? '';
    },
    (w) => count(` ${w}`),
  );
  const top3 = (n: number): { words: string[]; unambiguous: boolean } => {
    const freq = new Map<string, number>();
    for (const w of pool.first(n)) freq.set(w, (freq.get(w) ?? 0) + 1);
    const ranked = [...freq.entries()].sort((x, y) => y[1] - x[1]);
    return { words: ranked.slice(0, 3).map((e) => e[0]), unambiguous: ranked.length >= 3 && (ranked[2]?.[1] ?? 0) > (ranked[3]?.[1] ?? 0) };
  };
  const head = 'Below is a long text of coded words separated by spaces. Some words are much more frequent than others.\n\n';
  const tail = '\n\nQuestion: Which 3 coded words occur most often in the text?\nAnswer: The 3 most frequent coded words are:';
  const fixed = counter.count(head + tail);
  return {
    model: { predict: (n) => fixed + pool.tokens(n), unitsFor: (t) => pool.unitsFor(t - fixed) },
    build: (n) => ({ prompt: head + pool.first(n).join(' ') + tail, answers: top3(n).words, meta: { draws: n } }),
    ok: (n) => top3(n).unambiguous,
    maxNewTokens: 48,
  };
}

function planKv(rng: Rng, base: number, counter: TokenCounter): TaskPlan {
  const f = rng.next();
  const pairRng = createRng(mixSeed(base, 0x7a));
  const pairs: [string, string][] = [];
  const count = cached(counter);
  const line = (k: string, v: string): string => `  "${k}": "${v}"`;
  const pool = new ItemPool(
    () => {
      const p: [string, string] = [uuidLike(pairRng), uuidLike(pairRng)];
      pairs.push(p);
      return line(p[0], p[1]);
    },
    (l) => count(`${l},\n`),
  );
  const head = 'Here is a JSON object that maps keys to values.\n\n';
  const question = (k: string): string => `\n\nQuestion: What is the value stored under the key "${k}"?\nAnswer: The value stored under "${k}" is`;
  const probeKey = uuidLike(createRng(mixSeed(base, 0x7b)));
  const fixed = counter.count(head + '{\n}' + question(probeKey));
  return {
    model: { predict: (n) => fixed + pool.tokens(n), unitsFor: (t) => pool.unitsFor(t - fixed) },
    build: (n) => {
      const lines = pool.first(Math.max(1, n));
      const idx = Math.min(lines.length - 1, Math.floor(f * lines.length));
      const [k, v] = pairs[idx] ?? ['', ''];
      return {
        prompt: `${head}{\n${lines.join(',\n')}\n}${question(k)}`,
        answers: [v],
        meta: { key: k, depth: lines.length > 1 ? Math.round((10000 * idx) / (lines.length - 1)) / 100 : 0, pairs: lines.length },
      };
    },
    maxNewTokens: 64,
  };
}

/** Expands a RULER-style definition: for each context length, `samples` samples. */
export function generateRuler(def: z.input<typeof rulerWorkload>, opts: GenerateOptions): Sample[] {
  const d = parseWorkload(rulerWorkload, def, 'ruler');
  const workload = `ruler-${d.task}`;
  const out: Sample[] = [];
  for (const length of new Set(d.contextLengths)) {
    const tol = lengthTolerance(length);
    for (let s = 0; s < d.samples; s++) {
      const cell = mixSeed(opts.seed, TASK_CODE[d.task], length, s);
      let plan: TaskPlan | undefined;
      let fit = { n: 0, tokens: 0 };
      // fwe: a draw whose 3rd and 4th words tie is redrawn (sub-seed 1, 2, …); the other tasks are always unambiguous.
      for (let attempt = 0; attempt < 32; attempt++) {
        const base = attempt === 0 ? cell : mixSeed(cell, attempt);
        const rng = createRng(base);
        plan =
          d.task === 'vt'
            ? planVt(rng, base, opts.counter)
            : d.task === 'cwe'
              ? planCwe(rng, base, opts.counter, length)
              : d.task === 'fwe'
                ? planFwe(rng, base, opts.counter)
                : planKv(rng, base, opts.counter);
        const p = plan;
        fit = fitUnits(length, tol, p.model, (n) => opts.counter.count(p.build(n).prompt));
        if (!p.ok || p.ok(fit.n)) break;
      }
      if (plan === undefined) throw new RangeError('unreachable');
      if (plan.ok && !plan.ok(fit.n)) throw new WorkloadError(workload, `contextLength ${length} is too short for a sample with an unambiguous answer`);
      if (fit.tokens > length + tol) {
        throw new WorkloadError(workload, `contextLength ${length} is below the ${fit.tokens} tokens that the smallest ${d.task} prompt takes`);
      }
      const built = plan.build(fit.n);
      out.push({
        id: rulerSampleId(workload, length, s),
        workload,
        prompt: built.prompt,
        answers: built.answers,
        metric: 'niah',
        maxNewTokens: plan.maxNewTokens,
        meta: { task: d.task, contextLength: length, tokens: fit.tokens, sample: s, ...built.meta },
      });
    }
  }
  return out;
}

/** The samples of a RULER definition as written (half-typed input tolerated), named and ordered as generateRuler makes them. */
export function sketchRuler(w: z.input<typeof rulerWorkload>): SampleGrid {
  const workload = `ruler-${w.task}`;
  const out: SampleSketch[] = [];
  for (const c of uniqueNumbers(w.contextLengths))
    for (let s = 0; s < countOr(w.samples, 1); s++)
      out.push({ id: rulerSampleId(workload, c, s), workload, promptTokens: c, metric: 'niah', meta: { contextLength: c, task: w.task } });
  return { samples: out, exact: true };
}

/** RULER-style synthetic tasks, as one registry entry. */
export const ruler = {
  kind: 'ruler',
  summary: 'RULER-style synthetic tasks: variable tracking, common and frequent words, key-value retrieval.',
  schema: rulerWorkload,
  generate: generateRuler,
  sketch: sketchRuler,
  sources: () => ({ kind: 'none' }),
  form: [
    { key: 'task', label: 'Task', control: 'select', options: plainOptions(RULER_TASKS), testId: 'task', initial: 'vt', write: writeAs.choice('task') },
    { key: 'contextLengths', label: 'Context lengths (tokens)', control: 'text', testId: 'contexts', initial: '256', write: writeAs.numbers('contextLengths') },
    { key: 'samples', label: 'Samples per length', control: 'text', testId: 'samples', initial: '2', write: writeAs.optionalNumber('samples') },
  ],
} as const satisfies WorkloadKindDef<'ruler', typeof rulerWorkload>;
