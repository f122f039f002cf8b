/**
 * CSV and JSON of every row, for pandas, R and spreadsheets.
 *
 * CSV: RFC 4180 — CRLF line ends, every field that holds a comma, a double
 * quote, CR or LF is quoted and its quotes doubled — with one line per cell
 * and nested fields flattened into dotted columns (`kv.heldBytes`,
 * `provenance.machine.cpu`, `meta.depth`…). Arrays (answers, layer budgets,
 * held tokens per head, LMBA) are JSON in one field so they survive the
 * round trip. Kept positions (`kept`, optional and large) are left to the
 * JSON export. Profile rows have another shape and are in the JSON only.
 *
 * JSON: the experiment and every row as stored, one row per line inside the
 * array so large exports stay diffable and streamable by line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoredExperiment, StoredRow } from '../experiments/store.ts';
import type { ResultRow } from '@kvlab/core';
import { splitRows } from '@kvlab/core';
import type { ReportSource } from './html.ts';
import { loadReportSource } from './html.ts';

/** One CSV field, quoted when RFC 4180 requires it. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Lines of fields → CSV text with CRLF line ends (and a final CRLF). */
export function toCsv(lines: readonly (readonly string[])[]): string {
  return lines.map((l) => l.map(csvField).join(',')).join('\r\n') + (lines.length ? '\r\n' : '');
}

const cell = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  // Shortest round-trip form; NaN and Infinity as pandas reads them.
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
};

type Column = readonly [name: string, get: (r: ResultRow) => unknown];

const BASE_COLUMNS: readonly Column[] = [
  ['cellId', (r) => r.cellId],
  ['experiment', (r) => r.experiment],
  ['experimentHash', (r) => r.experimentHash],
  ['model.name', (r) => r.model.name],
  ['model.path', (r) => r.model.path],
  ['model.sha256', (r) => r.model.sha256],
  ['model.layers', (r) => r.model.layers],
  ['model.kvHeads', (r) => r.model.kvHeads],
  ['model.headDim', (r) => r.model.headDim],
  ['workload', (r) => r.workload],
  ['sampleId', (r) => r.sampleId],
];

const TAIL_COLUMNS: readonly Column[] = [
  ['promptTokens', (r) => r.promptTokens],
  ['method', (r) => r.method],
  ['methodLabel', (r) => r.methodLabel],
  ['methodParams', (r) => r.methodParams],
  ['budget', (r) => r.budget],
  ['metric', (r) => r.metric],
  ['score', (r) => r.score],
  ['prediction', (r) => r.prediction],
  ['answers', (r) => r.answers],
  ['fidelity.nll', (r) => r.fidelity?.nll],
  ['fidelity.ppl', (r) => r.fidelity?.ppl],
  ['fidelity.deltaNll', (r) => r.fidelity?.deltaNll],
  ['fidelity.kl', (r) => r.fidelity?.kl],
  ['fidelity.top1', (r) => r.fidelity?.top1],
  ['fidelity.greedyPrefix', (r) => r.fidelity?.greedyPrefix],
  ['kv.heldBytes', (r) => r.kv.heldBytes],
  ['kv.slotBytes', (r) => r.kv.slotBytes],
  ['kv.fullBytes', (r) => r.kv.fullBytes],
  ['kv.measuredRatio', (r) => (r.kv.fullBytes > 0 ? r.kv.heldBytes / r.kv.fullBytes : undefined)],
  ['kv.nominalTokens', (r) => r.kv.nominalTokens],
  ['kv.nominalRatio', (r) => r.kv.nominalRatio],
  ['kv.layerBudgets', (r) => r.kv.layerBudgets],
  ['kv.heldPerHead', (r) => r.kv.heldPerHead],
  ['lmba', (r) => r.lmba],
  ['timings.prefillMs', (r) => r.timings.prefillMs],
  ['timings.compressMs', (r) => r.timings.compressMs],
  ['timings.decodeMs', (r) => r.timings.decodeMs],
  ['timings.decodeTokens', (r) => r.timings.decodeTokens],
  ['flags', (r) => r.flags.join(';')],
  ['provenance.appVersion', (r) => r.provenance.appVersion],
  ['provenance.commit', (r) => r.provenance.commit],
  ['provenance.node', (r) => r.provenance.node],
  ['provenance.onnxruntime', (r) => r.provenance.onnxruntime],
  ['provenance.executionProvider', (r) => r.provenance.executionProvider],
  ['provenance.threads', (r) => r.provenance.threads],
  ['provenance.seed', (r) => r.provenance.seed],
  ['provenance.date', (r) => r.provenance.date],
  ['provenance.machine.hostname', (r) => r.provenance.machine.hostname],
  ['provenance.machine.platform', (r) => r.provenance.machine.platform],
  ['provenance.machine.release', (r) => r.provenance.machine.release],
  ['provenance.machine.arch', (r) => r.provenance.machine.arch],
  ['provenance.machine.cpu', (r) => r.provenance.machine.cpu],
  ['provenance.machine.cpus', (r) => r.provenance.machine.cpus],
  ['provenance.machine.memoryBytes', (r) => r.provenance.machine.memoryBytes],
];

/** The CSV of the cell rows: a header, then one line per cell in stored order. `meta.*` columns are the union of the rows' meta keys, sorted. */
export function cellsToCsv(rows: readonly StoredRow[]): string {
  const { cells } = splitRows(rows);
  const metaKeys = [...new Set(cells.flatMap((r) => Object.keys(r.meta)))].sort();
  const columns: Column[] = [...BASE_COLUMNS, ...metaKeys.map((k): Column => [`meta.${k}`, (r) => r.meta[k]]), ...TAIL_COLUMNS];
  return toCsv([columns.map(([name]) => name), ...cells.map((r) => columns.map(([, get]) => cell(get(r))))]);
}

/** `{ format, experiment, rows }` as JSON text; every row exactly as stored. */
export function resultsJson(experiment: StoredExperiment, rows: readonly StoredRow[]): string {
  const body = rows.map((r) => `  ${JSON.stringify(r)}`).join(',\n');
  return `{\n"format": "kvlab-results/1",\n"experiment": ${JSON.stringify(experiment, null, 2)},\n"rows": [\n${body}${rows.length ? '\n' : ''}]\n}\n`;
}

const source = (s: string | ReportSource): ReportSource => (typeof s === 'string' ? loadReportSource(s) : s);

function write(outPath: string, text: string): void {
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, text);
}

export function writeCsv(from: string | ReportSource, outPath: string): void {
  write(outPath, cellsToCsv(source(from).rows));
}

export function writeJson(from: string | ReportSource, outPath: string): void {
  const s = source(from);
  write(outPath, resultsJson(s.experiment, s.rows));
}
