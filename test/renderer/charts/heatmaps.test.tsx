/**
 * NiahHeatmap and DeltaHeatmap on the report fixture: a cell per (depth,
 * length), the values and colours the CLI report draws, clicks → the cells
 * behind, the trained-length line, and the Δ of two methods from the
 * fixture's score formula.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { cleanup, fireEvent, render } from '@testing-library/react';
import { deltaColor, niahCellIds, niahColor, niahDelta } from '@kvlab/core';
import { DeltaHeatmap } from '../../../renderer/src/charts/DeltaHeatmap.tsx';
import { NiahHeatmap } from '../../../renderer/src/charts/NiahHeatmap.tsx';
import { DEPTHS, LENGTHS, niahScore } from '../../reports/fixtures.ts';
import { cells, data, gridOf, reportHtml, unescapeHtml, ZZ } from './fixture.ts';

afterEach(() => cleanup());

const cellFill = (el: Element): string => el.querySelector('rect')?.getAttribute('fill') ?? '';

describe('NiahHeatmap', () => {
  it('one cell per depth × length with the report’s values and colours, for every grid', () => {
    const html = reportHtml();
    for (const g of data.niah) {
      const r = render(<NiahHeatmap grid={g} width={360} testId="h" />);
      const mine = r.getAllByTestId('heatmap-cell');
      assert.equal(mine.length, DEPTHS.length * LENGTHS.length);
      const fig = [...html.matchAll(/<figure class="heatmap" data-method="([^"]*)" data-budget="([^"]*)">([\s\S]*?)<\/figure>/g)].find(
        ([, m, b]) => unescapeHtml(m ?? '') === g.methodLabel && b === g.budget,
      );
      assert.ok(fig, `${g.methodLabel} @ ${g.budget} in the report`);
      const report = [...(fig[3] ?? '').matchAll(/<rect class="cell"[^>]*fill="([^"]*)" data-x="(\d+)" data-y="(\d+)" data-value="([^"]*)"/g)];
      assert.equal(report.length, mine.length);
      for (const [, fill, x, y, v] of report) {
        const el = mine.find((e) => e.getAttribute('data-x') === x && e.getAttribute('data-y') === y);
        assert.ok(el);
        assert.equal(el.getAttribute('data-value'), v, `${g.methodLabel} @ ${g.budget} d${y} l${x}`);
        assert.equal(cellFill(el), fill);
      }
      cleanup();
    }
  });

  it('click → the ids of the samples behind the cell; the trained length is marked', () => {
    const picked: (readonly string[])[] = [];
    const g = gridOf('snapkv/pyramidkv', '50%');
    const r = render(<NiahHeatmap grid={g} width={360} trainedLength={384} cellIds={(d, l) => niahCellIds(cells, g, d, l)} onSelect={(c) => picked.push(c)} />);
    const cell = r.getAllByTestId('heatmap-cell').find((e) => e.getAttribute('data-y') === '50' && e.getAttribute('data-x') === '512');
    assert.ok(cell);
    fireEvent.click(cell);
    assert.deepEqual(picked, [['tiny-llama|niah-single|niah-single/c512/d50/s0|snapkv/pyramidkv|50%']]);
    assert.ok(r.getByTestId('heatmap-mark'));
    assert.equal(r.getByTestId('niah-heatmap').querySelector('.kv-chart-title')?.textContent, 'snapkv/pyramidkv @ 50%');
  });

  it('outlines flagged cells', () => {
    const g = gridOf(ZZ, '10%');
    const r = render(<NiahHeatmap grid={g} width={360} flagged={new Set(['0,256'])} />);
    const flagged = r.getAllByTestId('heatmap-cell').filter((e) => e.getAttribute('data-flagged') === 'true');
    assert.deepEqual(
      flagged.map((e) => [e.getAttribute('data-y'), e.getAttribute('data-x')]),
      [['0', '256']],
    );
  });
});

describe('DeltaHeatmap', () => {
  it('A − B from the fixture formula, coloured on the diverging scale', () => {
    const d = niahDelta(gridOf('snapkv/uniform', '25%'), gridOf('snapkv/pyramidkv', '25%'));
    const r = render(<DeltaHeatmap delta={d} width={360} />);
    const els = r.getAllByTestId('delta-cell');
    assert.equal(els.length, 6);
    DEPTHS.forEach((depth, di) =>
      LENGTHS.forEach((len, li) => {
        const want = niahScore(0, 1, di, li) - niahScore(1, 1, di, li);
        const el = els.find((e) => e.getAttribute('data-y') === String(depth) && e.getAttribute('data-x') === String(len));
        assert.ok(el);
        assert.equal(Number(el.getAttribute('data-value')), Math.round(want * 100) / 100, `d${depth} l${len}`);
        assert.equal(cellFill(el), deltaColor(want, 1));
      }),
    );
    assert.equal(r.getByTestId('delta-heatmap').querySelector('.kv-chart-title')?.textContent, 'Δ snapkv/uniform @ 25% − snapkv/pyramidkv @ 25%');
    assert.match(r.getByTestId('delta-heatmap').textContent ?? '', /Mean Δ/);
  });

  it('click → the cells of both methods; the scale can be narrowed', () => {
    const a = gridOf('full', 'full');
    const b = gridOf('snapkv/uniform', '10%');
    const picked: (readonly string[])[] = [];
    const r = render(
      <DeltaHeatmap
        delta={niahDelta(a, b)}
        scale={0.5}
        width={360}
        cellIds={(dd, l) => [...niahCellIds(cells, a, dd, l), ...niahCellIds(cells, b, dd, l)]}
        onSelect={(c) => picked.push(c)}
      />,
    );
    const cell = r.getAllByTestId('delta-cell').find((e) => e.getAttribute('data-y') === '0' && e.getAttribute('data-x') === '256');
    assert.ok(cell);
    assert.equal(cellFill(cell), deltaColor(1, 0.5)); // 1 − 0, clamped at +0.5
    assert.notEqual(cellFill(cell), niahColor(1), 'the Δ map has its own diverging scale');
    fireEvent.click(cell);
    assert.deepEqual(picked, [['tiny-llama|niah-single|niah-single/c256/d0/s0|full|full', 'tiny-llama|niah-single|niah-single/c256/d0/s0|snapkv/uniform|10%']]);
  });
});
