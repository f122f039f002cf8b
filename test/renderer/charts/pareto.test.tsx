/**
 * ParetoChart on the report fixture: one series per method, measured and
 * nominal markers, the numbers the CLI report prints, clicks → cell ids, the
 * nominal toggle, and thinning thousands of sample dots without losing a cell.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { cleanup, fireEvent, render } from '@testing-library/react';
import { groupLabel } from '@kvlab/core';
import { MAX_SAMPLE_DOTS, ParetoChart } from '../../../renderer/src/charts/ParetoChart.tsx';
import type { ParetoSample } from '../../../renderer/src/charts/ParetoChart.tsx';
import { colors, data, frontierOf, groupsOf, ids, reportHtml, unescapeHtml, ZZ } from './fixture.ts';

afterEach(() => cleanup());

const niah = groupsOf('niah-single');
const draw = (extra: Partial<Parameters<typeof ParetoChart>[0]> = {}) =>
  render(<ParetoChart groups={niah} frontier={frontierOf('niah-single')} colors={colors} cellIds={ids} width={640} height={340} animate={false} {...extra} />);

describe('ParetoChart', () => {
  it('draws one series per method: a measured point per budget and a nominal marker per compressed budget', () => {
    const r = draw();
    const points = r.getAllByTestId('pareto-point');
    assert.equal(points.length, 10); // full + 3 methods × 3 budgets
    assert.deepEqual([...new Set(points.map((p) => p.getAttribute('data-series')))].sort(), ['full', 'snapkv/pyramidkv', 'snapkv/uniform', ZZ].sort());
    assert.equal(r.getAllByTestId('pareto-nominal').length, 9);
    const legend = r.getByTestId('pareto-chart-legend').querySelectorAll('li');
    assert.deepEqual(
      [...legend].map((li) => li.getAttribute('data-series')),
      ['full', ZZ, 'snapkv/pyramidkv', 'snapkv/uniform', 'nominal budget', 'Pareto frontier'],
    );
    // Each swatch is drawn like its marks: the lone full-cache point a circle, the methods' joined points a line through a
    // circle, the nominal budgets a hollow diamond, the frontier a dashed line.
    assert.deepEqual(
      [...legend].map((li) => li.querySelector('svg')?.getAttribute('data-mark')),
      ['circle', 'line-circle', 'line-circle', 'line-circle', 'diamond', 'line'],
    );
    assert.equal(legend[4]?.querySelector('path')?.getAttribute('fill'), 'none', 'the nominal diamond is hollow, as its marks are');
    assert.equal(legend[5]?.querySelector('line')?.getAttribute('stroke-dasharray'), '4 3');
    assert.ok(r.container.querySelector('.pareto-frontier'), 'the frontier is drawn');
  });

  it('shows the same mean ± CI per group as the CLI report', () => {
    const r = draw();
    const report = new Map<string, string>();
    for (const [, label = '', nums = ''] of reportHtml().matchAll(/<title>([^<]*): (\d+\.\d{3} ± \d+\.\d{3})<\/title>/g)) report.set(unescapeHtml(label), nums);
    for (const p of r.getAllByTestId('pareto-point')) {
      const g = data.groups.find((x) => x.key === p.getAttribute('data-key'));
      assert.ok(g);
      const mine = /: (\d+\.\d{3} ± \d+\.\d{3})$/.exec(p.getAttribute('aria-label') ?? '')?.[1];
      assert.equal(mine, report.get(groupLabel(g)), groupLabel(g));
    }
  });

  it('marks flagged groups and passes the cell ids of a clicked point', () => {
    const picked: (readonly string[])[] = [];
    const r = draw({ onSelect: (cellIds) => picked.push(cellIds) });
    const zz10 = r.getAllByTestId('pareto-point').find((p) => p.getAttribute('data-series') === ZZ && p.getAttribute('data-budget') === '10%');
    assert.ok(zz10);
    assert.equal(zz10.getAttribute('data-flags'), 'not-compressed');
    fireEvent.click(zz10);
    const key = zz10.getAttribute('data-key') ?? '';
    assert.deepEqual(picked, [ids.get(key)]);
    assert.equal(picked[0]?.length, 6);
    fireEvent.keyDown(r.getAllByTestId('pareto-nominal')[0] as Element, { key: 'Enter' });
    assert.equal(picked.length, 2);
  });

  it('the nominal markers can be switched off', () => {
    const r = draw();
    fireEvent.click(r.getByTestId('pareto-chart-nominal-toggle'));
    assert.equal(r.queryAllByTestId('pareto-nominal').length, 0);
    assert.equal(r.getAllByTestId('pareto-point').length, 10);
  });

  it('thins thousands of sample dots for drawing but keeps every cell behind a dot', () => {
    const samples: ParetoSample[] = [];
    for (let i = 0; i < 6000; i++) {
      const m = ['snapkv/uniform', 'snapkv/pyramidkv', ZZ][i % 3] ?? '';
      samples.push({ cellId: `c${i}`, methodLabel: m, heldBytes: 10_000 + ((i * 7919) % 260_000), score: ((i * 104729) % 1000) / 1000 });
    }
    const picked: (readonly string[])[] = [];
    const t0 = performance.now();
    const r = draw({ samples, onSelect: (c) => picked.push(c) });
    const ms = performance.now() - t0;
    const dots = r.getAllByTestId('pareto-sample');
    assert.ok(dots.length <= MAX_SAMPLE_DOTS, `${dots.length} dots`);
    assert.equal(
      dots.reduce((n, d) => n + Number(d.getAttribute('data-cells')), 0),
      6000,
    );
    fireEvent.click(dots[0] as Element);
    assert.equal(picked[0]?.length, Number(dots[0]?.getAttribute('data-cells')));
    assert.match(r.getByTestId('pareto-chart').textContent ?? '', /dots for 6000 cells/);
    assert.ok(ms < 20_000, `rendered in ${ms.toFixed(0)} ms`);
  });
});
