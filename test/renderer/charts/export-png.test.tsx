/**
 * The PNG export: a chart's SVG serialized as a standalone image (theme
 * variables resolved, title and legend drawn in) and rasterised through a
 * canvas at 2×. jsdom has no canvas, so the rasteriser gets stub browser
 * functions; the real path runs in the Chromium end-to-end tests.
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { cleanup, render } from '@testing-library/react';
import { chartToPng, findChartSvg, pngFileName, serializeSvg, svgTextToPng } from '../../../renderer/src/charts/export-png.ts';
import type { RasterDeps } from '../../../renderer/src/charts/export-png.ts';
import { NiahHeatmap } from '../../../renderer/src/charts/NiahHeatmap.tsx';
import { ParetoChart } from '../../../renderer/src/charts/ParetoChart.tsx';
import { colors, frontierOf, gridOf, groupsOf, ids } from './fixture.ts';

afterEach(() => cleanup());

function stubDeps(): { deps: RasterDeps; log: string[] } {
  const log: string[] = [];
  const deps: RasterDeps = {
    loadImage: async (url) => {
      log.push(`load ${url.slice(0, 27)}`);
      return {} as CanvasImageSource;
    },
    createCanvas: (w, h) => {
      log.push(`canvas ${w}×${h}`);
      return {
        getContext: () => ({
          fillStyle: '',
          scale: (x: number, y: number) => void log.push(`scale ${x},${y}`),
          fillRect: () => undefined,
          drawImage: (_img: CanvasImageSource, ...a: number[]) => void log.push(`draw ${a.join(',')}`),
        }),
        toBlob: (cb: (b: Blob | null) => void, type?: string) => cb(new Blob(['png'], { type: type ?? '' })),
      };
    },
  };
  return { deps, log };
}

describe('PNG export', () => {
  it('serializes a heatmap as a standalone SVG with the title and legend drawn in, no CSS variables left', () => {
    const r = render(<NiahHeatmap grid={gridOf('snapkv/uniform', '10%')} width={360} height={200} />);
    const svg = findChartSvg(r.getByTestId('niah-heatmap'));
    assert.ok(svg);
    const out = serializeSvg(svg, { title: 'uniform @ 10%', legend: [{ label: 'A & B', color: 'var(--kv-x, #123456)' }] });
    assert.equal(out.width, 360);
    assert.ok(out.height > 200, 'title and legend add height');
    assert.ok(!out.text.includes('var('), 'theme variables resolved');
    assert.ok(out.text.includes('#123456') && out.text.includes('A &amp; B') && out.text.includes('uniform @ 10%'));
    const doc = new window.DOMParser().parseFromString(out.text, 'image/svg+xml');
    assert.equal(doc.querySelector('parsererror'), null, 'well-formed XML');
    assert.equal(doc.querySelectorAll('[data-testid="heatmap-cell"]').length, 6);
  });

  it('finds the recharts surface in a recharts chart and rasterises at 2×', async () => {
    const r = render(
      <ParetoChart groups={groupsOf('fidelity')} frontier={frontierOf('fidelity')} colors={colors} cellIds={ids} width={500} height={300} animate={false} />,
    );
    const root = r.getByTestId('pareto-chart');
    const svg = findChartSvg(root);
    assert.ok(svg);
    assert.ok(svg.classList.contains('recharts-surface'));
    // Group keys (data-key) join their parts with U+0000, which XML forbids: the serializer replaces it, or the image would not load.
    const text = serializeSvg(svg).text;
    assert.ok(!text.includes('\u0000'));
    assert.equal(new window.DOMParser().parseFromString(text, 'image/svg+xml').querySelector('parsererror'), null);
    const { deps, log } = stubDeps();
    const png = await chartToPng(root, { title: 'Pareto', legend: [{ label: 'full', color: '#333333' }], deps });
    assert.equal(png.type, 'image/png');
    assert.equal(log[0], 'load data:image/svg+xml;charset=');
    assert.match(log[1] ?? '', /^canvas 1000×\d+$/);
    assert.equal(log[2], 'scale 2,2');
    assert.match(log[3] ?? '', /^draw 0,0,500,\d+$/);
    assert.ok(r.getByTestId('pareto-chart-png'), 'every chart has an export button');
  });

  it('fails clearly without a canvas; names files from titles', async () => {
    const { deps } = stubDeps();
    const noCtx: RasterDeps = { ...deps, createCanvas: (w, h) => ({ ...deps.createCanvas(w, h), getContext: () => null }) };
    await assert.rejects(svgTextToPng({ text: '<svg/>', width: 1, height: 1 }, { deps: noCtx }), /no 2D canvas/);
    assert.equal(pngFileName('ZigZag, "quoted" <b> @ 10%'), 'zigzag-quoted-b-10.png');
    assert.equal(pngFileName('—'), 'chart.png');
  });
});
