/**
 * Text metrics: LongBench's metrics.py (THUDM/LongBench, metrics.py + eval.py)
 * reproduced in TypeScript, quirks included, plus the NIAH/RULER recall score
 * and exact match. Every metric returns a number in [0, 1].
 *
 * LongBench (per prediction, max over the reference answers, as eval.py's
 * `scorer`; `meta.firstLine` first keeps only the first line after leading
 * newlines, as eval.py does for trec, triviaqa, samsum and lsht):
 *   qa_f1          normalize_answer (lower-case; drop ASCII punctuation
 *                  (string.punctuation); drop the words a/an/the; collapse
 *                  whitespace), then token F1 = 2PR/(P+R) over the multiset
 *                  of whitespace tokens (collections.Counter intersection).
 *   rouge_l        the `rouge` package (pltrdy/rouge 1.0.1) `Rouge().get_scores
 *                  ([pred], [ref], avg=True)["rouge-l"]["f"]`, which is NOT the
 *                  textbook ROUGE-L: sentences are the pieces between '.';
 *                  words are split on ' '; m, n = the numbers of DISTINCT words
 *                  of reference and prediction; the overlap is the number of
 *                  distinct words in the union of the LCSs (reconstructed with
 *                  the package's tie rule) of every reference sentence with
 *                  every prediction sentence; F = 2PR/(P+R+1e-8) with P =
 *                  overlap/n, R = overlap/m. An empty side (no non-empty piece
 *                  between dots) raises in the package and scores 0.
 *   classification the loop of classification_score as written: classes that
 *                  occur in the prediction, minus those that are substrings of
 *                  (but not equal to) the answer — removed while iterating,
 *                  so Python's list iteration skips the element after each
 *                  removal, reproduced; 1/len(matches) if the answer is among
 *                  them, else 0 (the difflib fallback is dead code there:
 *                  `em_match_list != 0` is always true).
 *   retrieval      the paragraph id in the answer ("Paragraph (\d+)"): the
 *                  fraction of the numbers in the prediction equal to it (0 if
 *                  the answer has no id — Python raises IndexError there).
 *   count          the fraction of the numbers in the prediction equal to the answer.
 *   code_sim       the first line of the prediction (after leading newlines)
 *                  containing none of '`', '#', '//' (else ''), then
 *                  fuzzywuzzy 0.18 fuzz.ratio / 100 — see `fuzzRatio`.
 * Others:
 *   niah           fraction of the answers found in the prediction, case-
 *                  insensitive substring (RULER's string_match_all); every
 *                  answer is required.
 *   niah_whole     the same, but an occurrence counts only as a whole word:
 *                  no letter, digit or '_' directly before or after it. RULER's
 *                  substring match credits a 5-digit passkey in a run-on
 *                  "819955." — the demo model's habit (docs/demo-model.md);
 *                  this one does not.
 *   exact          1 if the trimmed prediction equals a trimmed answer.
 *
 * Python details reproduced: str.split() whitespace (incl. \x1c–\x1f, \x85),
 * Unicode \b and \d in `re`, code points (not UTF-16 units) for difflib, and
 * round-half-to-even in fuzzywuzzy's intr(). Known divergence: the rouge
 * package reconstructs the LCS recursively and fails (→ 0) when a reference
 * sentence plus a prediction sentence exceed roughly 1000 words (Python's
 * recursion limit); here the LCS is computed for any length.
 */
import type { Sample, SampleMeta, TextMetricId } from '../workloads/types.ts';

/** Python's str.split() whitespace (str.isspace). */
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'u');

/** Python's `s.split()`: split on whitespace runs, no empty strings. */
export function pySplit(s: string): string[] {
  return s.split(PY_WS_RUN).filter((x) => x.length > 0);
}

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
/** Python 3 re's \w is Unicode: letters, numbers and '_'. */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** LongBench/SQuAD normalize_answer: lower, remove punctuation, articles and extra whitespace. */
export function normalizeAnswer(s: string): string {
  const lower = s.toLowerCase();
  const noPunc = Array.from(lower)
    .filter((ch) => !PUNCTUATION.has(ch))
    .join('');
  return pySplit(noPunc.replace(ARTICLES, ' ')).join(' ');
}

/** Token F1 over multisets (metrics.py f1_score). */
export function tokenF1(prediction: readonly string[], reference: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const t of reference) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of prediction) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / prediction.length;
  const recall = same / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

/** metrics.py qa_f1_score. */
export function qaF1Score(prediction: string, reference: string): number {
  return tokenF1(pySplit(normalizeAnswer(prediction)), pySplit(normalizeAnswer(reference)));
}

/** Distinct words of the LCS of x and y, reconstructed as rouge's _recon_lcs does (ties: move in y). */
function lcsWords(x: readonly string[], y: readonly string[]): string[] {
  const n = x.length;
  const m = y.length;
  const table = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = 1; i <= n; i++) {
    const row = table[i] as Int32Array;
    const prev = table[i - 1] as Int32Array;
    for (let j = 1; j <= m; j++) row[j] = x[i - 1] === y[j - 1] ? (prev[j - 1] ?? 0) + 1 : Math.max(prev[j] ?? 0, row[j - 1] ?? 0);
  }
  const out: string[] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] === y[j - 1]) {
      out.push(x[i - 1] ?? '');
      i--;
      j--;
    } else if ((table[i - 1]?.[j] ?? 0) > (table[i]?.[j - 1] ?? 0)) i--;
    else j--;
  }
  return out;
}

/** rouge's sentence split: pieces between '.', non-empty before whitespace is collapsed. */
const rougeSentences = (s: string): string[] =>
  s
    .split('.')
    .filter((x) => x.length > 0)
    .map((x) => pySplit(x).join(' '));

/** metrics.py rouge_score: `rouge` 1.0.1 rouge-l f (summary level, distinct words; see the header). */
export function rougeLScore(prediction: string, reference: string): number {
  const hyp = rougeSentences(prediction);
  const ref = rougeSentences(reference);
  if (hyp.length === 0 || ref.length === 0) return 0;
  const words = (ss: readonly string[]): string[] => ss.flatMap((x) => x.split(' '));
  const m = new Set(words(ref)).size;
  const n = new Set(words(hyp)).size;
  const union = new Set<string>();
  for (const r of ref) {
    const rw = r.split(' ');
    for (const h of hyp) for (const w of lcsWords(rw, h.split(' '))) union.add(w);
  }
  const r = union.size / m;
  const p = union.size / n;
  return 2 * ((p * r) / (p + r + 1e-8));
}

/** metrics.py classification_score, including its list-mutation-while-iterating behaviour. */
export function classificationScore(prediction: string, reference: string, allClasses: readonly string[]): number {
  const matches = allClasses.filter((c) => prediction.includes(c));
  // Python: `for term in list: if …: list.remove(term)` — the index advances past the element that slid into place.
  for (let i = 0; i < matches.length; i++) {
    const term = matches[i] ?? '';
    if (reference.includes(term) && term !== reference) matches.splice(matches.indexOf(term), 1);
  }
  return matches.includes(reference) ? 1 / matches.length : 0;
}

/** Python 3 re `\d+` (Unicode decimal digits). */
const numbers = (s: string): string[] => s.match(/\p{Nd}+/gu) ?? [];

/** metrics.py count_score. */
export function countScore(prediction: string, reference: string): number {
  const nums = numbers(prediction);
  return nums.length === 0 ? 0 : nums.filter((x) => x === reference).length / nums.length;
}

/** metrics.py retrieval_score (English: "Paragraph N"). */
export function retrievalScore(prediction: string, reference: string): number {
  const id = /Paragraph (\p{Nd}+)/u.exec(reference)?.[1];
  if (id === undefined) return 0;
  const nums = numbers(prediction);
  return nums.length === 0 ? 0 : nums.filter((x) => x === id).length / nums.length;
}

/**
 * difflib.SequenceMatcher(None, a, b).ratio() — Ratcliff/Obershelp: 2·M/T with
 * M the characters in the matching blocks found by recursive longest-match
 * search and T = len(a) + len(b) (1.0 when both are empty). Includes difflib's
 * "autojunk" heuristic: when len(b) ≥ 200, characters occurring more than
 * ⌊len(b)/100⌋ + 1 times in b are not used to seed matches (but still extend
 * them). Works on code points, as Python strings do.
 */
export function sequenceMatcherRatio(a: string, b: string): number {
  const A = Array.from(a);
  const B = Array.from(b);
  const total = A.length + B.length;
  if (total === 0) return 1;
  const b2j = new Map<string, number[]>();
  B.forEach((ch, j) => {
    const l = b2j.get(ch);
    if (l) l.push(j);
    else b2j.set(ch, [j]);
  });
  if (B.length >= 200) {
    const ntest = Math.floor(B.length / 100) + 1;
    for (const [ch, idx] of [...b2j]) if (idx.length > ntest) b2j.delete(ch);
  }
  const longest = (alo: number, ahi: number, blo: number, bhi: number): [number, number, number] => {
    let [bi, bj, bk] = [alo, blo, 0];
    let j2len = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>();
      for (const j of b2j.get(A[i] ?? '') ?? []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (j2len.get(j - 1) ?? 0) + 1;
        next.set(j, k);
        if (k > bk) [bi, bj, bk] = [i - k + 1, j - k + 1, k];
      }
      j2len = next;
    }
    // Extend with equal elements on both sides (no element is junk when isjunk is None).
    while (bi > alo && bj > blo && A[bi - 1] === B[bj - 1]) [bi, bj, bk] = [bi - 1, bj - 1, bk + 1];
    while (bi + bk < ahi && bj + bk < bhi && A[bi + bk] === B[bj + bk]) bk++;
    return [bi, bj, bk];
  };
  let matches = 0;
  const queue: [number, number, number, number][] = [[0, A.length, 0, B.length]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop() as [number, number, number, number];
    const [i, j, k] = longest(alo, ahi, blo, bhi);
    if (k > 0) {
      matches += k;
      if (alo < i && blo < j) queue.push([alo, i, blo, j]);
      if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
    }
  }
  return (2 * matches) / total;
}

/** python-Levenshtein's ratio: 2·LCS/(len(a)+len(b)) over code points (the Indel similarity). */
export function levenshteinRatio(a: string, b: string): number {
  const A = Array.from(a);
  const B = Array.from(b);
  if (A.length + B.length === 0) return 1;
  let prev = new Int32Array(B.length + 1);
  let cur = new Int32Array(B.length + 1);
  for (let i = 1; i <= A.length; i++) {
    for (let j = 1; j <= B.length; j++) cur[j] = A[i - 1] === B[j - 1] ? (prev[j - 1] ?? 0) + 1 : Math.max(prev[j] ?? 0, cur[j - 1] ?? 0);
    [prev, cur] = [cur, prev];
  }
  return (2 * (prev[B.length] ?? 0)) / (A.length + B.length);
}

/** Python 3 round(): to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * fuzzywuzzy 0.18 `fuzz.ratio(a, b)`, an integer 0–100: 100 if a == b; 0 if
 * either is empty; else round-half-even(100 · SequenceMatcher(None, a, b).ratio()).
 * fuzzywuzzy uses python-Levenshtein's matcher when that package is installed
 * and difflib otherwise; LongBench's requirements list fuzzywuzzy without
 * python-Levenshtein, so 'difflib' is the default. The two differ when the
 * greedy longest-block search misses matches an LCS would find.
 */
export function fuzzRatio(a: string, b: string, matcher: 'difflib' | 'levenshtein' = 'difflib'): number {
  if (a === b) return 100;
  if (a.length === 0 || b.length === 0) return 0;
  return roundHalfEven(100 * (matcher === 'difflib' ? sequenceMatcherRatio(a, b) : levenshteinRatio(a, b)));
}

/** metrics.py code_sim_score. */
export function codeSimScore(prediction: string, reference: string): number {
  const lines = prediction.replace(/^\n+/, '').split('\n');
  const line = lines.find((l) => !l.includes('`') && !l.includes('#') && !l.includes('//')) ?? '';
  return fuzzRatio(line, reference) / 100;
}

/** NIAH / RULER string_match_all: the fraction of answers that occur in the prediction, ignoring case. */
export function niahScore(prediction: string, answers: readonly string[]): number {
  if (answers.length === 0) return 0;
  const p = prediction.toLowerCase();
  return answers.filter((a) => p.includes(a.toLowerCase())).length / answers.length;
}

/** Escapes a string for use inside a RegExp. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * niahScore with whole-word occurrences only: an answer is found where it is
 * neither preceded nor followed by a letter, a digit or '_' (Unicode-aware,
 * case-insensitive). Any such occurrence will do: "819955, no: 81995" finds
 * 81995.
 */
export function niahWholeScore(prediction: string, answers: readonly string[]): number {
  if (answers.length === 0) return 0;
  const found = answers.filter((a) => a.length > 0 && new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(a)}(?![\\p{L}\\p{N}_])`, 'iu').test(prediction));
  return found.length / answers.length;
}

/** 1 if the trimmed prediction equals one of the trimmed answers. */
export function exactScore(prediction: string, answers: readonly string[]): number {
  const p = prediction.trim();
  return answers.some((a) => a.trim() === p) ? 1 : 0;
}

/**
 * A text metric: (prediction, answers, the sample's meta) → [0, 1]. Meta keys
 * read: `firstLine` (true: score the first line only) and `allClasses` (a JSON
 * string array, classification).
 */
export type MetricFn = (prediction: string, answers: readonly string[], meta?: SampleMeta) => number;

/** eval.py: only the first line after leading newlines for trec/triviaqa/samsum/lsht (meta.firstLine). */
function firstLineIf(prediction: string, meta?: SampleMeta): string {
  return meta?.['firstLine'] === true ? (prediction.replace(/^\n+/, '').split('\n')[0] ?? '') : prediction;
}

/** The label set of a classification sample (meta.allClasses, a JSON string array); [] if absent or malformed. */
export function allClassesOf(meta?: SampleMeta): string[] {
  const raw = meta?.['allClasses'];
  if (typeof raw !== 'string') return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** eval.py scorer: max(0, max over references). */
const longBench =
  (fn: (prediction: string, reference: string, meta?: SampleMeta) => number): MetricFn =>
  (prediction, answers, meta) => {
    const p = firstLineIf(prediction, meta);
    let best = 0;
    for (const a of answers) best = Math.max(best, fn(p, a, meta));
    return best;
  };

/** Every text metric by id: (prediction, answers, ctx?) → [0, 1]. */
export const METRICS: Readonly<Record<TextMetricId, MetricFn>> = {
  qa_f1: longBench(qaF1Score),
  rouge_l: longBench(rougeLScore),
  classification: longBench((p, a, meta) => classificationScore(p, a, allClassesOf(meta))),
  retrieval: longBench(retrievalScore),
  count: longBench(countScore),
  code_sim: longBench(codeSimScore),
  niah: niahScore,
  niah_whole: niahWholeScore,
  exact: exactScore,
};

/** Scores a generated output for a sample with its metric; throws for 'fidelity' samples (scored from logits). */
export function scoreText(sample: Sample, prediction: string): number {
  if (sample.metric === 'fidelity') throw new TypeError(`sample '${sample.id}' is a fidelity sample: score it from logits (metrics/fidelity.ts)`);
  return METRICS[sample.metric](prediction, sample.answers, sample.meta);
}
