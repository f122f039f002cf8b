/**
 * core's result aggregation (core/src/results/aggregate.ts), the one
 * implementation behind the CLI report and the app's Compare screen. The
 * report's own tests (test/reports/aggregate.test.ts) check the numbers
 * against hand arithmetic; these check that
 *   - core takes the API's plain rows (AnyRow, what getResults returns),
 *   - every number the HTML report prints for the fixture (Pareto points,
 *     heatmap cells, sanity counts) is core's number.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyRow, ExperimentRecord } from '@kvlab/core';
import { aggregate, groupLabel, splitRows } from '@kvlab/core';
import { renderHtmlReport } from '../../../electron/reports/html.ts';
import { EXPERIMENT, fixtureRows } from '../../reports/fixtures.ts';

const rows: AnyRow[] = fixtureRows();
const experiment: ExperimentRecord = { hash: EXPERIMENT.hash, definition: EXPERIMENT.definition, createdAt: EXPERIMENT.createdAt };
const data = aggregate(experiment, rows);
const html = renderHtmlReport({ experiment: EXPERIMENT, rows: fixtureRows() });

const unescape = (s: string): string => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? e);

describe('core result aggregation', () => {
  it('takes the API rows as they come (AnyRow[]) and gives the same result as the stored rows', () => {
    assert.deepEqual(data, aggregate(EXPERIMENT, fixtureRows()));
    assert.equal(data.summary.cells, 80);
    assert.equal(splitRows(rows).profiles.length, 1);
  });

  it('every Pareto point the report prints is a core group mean ± CI', () => {
    const titles = [...html.matchAll(/<title>([^<]*): (\d+\.\d{3}) ± (\d+\.\d{3})<\/title>/g)];
    assert.ok(titles.length >= 20, `found ${titles.length} point titles`);
    const seen = new Set<string>();
    for (const [, label = '', mean = '', ci = ''] of titles) {
      const g = data.groups.find((x) => groupLabel(x) === unescape(label));
      assert.ok(g, `report point ${label} is a core group`);
      assert.equal(g.score.mean.toFixed(3), mean, label);
      assert.equal(g.score.ci95.toFixed(3), ci, label);
      seen.add(g.key);
    }
    assert.equal(seen.size, data.groups.length, 'one report point per core group');
  });

  it('every NIAH heatmap cell the report prints is a core grid mean', () => {
    const figs = [...html.matchAll(/<figure class="heatmap" data-method="([^"]*)" data-budget="([^"]*)">([\s\S]*?)<\/figure>/g)];
    assert.equal(figs.length, data.niah.length);
    for (const [, method = '', budget = '', svg = ''] of figs) {
      const g = data.niah.find((x) => x.methodLabel === unescape(method) && x.budget === budget);
      assert.ok(g, `${method} @ ${budget}`);
      const cells = [...svg.matchAll(/<rect class="cell"[^>]*data-x="(\d+)" data-y="(\d+)" data-value="([^"]*)"/g)];
      assert.equal(cells.length, g.depths.length * g.lengths.length);
      for (const [, x = '', y = '', v = ''] of cells) {
        const mean: number | null = g.mean[g.depths.indexOf(Number(y))]?.[g.lengths.indexOf(Number(x))] ?? null;
        assert.equal(v, mean === null ? '' : String(Math.round(mean * 100) / 100), `${method} @ ${budget} depth ${y} length ${x}`);
      }
    }
  });

  it('the report lists core sanity entries with their counts', () => {
    for (const e of data.sanity)
      assert.ok(html.includes(`<strong>${e.flag}</strong>`) && html.includes(`(${e.cells} cell${e.cells === 1 ? '' : 's'})`), e.flag);
  });
});
