/**
 * Export to kvpress's evaluation results layout, so KV Lab numbers can sit
 * next to kvpress runs in the same notebooks and leaderboard scripts, which
 * read the three files kvpress writes per run: `predictions.csv`,
 * `metrics.json` and `config.yaml`.
 *
 * Layout, as NVIDIA/kvpress evaluation/evaluate.py (`get_results_dir`,
 * `run_evaluation`) writes it:
 *
 *   <outDir>/<dataset>__<data_dir>__<model with / → -->__<press_name>__<compression_ratio:.2f>/
 *       predictions.csv   one line per sample: the dataset columns but `context`,
 *                         plus `predicted_answer` and `compression_ratio`
 *       metrics.json      { <task>: { <metric>: value } }, indent 4
 *       config.yaml       the flat EvaluationConfig, in its field order
 *
 * One run is one (model, workload, method, budget). How our data maps:
 *   - dataset / data_dir: the workload family and the rest of its id
 *     ("niah-single" → needle_in_haystack / single, "ruler-vt" → ruler / vt,
 *     "longbench-qasper" → longbench / qasper, "fidelity" → fidelity); an
 *     empty data_dir is dropped from the folder name as kvpress does;
 *   - press_name: the method label with "/" → "--" ("snapkv/zigzagkv+adakv"
 *     → "snapkv--zigzagkv+adakv"); the full cache is kvpress's "no_press";
 *   - compression_ratio = 1 − nominal keep ratio (kvpress's ratio is the
 *     fraction REMOVED), the mean over the run's samples; 0 for the full cache;
 *   - metrics: task metrics as kvpress's RULER/LongBench scorers report them,
 *     a percentage rounded to 2 decimals, keyed by the workload id as the
 *     task; fidelity runs report top1 (%), delta_nll, kl, nll, ppl and
 *     greedy_prefix (means);
 *   - `answer` is a JSON list (also a valid Python literal); meta fields
 *     become snake_case columns (depth → needle_depth, contextLength →
 *     context_length); KV Lab's measurements follow as extra columns and
 *     `kvlab_*` config keys, which kvpress's readers ignore.
 *
 * Two runs that would share a folder name (two budgets that round to the
 * same ratio) get "__2", "__3"… in report order. Existing files of the same
 * names are overwritten, so re-exporting is idempotent.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultRow } from '@kvlab/core';
import { groupCells, splitRows } from '@kvlab/core';
import type { GroupSummary } from '@kvlab/core';
import type { ReportSource } from './html.ts';
import { loadReportSource } from './html.ts';
import { toCsv } from './tables.ts';

export const KVPRESS_FILES = ['predictions.csv', 'metrics.json', 'config.yaml'] as const;

export interface KvpressRun {
  /** The run's folder name under outDir. */
  readonly name: string;
  readonly dir: string;
  readonly model: string;
  readonly workload: string;
  readonly methodLabel: string;
  readonly budget: string;
  readonly compressionRatio: number;
  readonly samples: number;
}

const FAMILY: Readonly<Record<string, string>> = { niah: 'needle_in_haystack', ruler: 'ruler', longbench: 'longbench', fidelity: 'fidelity' };

/** ("niah-single") → { dataset: "needle_in_haystack", dataDir: "single" }. */
export function kvpressDataset(workload: string): { dataset: string; dataDir: string } {
  const i = workload.indexOf('-');
  const family = i < 0 ? workload : workload.slice(0, i);
  const rest = i < 0 ? '' : workload.slice(i + 1);
  return { dataset: FAMILY[family] ?? family, dataDir: rest };
}

/** A path component: "/" → "--" as kvpress does for models, anything unsafe in a file name → "-". */
export function safeName(s: string): string {
  return (
    s
      .replace(/\//g, '--')
      // eslint-disable-next-line no-control-regex
      .replace(/[\\:*?"<>|\u0000-\u001f\s]+/g, '-')
      .replace(/^\.+/, '-') || '-'
  );
}

const snake = (k: string): string => (k === 'depth' ? 'needle_depth' : k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());
const round = (x: number, d: number): number => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);
const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

// ---------------------------------------------------------------------------
// YAML: kvpress's config is flat (scalars, one list, an empty mapping), so a
// tiny writer does; no YAML library is installed and none is needed.

type YamlValue = string | number | boolean | null | readonly (string | number | boolean)[] | Readonly<Record<string, never>>;

function yamlScalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? '.nan' : v === Infinity ? '.inf' : v === -Infinity ? '-.inf' : String(v);
  // A double-quoted scalar: JSON's escapes are YAML's; also escape the line separators YAML 1.1 would break on.
  return JSON.stringify(v)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
    .replace(/\u0085/g, '\\u0085');
}

/** Flat YAML in PyYAML's block style (lists as "- item" lines, an empty mapping as {}). */
export function toYaml(entries: readonly (readonly [string, YamlValue])[]): string {
  let s = '';
  for (const [k, v] of entries) {
    if (Array.isArray(v)) s += v.length ? `${k}:\n${v.map((x) => `- ${yamlScalar(x)}`).join('\n')}\n` : `${k}: []\n`;
    else if (v !== null && typeof v === 'object') s += `${k}: {}\n`;
    else s += `${k}: ${yamlScalar(v as string | number | boolean | null)}\n`;
  }
  return s;
}

// ---------------------------------------------------------------------------

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Writes one kvpress-style run folder per (model, workload, method, budget) under outDir. */
export function exportKvpress(from: string | ReportSource, outDir: string): KvpressRun[] {
  const src = typeof from === 'string' ? loadReportSource(from) : from;
  // Cell-id order: the same folder gives the same files whatever order its rows were appended in.
  const cells = [...splitRows(src.rows).cells].sort((a, b) => byText(a.cellId, b.cellId));
  const rowsOf = new Map<string, ResultRow[]>();
  for (const r of cells) {
    const k = [r.model.name, r.workload, r.methodLabel, r.budget].join('\u0000');
    rowsOf.set(k, [...(rowsOf.get(k) ?? []), r]);
  }
  mkdirSync(outDir, { recursive: true });
  const used = new Map<string, number>();
  const runs: KvpressRun[] = [];
  for (const g of groupCells(cells)) {
    const rs = [...(rowsOf.get(g.key) ?? [])].sort((a, b) => byText(a.sampleId, b.sampleId));
    const first = rs[0];
    if (!first) continue;
    const run = runNaming(g, used);
    const dir = join(outDir, run.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'predictions.csv'), predictionsCsv(rs));
    writeFileSync(join(dir, 'metrics.json'), `${JSON.stringify({ [g.workload]: metricsOf(rs) }, null, 4)}\n`);
    writeFileSync(join(dir, 'config.yaml'), configYaml({ g, rs, first, run, outDir }));
    const { model, workload, methodLabel, budget } = g;
    runs.push({ name: run.name, dir, model, workload, methodLabel, budget, compressionRatio: run.cr, samples: rs.length });
  }
  return runs;
}

/** How kvpress names a group's run: its dataset, press and compression ratio, and the folder name they make (numbered when two groups make the same). */
interface RunNaming {
  readonly name: string;
  readonly dataset: string;
  readonly dataDir: string;
  readonly press: string;
  /** kvpress's compression ratio: the share of the cache dropped (0 for the full cache). */
  readonly cr: number;
}

function runNaming(g: GroupSummary, used: Map<string, number>): RunNaming {
  const { dataset, dataDir } = kvpressDataset(g.workload);
  const press = g.isFull ? 'no_press' : safeName(g.methodLabel);
  const cr = g.isFull ? 0 : Math.min(1, Math.max(0, 1 - g.nominalRatio));
  const base = [safeName(dataset), dataDir ? safeName(dataDir) : '', safeName(g.model), press, cr.toFixed(2)].filter(Boolean).join('__');
  const seen = (used.get(base) ?? 0) + 1;
  used.set(base, seen);
  return { name: seen === 1 ? base : `${base}__${seen}`, dataset, dataDir, press, cr };
}

/** predictions.csv: one line per sample, the workload's metadata columns in snake_case between the answer and the score. */
function predictionsCsv(rs: readonly ResultRow[]): string {
  const metaKeys = [...new Set(rs.flatMap((r) => Object.keys(r.meta)))].sort((a, b) => byText(snake(a), snake(b)));
  const header = [
    'task',
    'sample_id',
    'answer',
    'predicted_answer',
    'compression_ratio',
    ...metaKeys.map(snake),
    'metric',
    'score',
    'prompt_tokens',
    'kv_held_bytes',
    'kv_full_bytes',
    'kv_nominal_ratio',
  ];
  const lines = rs.map((r) => [
    r.workload,
    r.sampleId,
    JSON.stringify(r.answers),
    r.prediction,
    String(r.method === 'full' ? 0 : round(1 - r.kv.nominalRatio, 6)),
    ...metaKeys.map((k) => {
      const v = r.meta[k];
      return v === undefined ? '' : String(v);
    }),
    r.metric,
    String(r.score),
    String(r.promptTokens),
    String(r.kv.heldBytes),
    String(r.kv.fullBytes),
    String(r.kv.nominalRatio),
  ]);
  return toCsv([header, ...lines]);
}

/** metrics.json's numbers: the fidelity means for a fidelity workload, else the mean score per metric in percent (kvpress's scale). */
function metricsOf(rs: readonly ResultRow[]): Record<string, number> {
  const fid = rs.filter((r) => r.fidelity !== undefined);
  if (fid.length === rs.length && rs.every((r) => r.metric === 'fidelity')) {
    const m = (get: (f: NonNullable<ResultRow['fidelity']>) => number): number => mean(fid.map((r) => (r.fidelity ? get(r.fidelity) : Number.NaN)));
    return {
      top1: round(m((f) => f.top1) * 100, 2),
      delta_nll: round(
        m((f) => f.deltaNll),
        6,
      ),
      kl: round(
        m((f) => f.kl),
        6,
      ),
      nll: round(
        m((f) => f.nll),
        6,
      ),
      ppl: round(
        m((f) => f.ppl),
        6,
      ),
      greedy_prefix: round(
        m((f) => f.greedyPrefix),
        6,
      ),
    };
  }
  return Object.fromEntries(
    [...new Set(rs.map((r) => r.metric))].sort().map((m) => [m, round(mean(rs.filter((r) => r.metric === m).map((r) => r.score)) * 100, 2)]),
  );
}

const sortedNumbers = (rs: readonly ResultRow[], key: string): number[] =>
  [...new Set(rs.map((r) => r.meta[key]).filter((d): d is number => typeof d === 'number'))].sort((a, b) => a - b);

/** config.yaml: kvpress's run configuration, then KV Lab's own keys (kvlab_*) naming the group, its memory and its provenance. */
function configYaml(c: { g: GroupSummary; rs: readonly ResultRow[]; first: ResultRow; run: RunNaming; outDir: string }): string {
  const { g, rs, first, outDir } = c;
  const { dataset, dataDir, press, cr } = c.run;
  const depths = sortedNumbers(rs, 'depth');
  const lengths = sortedNumbers(rs, 'contextLength');
  const p = first.provenance;
  const params = first.methodParams === undefined ? '' : ` ${JSON.stringify(first.methodParams)}`;
  return toYaml([
    ['dataset', dataset],
    ['data_dir', dataDir || null],
    ['model', g.model],
    ['device', p.executionProvider],
    ['press_name', press],
    ['compression_ratio', round(cr, 6)],
    ['key_channel_compression_ratio', null],
    ['fraction', 1.0],
    ['max_new_tokens', null],
    ['max_context_length', lengths.length ? (lengths[lengths.length - 1] ?? null) : null],
    ['compress_questions', false],
    ['needle_depth', depths.length === 0 ? null : depths.length === 1 ? (depths[0] ?? null) : depths],
    ['compression_interval', null],
    ['target_size', null],
    ['hidden_states_buffer_size', null],
    ['output_dir', outDir],
    ['log_level', 'INFO'],
    ['model_kwargs', {}],
    ['press_init_command', `${g.method}${params}`],
    ['seed', p.seed],
    ['kvlab_experiment', first.experiment],
    ['kvlab_experiment_hash', first.experimentHash],
    ['kvlab_workload', g.workload],
    ['kvlab_method', g.method],
    ['kvlab_method_label', g.methodLabel],
    ['kvlab_budget', g.budget],
    ['kvlab_context_lengths', lengths],
    ['kvlab_samples', rs.length],
    ['kvlab_nominal_ratio', round(g.nominalRatio, 6)],
    ['kvlab_measured_ratio', round(g.measuredRatio, 6)],
    ['kvlab_held_bytes_mean', round(g.heldBytes, 3)],
    ['kvlab_full_bytes_mean', round(g.fullBytes, 3)],
    ['kvlab_model_path', first.model.path],
    ['kvlab_model_sha256', first.model.sha256],
    ['kvlab_execution_provider', p.executionProvider],
    ['kvlab_threads', p.threads],
    ['kvlab_app_version', p.appVersion],
    ['kvlab_commit', p.commit],
    ['kvlab_flags', g.flags],
  ]);
}
