/**
 * Export to kvpress's evaluation results layout, so KV Lab numbers can sit
 * next to kvpress runs in the same notebooks and leaderboard scripts
 * (landscape.md §1: kvpress writes `predictions.csv`, `metrics.json`,
 * `config.yaml` per run).
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

/** Writes one kvpress-style run folder per (model, workload, method, budget) under outDir. */
// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function exportKvpress(from: string | ReportSource, outDir: string): KvpressRun[] {
  const src = typeof from === 'string' ? loadReportSource(from) : from;
  // Cell-id order: the same folder gives the same files whatever order its rows were appended in.
  const cells = [...splitRows(src.rows).cells].sort((a, b) => (a.cellId < b.cellId ? -1 : a.cellId > b.cellId ? 1 : 0));
  const groups = groupCells(cells);
  const rowsOf = new Map<string, ResultRow[]>();
  for (const r of cells) {
    const k = [r.model.name, r.workload, r.methodLabel, r.budget].join('\u0000');
    rowsOf.set(k, [...(rowsOf.get(k) ?? []), r]);
  }
  mkdirSync(outDir, { recursive: true });
  const used = new Map<string, number>();
  const runs: KvpressRun[] = [];
  for (const g of groups) {
    const rs = [...(rowsOf.get(g.key) ?? [])].sort((a, b) => (a.sampleId < b.sampleId ? -1 : a.sampleId > b.sampleId ? 1 : 0));
    const first = rs[0];
    if (!first) continue;
    const { dataset, dataDir } = kvpressDataset(g.workload);
    const press = g.isFull ? 'no_press' : safeName(g.methodLabel);
    const cr = g.isFull ? 0 : Math.min(1, Math.max(0, 1 - g.nominalRatio));
    const base = [safeName(dataset), dataDir ? safeName(dataDir) : '', safeName(g.model), press, cr.toFixed(2)].filter(Boolean).join('__');
    const seen = (used.get(base) ?? 0) + 1;
    used.set(base, seen);
    const name = seen === 1 ? base : `${base}__${seen}`;
    const dir = join(outDir, name);
    mkdirSync(dir, { recursive: true });

    // predictions.csv
    const metaKeys = [...new Set(rs.flatMap((r) => Object.keys(r.meta)))].sort((a, b) => (snake(a) < snake(b) ? -1 : snake(a) > snake(b) ? 1 : 0));
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
    const lines = rs.map((r) => {
      const rowCr = r.method === 'full' ? 0 : round(1 - r.kv.nominalRatio, 6);
      return [
        r.workload,
        r.sampleId,
        JSON.stringify(r.answers),
        r.prediction,
        String(rowCr),
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
      ];
    });
    writeFileSync(join(dir, 'predictions.csv'), toCsv([header, ...lines]));

    // metrics.json
    const fid = rs.filter((r) => r.fidelity !== undefined);
    const metrics: Record<string, number> =
      fid.length === rs.length && rs.every((r) => r.metric === 'fidelity')
        ? {
            top1: round(mean(fid.map((r) => r.fidelity?.top1 ?? Number.NaN)) * 100, 2),
            delta_nll: round(mean(fid.map((r) => r.fidelity?.deltaNll ?? Number.NaN)), 6),
            kl: round(mean(fid.map((r) => r.fidelity?.kl ?? Number.NaN)), 6),
            nll: round(mean(fid.map((r) => r.fidelity?.nll ?? Number.NaN)), 6),
            ppl: round(mean(fid.map((r) => r.fidelity?.ppl ?? Number.NaN)), 6),
            greedy_prefix: round(mean(fid.map((r) => r.fidelity?.greedyPrefix ?? Number.NaN)), 6),
          }
        : Object.fromEntries(
            [...new Set(rs.map((r) => r.metric))].sort().map((m) => [m, round(mean(rs.filter((r) => r.metric === m).map((r) => r.score)) * 100, 2)]),
          );
    writeFileSync(join(dir, 'metrics.json'), `${JSON.stringify({ [g.workload]: metrics }, null, 4)}\n`);

    // config.yaml
    const depths = [...new Set(rs.map((r) => r.meta['depth']).filter((d): d is number => typeof d === 'number'))].sort((a, b) => a - b);
    const lengths = [...new Set(rs.map((r) => r.meta['contextLength']).filter((d): d is number => typeof d === 'number'))].sort((a, b) => a - b);
    const p = first.provenance;
    const params = first.methodParams === undefined ? '' : ` ${JSON.stringify(first.methodParams)}`;
    const yaml = toYaml([
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
    writeFileSync(join(dir, 'config.yaml'), yaml);
    runs.push({ name, dir, model: g.model, workload: g.workload, methodLabel: g.methodLabel, budget: g.budget, compressionRatio: cr, samples: rs.length });
  }
  return runs;
}
