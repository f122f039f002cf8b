/**
 * Text plumbing shared by the generators: sentence splitting, endless sentence
 * streams over the caller's texts, a pool that counts tokens per sentence, and
 * `fitUnits`, which sizes a prompt to a token target with few full counts.
 *
 * Why per-sentence counts: a full count of a 128K-token prompt with a JS BPE
 * tokenizer takes about a second, so binary search on the full prompt (~17
 * counts) is too slow. Each sentence is counted once (cached by string — filler
 * repeats), the sum predicts the prompt length to within a fraction of a
 * percent, and `fitUnits` corrects the remaining bias with 1–3 full counts.
 */
import type { Rng } from '../rng.ts';
import { WorkloadError } from './errors.ts';
import type { TokenCounter } from './types.ts';

/** Whitespace runs (including newlines and CRLF) → one space, trimmed. */
export function collapseWhitespace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Words a trailing '.' does not end a sentence after (titles, initials). */
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'mt', 'no', 'vs', 'etc', 'viz', 'cf', 'co', 'ch', 'vol']);

/**
 * Splits text into sentences: a boundary follows `.`, `!` or `?` (and any
 * closing quotes or brackets) before whitespace, except before a lower-case
 * letter and after a listed abbreviation or a single-letter initial. Whitespace is collapsed first, so
 * joining the result with ' ' gives `collapseWhitespace(text)` back.
 */
export function splitSentences(text: string): string[] {
  const s = collapseWhitespace(text);
  const out: string[] = [];
  let start = 0;
  for (const m of s.matchAll(/[.!?]+["'’”)\]]*(?= )/g)) {
    const end = m.index + m[0].length;
    if (/\p{Ll}/u.test(s[end + 1] ?? '')) continue; // '"Yes!" she said' goes on
    if (m[0].startsWith('.') && m[0].length === 1) {
      const word = /([A-Za-z]+)$/.exec(s.slice(Math.max(start, m.index - 8), m.index))?.[1] ?? '';
      if (word.length === 1 || ABBREVIATIONS.has(word.toLowerCase())) continue;
    }
    out.push(s.slice(start, end));
    start = end + 1;
  }
  if (start < s.length) out.push(s.slice(start));
  return out.filter((x) => x.length > 0);
}

const CHUNK = 1 << 16;

/**
 * Sentences of `texts[textIndex]` from char `offset` on (the partial sentence at
 * the offset is skipped, so the stream starts at a sentence boundary), then the
 * following texts from their starts, cyclically, forever. Throws if the texts
 * hold no sentence at all.
 */
export function* textSentences(workload: string, texts: readonly string[], textIndex: number, offset: number): Generator<string, never> {
  if (texts.length === 0) throw new WorkloadError(workload, 'no haystack texts were given');
  let t = textIndex;
  let pos = offset;
  let skipFirst = offset > 0;
  let emptyRun = 0;
  for (;;) {
    const text = texts[t] ?? '';
    let carry = '';
    let produced = 0;
    while (pos < text.length) {
      // Cut at whitespace so no word is split between two chunks.
      let end = Math.min(text.length, pos + CHUNK);
      if (end < text.length) {
        let back = end;
        while (back > pos && !/\s/.test(text[back] ?? ' ')) back--;
        if (back > pos) end = back;
      }
      const sentences = splitSentences(carry + ' ' + text.slice(pos, end));
      pos = end;
      carry = pos < text.length ? (sentences.pop() ?? '') : '';
      // A run without any boundary (code, tables) is cut rather than carried forever.
      if (carry.length > CHUNK) {
        sentences.push(carry);
        carry = '';
      }
      for (const sentence of sentences) {
        if (skipFirst) {
          skipFirst = false;
          continue;
        }
        produced++;
        yield sentence;
      }
    }
    emptyRun = produced === 0 ? emptyRun + 1 : 0;
    if (emptyRun > texts.length) throw new WorkloadError(workload, 'the haystack texts contain no sentences');
    t = (t + 1) % texts.length;
    pos = 0;
    skipFirst = false;
  }
}

/** Tokens a generated prompt may differ from its target: max(2, 0.2 %). */
export function lengthTolerance(target: number): number {
  return Math.max(2, Math.floor(target * 0.002));
}

/**
 * Sentences pulled from a stream, with their token counts and word counts, so
 * a prefix of `n` words (whole sentences, then the first words of the next
 * one) can be built and its length predicted without counting it.
 */
export class SentencePool {
  readonly sentences: string[] = [];
  /** cumTokens[i] / cumWords[i]: totals of sentences [0, i). */
  readonly cumTokens: number[] = [0];
  readonly cumWords: number[] = [0];
  private readonly words: number[] = [];

  constructor(
    private readonly stream: Iterator<string>,
    private readonly counter: TokenCounter,
    private readonly cache: Map<string, number> = new Map(),
  ) {}

  /** Pulls sentences until the pool holds at least `tokens` predicted tokens. */
  ensureTokens(tokens: number): void {
    while ((this.cumTokens[this.cumTokens.length - 1] ?? 0) < tokens) this.pull();
  }

  private pull(): void {
    const r = this.stream.next();
    if (r.done) throw new RangeError('sentence streams are endless');
    const s = r.value;
    let c = this.cache.get(s);
    if (c === undefined) {
      c = this.counter.count(s);
      this.cache.set(s, c);
    }
    const w = s.split(' ').length;
    this.sentences.push(s);
    this.words.push(w);
    this.cumTokens.push((this.cumTokens[this.cumTokens.length - 1] ?? 0) + c);
    this.cumWords.push((this.cumWords[this.cumWords.length - 1] ?? 0) + w);
  }

  /** Whole sentences in a prefix of n words (the last one may be partial). */
  wholeSentences(n: number): number {
    this.ensureWords(n);
    let lo = 0;
    let hi = this.sentences.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.cumWords[mid] ?? 0) <= n) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private ensureWords(n: number): void {
    while ((this.cumWords[this.cumWords.length - 1] ?? 0) < n) this.pull();
  }

  /** Predicted tokens of the first n words (a partial sentence pro rata). */
  tokensOf(n: number): number {
    const k = this.wholeSentences(n);
    const base = this.cumTokens[k] ?? 0;
    const rest = n - (this.cumWords[k] ?? 0);
    if (rest === 0) return base;
    return base + ((this.cumTokens[k + 1] ?? 0) - base) * (rest / (this.words[k] ?? 1));
  }

  /** The largest n whose predicted tokens are ≤ `tokens` (0 if none). */
  wordsFor(tokens: number): number {
    if (tokens <= 0) return 0;
    this.ensureTokens(tokens + 1);
    let k = 0;
    let hi = this.sentences.length;
    while (k < hi) {
      const mid = (k + hi + 1) >> 1;
      if ((this.cumTokens[mid] ?? 0) <= tokens) k = mid;
      else hi = mid - 1;
    }
    const base = this.cumTokens[k] ?? 0;
    const per = ((this.cumTokens[k + 1] ?? base) - base) / (this.words[k] ?? 1);
    const extra = per > 0 ? Math.floor((tokens - base) / per) : 0;
    return (this.cumWords[k] ?? 0) + Math.min(extra, (this.words[k] ?? 1) - 1);
  }

  /** The text of the first n words, as sentence strings: whole ones, then the partial tail (if any). */
  pieces(n: number): string[] {
    const k = this.wholeSentences(n);
    const out = this.sentences.slice(0, k);
    const rest = n - (this.cumWords[k] ?? 0);
    if (rest > 0) out.push((this.sentences[k] ?? '').split(' ').slice(0, rest).join(' '));
    return out;
  }
}

export interface FitResult {
  /** Units chosen. */
  readonly n: number;
  /** Measured tokens of the prompt built with n units. */
  readonly tokens: number;
}

/** A cheap, monotone prediction of a prompt's length from its unit count, and its inverse. */
export interface FitModel {
  /** Predicted tokens of the prompt with n units. */
  predict(n: number): number;
  /** The largest n predicted to give at most `tokens` (≥ 0). */
  unitsFor(tokens: number): number;
}

/**
 * Chooses a unit count n so that `measure(n)` (a full token count, expensive)
 * is within `tol` of `target`. Starts from the prediction (or `start`, e.g. the
 * n that fitted a sibling prompt); the second try rescales the prediction by
 * the observed ratio (measured / predicted, which absorbs a tokenizer's bias),
 * later tries are secant steps through the last two counts. A bracket [lo, hi]
 * of counts below/above the target catches steps that would leave it
 * (bisection), so the search always terminates. Returns the closest n seen that
 * is not longer than target + tol (ties: the shorter prompt) — so with coarse
 * units (a key-value pair of ~50 tokens) the prompt may fall short by up to a
 * unit, but never overshoots; only if every n seen overshoots, the shortest.
 */
export function fitUnits(
  target: number,
  tol: number,
  model: FitModel,
  measure: (n: number) => number,
  { start, maxIter = 24 }: { readonly start?: number | undefined; readonly maxIter?: number } = {},
): FitResult {
  let lo = -1;
  let hi = Number.POSITIVE_INFINITY;
  let best: FitResult | undefined;
  let shortest: FitResult | undefined;
  let prev: FitResult | undefined;
  let n = Math.max(0, start ?? model.unitsFor(target));
  for (let iter = 0; iter < maxIter; iter++) {
    const t = measure(n);
    const err = Math.abs(t - target);
    if (shortest === undefined || t < shortest.tokens) shortest = { n, tokens: t };
    if (t <= target + tol && (best === undefined || err < Math.abs(best.tokens - target) || (err === Math.abs(best.tokens - target) && t < best.tokens)))
      best = { n, tokens: t };
    if (err <= tol) break;
    if (t < target) lo = n;
    else hi = n;
    if (hi - lo <= 1) break;
    let next: number;
    if (prev !== undefined && prev.tokens !== t && prev.n !== n) next = Math.round(n + ((target - t) * (n - prev.n)) / (t - prev.tokens));
    else if (prev === undefined && t > 0) next = model.unitsFor((model.predict(n) * target) / t);
    else next = model.unitsFor(model.predict(n) + (target - t));
    if (next === n) next = t < target ? n + 1 : n - 1;
    if (next <= lo || next >= hi) next = Number.isFinite(hi) ? Math.floor((lo + hi) / 2) : Math.max(lo + 1, 2 * lo);
    prev = { n, tokens: t };
    n = Math.max(next, lo + 1, 0);
  }
  const out = best ?? shortest;
  if (out === undefined) throw new RangeError('fitUnits: maxIter must be ≥ 1');
  return out;
}

/** Fisher–Yates shuffle of a copy, driven by `rng`. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const x = a[i] as T;
    a[i] = a[j] as T;
    a[j] = x;
  }
  return a;
}

/** A uniformly chosen element (the array must not be empty). */
export function pick<T>(items: readonly T[], rng: Rng): T {
  if (items.length === 0) throw new RangeError('pick from an empty list');
  return items[rng.int(items.length)] as T;
}
