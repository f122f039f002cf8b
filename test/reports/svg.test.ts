/**
 * The hand-written SVG charts: counts of series, points, cells and bars read
 * back from the markup with regexes (the HTML test checks the same in a real
 * browser), the NIAH colormap's anchors, escaping and determinism.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { niahColor, textColorOn } from '@kvlab/core';
import { esc, groupedBarChart, heatmap, n2, niceTicks, xyChart } from '../../electron/reports/svg.ts';

const count = (s: string, re: RegExp): number => (s.match(new RegExp(re.source, 'g')) ?? []).length;

describe('svg helpers', () => {
  it('escapes markup and quotes', () => {
    assert.equal(esc(`<b a="1">O'Neil & co</b>`), '&lt;b a=&quot;1&quot;&gt;O&#39;Neil &amp; co&lt;/b&gt;');
  });

  it('formats numbers with fixed rules', () => {
    assert.equal(n2(1.005), '1');
    assert.equal(n2(-0.001), '0');
    assert.equal(n2(12.345678), '12.35');
  });

  it('picks nice ticks', () => {
    assert.deepEqual(niceTicks(0, 1), { ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], decimals: 1, lo: 0, hi: 1 });
    const t = niceTicks(0, 137);
    assert.deepEqual(t.ticks, [0, 50, 100, 150]);
    assert.equal(t.decimals, 0);
    assert.deepEqual(niceTicks(0.0012, 0.0049).ticks, [0.001, 0.002, 0.003, 0.004, 0.005]);
    assert.equal(niceTicks(0.0012, 0.0049).decimals, 3);
  });

  it("NIAH colours: matplotlib's viridis (#440154 → #21908C → #FDE725) over [0, 1], clamped", () => {
    assert.equal(niahColor(0), '#440154');
    assert.equal(niahColor(0.5), '#21908c');
    assert.equal(niahColor(1), '#fde725');
    assert.equal(niahColor(-3), '#440154');
    assert.equal(niahColor(7), '#fde725');
    // Halfway between the first two stops #440154 and #472D7B (t = 1/16): (68+71)/2, (1+45)/2, (84+123)/2 = 69.5, 23, 103.5 → 46 17 68
    assert.equal(niahColor(1 / 16), '#461768');
    assert.equal(niahColor(5, 0, 10), '#21908c');
  });

  it('cell labels: white on the dark end of viridis, dark on the light end and on white', () => {
    assert.equal(textColorOn('#440154'), '#ffffff');
    assert.equal(textColorOn('#3b528b'), '#ffffff');
    assert.equal(textColorOn('#fde725'), '#1a1a1a');
    assert.equal(textColorOn('#f7f7f7'), '#1a1a1a');
    assert.equal(textColorOn('var(--x)'), '#1a1a1a');
  });
});

describe('xyChart', () => {
  const svg = xyChart({
    title: 'Accuracy <vs> memory',
    xLabel: 'measured KV (MiB)',
    yLabel: 'score',
    series: [
      { name: 'full', color: '#333333', marker: 'circle', points: [{ x: 10, y: 1 }] },
      {
        name: 'snap & kv',
        color: '#0072B2',
        marker: 'circle',
        points: [
          { x: 1, y: 0.5, err: 0.1 },
          { x: 2, y: 0.7, err: 0.2 },
          { x: 5, y: 0.9 },
        ],
      },
      {
        name: 'snap & kv (nominal)',
        color: '#0072B2',
        marker: 'diamond',
        hollow: true,
        line: 'none',
        legend: false,
        role: 'nominal',
        points: [{ x: 0.8, y: 0.5 }],
      },
    ],
    notes: [{ marker: 'diamond', hollow: true, label: 'nominal budget' }],
    yDomain: [0, 1],
    xFromZero: true,
  });

  it('draws each series with its points, lines and error bars', () => {
    assert.equal(count(svg, /<g class="series[^"]*" data-series=/), 3);
    assert.equal(count(svg, /class="point"/), 4); // filled markers: 1 + 3
    assert.equal(count(svg, /class="point hollow"/), 1);
    assert.equal(count(svg, /<path class="line"/), 1); // only the 3-point series is joined
    assert.equal(count(svg, /<path class="err"/), 2);
    assert.match(svg, /data-series="snap &amp; kv" data-points="3"/);
  });

  it('has axes, ticks from 0 to 1 and a legend without the hidden series', () => {
    assert.match(svg, /<g class="ticks ticks-y"[^>]*>(<text[^>]*>[^<]*<\/text>){6}<\/g>/);
    assert.match(svg, />1\.0<\/text>/);
    assert.equal(count(svg, /<g class="legend-item"/), 3); // full, snap & kv, the note
    assert.ok(!svg.includes('<vs>'), 'the title is escaped');
    assert.match(svg, /<title>Accuracy &lt;vs&gt; memory<\/title>/);
  });

  it('is deterministic', () => {
    const again = xyChart({
      title: 'Accuracy <vs> memory',
      xLabel: 'measured KV (MiB)',
      yLabel: 'score',
      series: [
        { name: 'full', color: '#333333', marker: 'circle', points: [{ x: 10, y: 1 }] },
        {
          name: 'snap & kv',
          color: '#0072B2',
          marker: 'circle',
          points: [
            { x: 1, y: 0.5, err: 0.1 },
            { x: 2, y: 0.7, err: 0.2 },
            { x: 5, y: 0.9 },
          ],
        },
        {
          name: 'snap & kv (nominal)',
          color: '#0072B2',
          marker: 'diamond',
          hollow: true,
          line: 'none',
          legend: false,
          role: 'nominal',
          points: [{ x: 0.8, y: 0.5 }],
        },
      ],
      notes: [{ marker: 'diamond', hollow: true, label: 'nominal budget' }],
      yDomain: [0, 1],
      xFromZero: true,
    });
    assert.equal(again, svg);
  });
});

describe('heatmap', () => {
  const svg = heatmap({
    title: 'snapkv @ 20%',
    xValues: [1024, 2048, 4096],
    yValues: [0, 50, 100],
    values: [
      [1, 0.5, 0],
      [1, null, 0.25],
      [0.75, 1, 1],
    ],
    markX: 3072,
  });

  it('has one cell per (depth, length), coloured by value, with values printed', () => {
    assert.equal(count(svg, /<rect class="cell"/), 9);
    assert.match(svg, /data-rows="3" data-cols="3"/);
    assert.match(svg, /<rect class="cell"[^>]*fill="#fde725" data-x="1024" data-y="0" data-value="1">/);
    assert.match(svg, /<rect class="cell"[^>]*fill="#440154" data-x="4096" data-y="0" data-value="0">/);
    // Each value in the ink that reads on its cell: dark on yellow (1.00), white on dark purple (0.00).
    assert.match(svg, /<text x="83" y="[^"]+" class="cell-value" fill="#1a1a1a">1\.00<\/text>/);
    assert.match(svg, /<text x="231" y="[^"]+" class="cell-value" fill="#ffffff">0\.00<\/text>/);
    assert.match(svg, /<rect class="cell"[^>]*fill="#d9d9d9" data-x="2048" data-y="50" data-value="">/);
    assert.equal(count(svg, /class="cell-value"/), 9);
    assert.match(svg, />0\.25<\/text>/);
    assert.match(svg, />–<\/text>/);
  });

  it('follows the NIAH layout: context length across, needle depth down from 0, titled colour bar, trained-length line', () => {
    assert.match(svg, />Context length \(tokens\)</);
    assert.match(svg, />Needle depth \(%\)</);
    assert.match(svg, /class="colorbar-title"[^>]*>Mean score</);
    const ys = [...svg.matchAll(/<rect class="cell" x="[^"]+" y="([^"]+)"[^>]*data-y="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const y0 = ys.find(([, d]) => d === 0)?.[0] ?? Number.NaN;
    const y100 = ys.find(([, d]) => d === 100)?.[0] ?? Number.NaN;
    assert.ok(y0 < y100, 'depth 0 is at the top');
    assert.match(svg, />1K<\/text>.*>2K<\/text>.*>4K<\/text>/);
    assert.match(svg, /<g class="colorbar">/);
    assert.equal(count(svg, /<g class="trained-length">/), 1);
    assert.match(svg, /stroke-dasharray="4 3"/);
  });

  it('draws no trained-length line beyond the grid', () => {
    assert.ok(!heatmap({ title: 't', xValues: [1, 2], yValues: [0], values: [[1, 1]], markX: 10 }).includes('trained-length'));
  });
});

describe('groupedBarChart', () => {
  const svg = groupedBarChart({
    title: 'Per-layer budgets',
    xLabel: 'layer',
    yLabel: 'tokens',
    categories: ['0', '1', '2', '3', '4'],
    series: [
      { name: 'uniform', color: '#0072B2', values: [10, 10, 10, 10, 10] },
      { name: 'pyramidkv', color: '#D55E00', values: [15, 12, 10, 8, 5] },
    ],
    overlay: { name: 'LMBA', color: '#111111', values: [30, 5, 20, 10, 2], axisLabel: 'LMBA (tokens)' },
  });

  it('draws one bar per (category, series) and the overlay on a second axis', () => {
    assert.equal(count(svg, /<g class="series" data-series=/), 2);
    assert.equal(count(svg, /<rect class="bar"/), 10);
    assert.match(svg, /<g class="overlay" data-series="LMBA" data-points="5">/);
    assert.equal(count(svg, /<g class="axis axis-y2"/), 1);
    assert.match(svg, />LMBA \(tokens\)</);
    assert.equal(count(svg, /<g class="legend-item"/), 3);
  });
});
