/**
 * core's chart colours are the static report's (electron/reports draws with
 * core's): the same method in the same colour on screen and on paper, and the
 * same NIAH colormap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, allocatorColors, deltaColor, FULL_COLOR, methodColors, NIAH_COLORS, niahColor, PALETTE } from '@kvlab/core';
import { renderHtmlReport } from '../../../electron/reports/html.ts';
import { EXPERIMENT, fixtureRows } from '../../reports/fixtures.ts';

describe('chart colours', () => {
  it('the report draws each method and NIAH cell in core’s colours', () => {
    assert.equal(FULL_COLOR, '#333333');
    const html = renderHtmlReport({ experiment: EXPERIMENT, rows: fixtureRows() });
    const colors = methodColors(aggregate(EXPERIMENT, fixtureRows()).summary.methods);
    const series = [...html.matchAll(/<g class="series" data-series="([^"]*)" data-points="\d+">[\s\S]*?<circle class="point"[^>]*fill="([^"]*)"/g)];
    assert.ok(series.length >= colors.size, `found ${series.length} measured series`);
    const unescape = (t: string): string =>
      t.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? e);
    // Method series only (the bar charts' LMBA overlay is a series too).
    const drawn = series.filter(([, name = '']) => colors.has(unescape(name)));
    assert.ok(drawn.length >= colors.size, `found ${drawn.length} method series`);
    for (const [, name = '', fill = ''] of drawn) assert.equal(fill, colors.get(unescape(name)), name);
    // data-value is rounded to two decimals, so only the exact ends of the scale can be recoloured from it.
    const cells = [...html.matchAll(/<rect class="cell"[^>]*fill="([^"]*)"[^>]*data-value="(0|1)"/g)];
    assert.ok(cells.length > 0);
    for (const [, fill = '', v = ''] of cells) assert.equal(fill, niahColor(Number(v)), `cell ${v}`);
    assert.equal(niahColor(0).toLowerCase(), NIAH_COLORS[0].toLowerCase(), 'the colormap starts at its first anchor');
    assert.ok(PALETTE.length > 0);
  });

  it('method colours: full in the baseline colour, the rest through the palette in order', () => {
    const c = methodColors([
      { label: 'full', method: 'full' },
      { label: 'zz', method: 'snapkv/zigzagkv' },
      { label: 'u', method: 'snapkv/uniform' },
    ]);
    assert.deepEqual([...c.values()], [FULL_COLOR, PALETTE[0], PALETTE[1]]);
    assert.deepEqual(
      [...allocatorColors(['zigzagkv', 'uniform', 'pyramidkv']).entries()],
      [
        ['pyramidkv', PALETTE[0]],
        ['uniform', PALETTE[1]],
        ['zigzagkv', PALETTE[2]],
      ],
    );
  });

  it('Δ colours: white at 0, the ends at ±maxAbs, clamped beyond', () => {
    assert.equal(deltaColor(0), '#f7f7f7');
    assert.equal(deltaColor(1), '#0072b2');
    assert.equal(deltaColor(-1), '#d55e00');
    assert.equal(deltaColor(-5), '#d55e00');
    assert.equal(deltaColor(0.25, 0.25), '#0072b2');
  });
});
