/**
 * CSV and JSON exports, and writeReport's dispatch: the CSV parses back
 * (with an independent RFC 4180 parser) to one line per cell with commas,
 * quotes and newlines intact; the JSON holds the experiment and every row.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ReportError } from '@kvlab/core';
import type { ReportFormat } from '../../electron/reports/index.ts';
import { writeReport } from '../../electron/reports/index.ts';
import { cellsToCsv, csvField, resultsJson, toCsv } from '../../electron/reports/tables.ts';
import type { StoredRow } from '../../electron/experiments/store.ts';
import { COMMIT, EXPERIMENT, fixtureRows, HASH, MODEL, parseCsv, tempDir, writeResultsFolder } from './fixtures.ts';

const rows = fixtureRows() as unknown as StoredRow[];

describe('CSV', () => {
  it('quotes fields as RFC 4180 requires', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('cr\r\nlf'), '"cr\r\nlf"');
    assert.equal(csvField(''), '');
    assert.equal(
      toCsv([
        ['a', 'b,c'],
        ['"', ''],
      ]),
      'a,"b,c"\r\n"""",\r\n',
    );
  });

  const csv = cellsToCsv(rows);
  const parsed = parseCsv(csv);
  const header = parsed[0] ?? [];
  const col = (name: string): number => {
    const i = header.indexOf(name);
    assert.ok(i >= 0, `column ${name}`);
    return i;
  };

  it('parses back to one line per cell, every line as wide as the header', () => {
    assert.ok(csv.endsWith('\r\n'));
    assert.equal(parsed.length, 1 + 80); // profile and check rows are JSON-only
    for (const line of parsed) assert.equal(line.length, header.length);
  });

  it('flattens nested fields, meta and provenance into dotted columns', () => {
    for (const c of [
      'cellId',
      'model.sha256',
      'meta.depth',
      'meta.contextLength',
      'meta.text',
      'kv.heldBytes',
      'kv.measuredRatio',
      'fidelity.deltaNll',
      'provenance.commit',
      'provenance.machine.hostname',
      'provenance.executionProvider',
    ])
      col(c);
    assert.deepEqual(
      header.filter((h) => h.startsWith('meta.')),
      ['meta.contextLength', 'meta.depth', 'meta.text', 'meta.tokens', 'meta.variant'],
    );
  });

  it('keeps commas, quotes and newlines intact', () => {
    const zz = parsed.find((l) => l[col('methodLabel')] === 'ZigZag, "quoted" <b>' && l[col('workload')] === 'niah-single');
    assert.ok(zz, 'the label with a comma and quotes round-trips');
    assert.equal(zz[col('prediction')]?.includes('"blue-42", at depth'), true);
    assert.equal(zz[col('prediction')]?.includes(',\nsaid the model'), true);
    assert.deepEqual(JSON.parse(zz[col('answers')] ?? ''), ['blue-42']);
  });

  it('has the numbers and provenance of the rows', () => {
    const first = parsed[1] ?? [];
    const r = rows[0] as unknown as { cellId: string; score: number; kv: { heldBytes: number; layerBudgets: number[] } };
    assert.equal(first[col('cellId')], r.cellId);
    assert.equal(Number(first[col('score')]), r.score);
    assert.equal(Number(first[col('kv.heldBytes')]), r.kv.heldBytes);
    assert.deepEqual(JSON.parse(first[col('kv.layerBudgets')] ?? ''), r.kv.layerBudgets);
    assert.equal(first[col('provenance.commit')], COMMIT);
    assert.equal(first[col('model.sha256')], MODEL.sha256);
    assert.equal(parsed.filter((l) => l[col('flags')] === 'not-compressed').length, 1);
    assert.equal(parsed.slice(1).filter((l) => l[col('fidelity.top1')] !== '').length, 20);
  });
});

describe('JSON', () => {
  it('holds the experiment and every row as stored', () => {
    const j = JSON.parse(resultsJson(EXPERIMENT, rows)) as { format: string; experiment: { hash: string }; rows: unknown[] };
    assert.equal(j.format, 'kvlab-results/1');
    assert.equal(j.experiment.hash, HASH);
    assert.equal(j.rows.length, 82);
    assert.deepEqual(j.rows, JSON.parse(JSON.stringify(rows)));
    assert.deepEqual(JSON.parse(resultsJson(EXPERIMENT, [])).rows, []);
  });
});

describe('writeReport', () => {
  const dir = writeResultsFolder();
  const out = tempDir('reports-out');

  it('writes html, csv and json files from a results folder', async () => {
    await writeReport(dir, 'html', join(out, 'a', 'r.html'));
    await writeReport(dir, 'csv', join(out, 'b', 'r.csv'));
    await writeReport(dir, 'json', join(out, 'c', 'r.json'));
    assert.match(readFileSync(join(out, 'a', 'r.html'), 'utf8'), /^<!DOCTYPE html>/);
    assert.equal(parseCsv(readFileSync(join(out, 'b', 'r.csv'), 'utf8')).length, 81);
    assert.equal((JSON.parse(readFileSync(join(out, 'c', 'r.json'), 'utf8')) as { rows: unknown[] }).rows.length, 82);
  });

  it('refuses an unknown format and a folder that is not a results folder', async () => {
    await assert.rejects(writeReport(dir, 'docx' as ReportFormat, join(out, 'x')), ReportError);
    await assert.rejects(writeReport(out, 'csv', join(out, 'y.csv')), /not a KV Lab results folder/);
  });
});
