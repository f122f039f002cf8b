/**
 * LongBench v1 (Bai et al., ACL 2024, https://arxiv.org/abs/2308.14508) from its
 * JSONL files: one record per line with `input`, `context`, `answers`,
 * `length`, `dataset`, `language`, `all_classes` and `_id`. The data is not
 * redistributable; a user who has the files gets scores
 * comparable with the papers because the protocol is reproduced here:
 *
 * - prompt template per dataset: THUDM/LongBench config/dataset2prompt.json,
 *   copied verbatim ({context} and {input} substituted once, like Python's
 *   str.format in pred.py);
 * - generation cap per dataset: config/dataset2maxlen.json of LongBench v1
 *   (THUDM/LongBench, now under LongBench/config/; the same values in the copies
 *   shipped by THU-KEG/WaterBench and amirzandieh/QJL. An early revision of the
 *   file, f6227eb, differs — e.g. samsum/multi_news were missing);
 * - metric per dataset: `dataset2metric` of eval.py (metrics/text.ts implements
 *   metrics.py);
 * - eval.py scores only the first line of the output (after leading newlines)
 *   for trec, triviaqa, samsum and lsht → `meta.firstLine = true`;
 * - pred.py does not apply the chat template for trec, triviaqa, samsum, lsht,
 *   lcc and repobench-p → `meta.chatTemplate = false` (true elsewhere);
 * - pred.py stops samsum at a newline (extra EOS) → `meta.stopAtNewline = true`;
 * - classification (trec, lsht) needs the record's `all_classes` →
 *   `meta.allClasses`, a JSON array string (meta values are scalars).
 *
 * Not done here (the runner's job, it needs the tokenizer): pred.py truncates a
 * prompt longer than the model's window in the middle (first and last
 * max_length/2 tokens).
 *
 * Supported: the 16 English and code datasets KV-compression papers report,
 * plus lsht (classification needs no Chinese segmentation). multifieldqa_zh,
 * dureader, vcsum and passage_retrieval_zh are rejected (their metrics need
 * jieba). LongBench-E files (dataset names with an `_e` suffix) use the same
 * settings; `meta.longbenchE` marks them.
 */
import { LongBenchParseError } from './errors.ts';
import { pathText } from '../path-text.ts';
import { intIn, parseWorkload } from './types.ts';
import type { Sample, TextMetricId } from './types.ts';
import type { SampleGrid, SampleSketch, WorkloadKindDef } from './workload.ts';
import { countOr, writeAs } from './workload.ts';
import { z } from 'zod';

export const longbenchWorkload = z.strictObject({
  kind: z.literal('longbench'),
  path: pathText().describe('A LongBench-format JSONL file (or a folder of them; the runner resolves it).'),
  datasets: z.array(z.string().min(1)).min(1).optional().describe("Keep only these datasets (the records' `dataset` field)."),
  limit: intIn(1, 1_000_000).optional().describe('At most this many samples per dataset, in file order.'),
});
export type LongBenchWorkload = z.output<typeof longbenchWorkload>;

/** LongBench rows live in a file the sketch cannot read; without a `limit` this many per dataset is assumed (and the sketch says it is not exact). */
export const LONGBENCH_GUESS_PER_DATASET = 200;

export interface LongBenchDatasetConfig {
  /** dataset2prompt.json */
  readonly prompt: string;
  /** dataset2maxlen.json */
  readonly maxNewTokens: number;
  /** eval.py dataset2metric */
  readonly metric: TextMetricId;
  /** false where pred.py skips the chat template */
  readonly chatTemplate: boolean;
  /** eval.py scores only the first line */
  readonly firstLine: boolean;
}

const QA_MULTI =
  'Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:';

const cfg = (prompt: string, maxNewTokens: number, metric: TextMetricId, chatTemplate = true, firstLine = false): LongBenchDatasetConfig => ({
  prompt,
  maxNewTokens,
  metric,
  chatTemplate,
  firstLine,
});

/** The supported datasets and their protocol settings (sources in the file header). */
export const LONGBENCH_DATASETS = {
  narrativeqa: cfg(
    'You are given a story, which can be either a novel or a movie script, and a question. Answer the question as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:',
    128,
    'qa_f1',
  ),
  qasper: cfg(
    'You are given a scientific article and a question. Answer the question as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write "unanswerable". If the question is a yes/no question, answer "yes", "no", or "unanswerable". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write "unanswerable". If the question is a yes/no question, answer "yes", "no", or "unanswerable". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:',
    128,
    'qa_f1',
  ),
  multifieldqa_en: cfg(
    'Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:',
    64,
    'qa_f1',
  ),
  hotpotqa: cfg(QA_MULTI, 32, 'qa_f1'),
  '2wikimqa': cfg(QA_MULTI, 32, 'qa_f1'),
  musique: cfg(QA_MULTI, 32, 'qa_f1'),
  gov_report: cfg(
    'You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:',
    512,
    'rouge_l',
  ),
  qmsum: cfg(
    'You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:',
    512,
    'rouge_l',
  ),
  multi_news: cfg(
    'You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, write a one-page summary of all the news.\n\nSummary:',
    512,
    'rouge_l',
  ),
  trec: cfg('Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}', 64, 'classification', false, true),
  triviaqa: cfg(
    'Answer the question based on the given passage. Only give me the answer and do not output any other words. The following are some examples.\n\n{context}\n\n{input}',
    32,
    'qa_f1',
    false,
    true,
  ),
  samsum: cfg('Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n{input}', 128, 'rouge_l', false, true),
  lsht: cfg('请判断给定新闻的类别，下面是一些例子。\n\n{context}\n{input}', 64, 'classification', false, true),
  passage_count: cfg(
    'There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please carefully read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ',
    32,
    'count',
  ),
  passage_retrieval_en: cfg(
    'Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number of the paragraph that the abstract is from. The answer format must be like "Paragraph 1", "Paragraph 2", etc.\n\nThe answer is: ',
    32,
    'retrieval',
  ),
  lcc: cfg('Please complete the code given below. \n{context}Next line of code:\n', 64, 'code_sim', false),
  'repobench-p': cfg('Please complete the code given below. \n{context}{input}Next line of code:\n', 64, 'code_sim', false),
} as const satisfies Record<string, LongBenchDatasetConfig>;

export type LongBenchDataset = keyof typeof LONGBENCH_DATASETS;

/** Datasets of LongBench v1 that are known but not supported, and why. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  multifieldqa_zh: 'its metric (qa_f1_zh) needs jieba word segmentation',
  dureader: 'its metric (rouge_zh) needs jieba word segmentation',
  vcsum: 'its metric (rouge_zh) needs jieba word segmentation',
  passage_retrieval_zh: 'the Chinese datasets are not supported',
};

export function isLongBenchDataset(name: string): name is LongBenchDataset {
  return Object.hasOwn(LONGBENCH_DATASETS, name);
}

/** One JSONL record, as in the LongBench files, plus the 1-based line it came from. */
export interface LongBenchRecord {
  readonly input: string;
  readonly context: string;
  readonly answers: readonly string[];
  readonly length: number;
  readonly dataset: string;
  readonly language?: string;
  readonly all_classes: readonly string[] | null;
  readonly _id: string;
  readonly line: number;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Parses LongBench JSONL text. Blank lines are skipped; any other line must be
 * a JSON object with string `input`, `context`, `dataset`, `_id`, a non-empty
 * string array `answers`, a non-negative integer `length`, `all_classes` null
 * or a string array (missing = null) and an optional string `language`.
 * Throws a LongBenchParseError naming the first bad line and the problem.
 */
export function parseLongBenchJsonl(text: string): LongBenchRecord[] {
  const out: LongBenchRecord[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const src = raw.replace(/\r$/, '');
    if (src.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(src);
    } catch (e) {
      throw new LongBenchParseError(line, `invalid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LongBenchParseError(line, 'expected a JSON object');
    const r = v as Record<string, unknown>;
    for (const f of ['input', 'context', 'dataset', '_id'] as const) {
      if (typeof r[f] !== 'string') throw new LongBenchParseError(line, `field '${f}' must be a string, got ${what(r[f])}`);
    }
    if (!isStringArray(r['answers']) || r['answers'].length === 0) {
      throw new LongBenchParseError(line, `field 'answers' must be a non-empty array of strings, got ${what(r['answers'])}`);
    }
    const length = r['length'];
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) {
      throw new LongBenchParseError(line, `field 'length' must be a non-negative integer, got ${what(length)}`);
    }
    const classes = r['all_classes'] ?? null;
    if (classes !== null && !isStringArray(classes))
      throw new LongBenchParseError(line, `field 'all_classes' must be null or an array of strings, got ${what(classes)}`);
    const language = r['language'];
    if (language !== undefined && typeof language !== 'string') throw new LongBenchParseError(line, `field 'language' must be a string, got ${what(language)}`);
    out.push({
      input: r['input'] as string,
      context: r['context'] as string,
      answers: r['answers'],
      length,
      dataset: r['dataset'] as string,
      ...(language !== undefined ? { language } : {}),
      all_classes: classes,
      _id: r['_id'] as string,
      line,
    });
  });
  return out;
}

function what(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `a string` : typeof v;
}

/** The base dataset of a record (LongBench-E's `_e` suffix removed). */
function baseDataset(name: string): string {
  return name.endsWith('_e') && isLongBenchDataset(name.slice(0, -2)) ? name.slice(0, -2) : name;
}

/** Fills a dataset2prompt template: {context} and {input}, once each, as str.format would. */
export function longBenchPrompt(template: string, rec: Pick<LongBenchRecord, 'context' | 'input'>): string {
  return template.replace(/\{(context|input)\}/g, (_, k: string) => (k === 'context' ? rec.context : rec.input));
}

/** The sample for one record; throws a LongBenchParseError for an unsupported dataset. */
export function longBenchSample(rec: LongBenchRecord): Sample {
  const name = baseDataset(rec.dataset);
  if (!isLongBenchDataset(name)) {
    const why = UNSUPPORTED[name] ?? `unknown dataset; supported: ${Object.keys(LONGBENCH_DATASETS).join(', ')}`;
    throw new LongBenchParseError(rec.line, `dataset '${rec.dataset}' is not supported: ${why}`);
  }
  const c: LongBenchDatasetConfig = LONGBENCH_DATASETS[name];
  if (c.metric === 'classification' && (rec.all_classes === null || rec.all_classes.length === 0)) {
    throw new LongBenchParseError(rec.line, `dataset '${rec.dataset}' is scored by classification and needs 'all_classes'`);
  }
  return {
    id: `longbench-${rec.dataset}/${rec._id}`,
    workload: `longbench-${name}`,
    prompt: longBenchPrompt(c.prompt, rec),
    answers: rec.answers,
    metric: c.metric,
    maxNewTokens: c.maxNewTokens,
    meta: {
      dataset: name,
      length: rec.length,
      chatTemplate: c.chatTemplate,
      firstLine: c.firstLine,
      stopAtNewline: name === 'samsum',
      longbenchE: name !== rec.dataset,
      line: rec.line,
      ...(rec.language !== undefined ? { language: rec.language } : {}),
      ...(c.metric === 'classification' && rec.all_classes ? { allClasses: JSON.stringify(rec.all_classes) } : {}),
    },
  };
}

/**
 * The samples of a LongBench workload from the text of its JSONL file(s)
 * (`texts`, read by the runner from `def.path`): filtered to `datasets`, at
 * most `limit` per dataset, in file order.
 */
export function generateLongBench(def: z.input<typeof longbenchWorkload>, opts: { readonly texts?: readonly string[] }): Sample[] {
  const d = parseWorkload(longbenchWorkload, def, 'longbench');
  const keep = d.datasets ? new Set(d.datasets.map(baseDataset)) : undefined;
  const taken = new Map<string, number>();
  const out: Sample[] = [];
  for (const text of opts.texts ?? []) {
    for (const rec of parseLongBenchJsonl(text)) {
      const name = baseDataset(rec.dataset);
      if (keep && !keep.has(name)) continue;
      const n = taken.get(name) ?? 0;
      if (d.limit !== undefined && n >= d.limit) continue;
      taken.set(name, n + 1);
      out.push(longBenchSample(rec));
    }
  }
  return out;
}

/**
 * A guess at a LongBench workload's samples: `limit` (else LONGBENCH_GUESS_PER_DATASET)
 * per named dataset, 4096 tokens each, ids as longBenchSample names them where the
 * record ids are unknown. Exact only in count, and only with `limit` and `datasets`.
 */
export function sketchLongBench(w: z.input<typeof longbenchWorkload>): SampleGrid {
  const datasets = w.datasets?.length ? w.datasets : ['(all datasets)'];
  const per = countOr(w.limit, LONGBENCH_GUESS_PER_DATASET);
  const out: SampleSketch[] = [];
  for (const ds of datasets)
    for (let i = 0; i < per; i++)
      out.push({ id: `longbench-${ds}/${i}`, workload: `longbench-${ds}`, promptTokens: 4096, metric: 'qa_f1', meta: { dataset: ds } });
  return { samples: out, exact: w.limit !== undefined && w.datasets !== undefined };
}

/** LongBench v1 from the user's JSONL files, as one registry entry. */
export const longbench = {
  kind: 'longbench',
  summary: 'LongBench v1 from your JSONL files, with its prompts, generation caps and metrics.',
  schema: longbenchWorkload,
  generate: generateLongBench,
  sketch: sketchLongBench,
  sources: (d) => ({ kind: 'jsonl', path: d.path }),
  form: [
    { key: 'path', label: 'JSONL file or folder', control: 'text', placeholder: '/data/longbench', testId: 'path', initial: '', write: writeAs.text('path') },
    {
      key: 'datasets',
      label: 'Datasets',
      control: 'text',
      placeholder: 'all (or e.g. qasper, hotpotqa)',
      testId: 'datasets',
      initial: '',
      write: writeAs.names('datasets'),
    },
    { key: 'limit', label: 'Limit per dataset', control: 'text', testId: 'limit', initial: '20', write: writeAs.optionalNumber('limit') },
  ],
} as const satisfies WorkloadKindDef<'longbench', typeof longbenchWorkload>;
