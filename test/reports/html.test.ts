/**
 * The HTML report: self-contained (no scripts, no external URLs), escaped,
 * deterministic — and, opened in real headless Chromium through
 * playwright-core, it has the charts, cells, series and table rows the
 * fixture implies. The browser checks FAIL when Chromium is missing
 * (install Debian's chromium or set KVLAB_CHROMIUM); they do not skip.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, beforeEach, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { StoredRow } from '../../electron/experiments/store.ts';
import { renderHtmlReport } from '../../electron/reports/html.ts';
import { CHROMIUM_FLAGS, findChromium } from '../../electron/reports/pdf.ts';
import { COMMIT, EXPERIMENT, fixtureRows, HOST, MODEL, tempDir, writeResultsFolder } from './fixtures.ts';

const dir = writeResultsFolder();
const html = renderHtmlReport(dir, { trainedLength: 384 });

describe('HTML report (static)', () => {
  it('is one self-contained document: inline CSS, no scripts, no external resources', () => {
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<style>[\s\S]*@page\{size:A4/);
    assert.ok(!/<script/i.test(html), 'no <script>');
    assert.ok(!/\son[a-z]+=/i.test(html), 'no inline event handlers');
    assert.ok(!/<link|<img|<iframe|@import|url\(/i.test(html), 'no linked resources');
    const urls = [...html.matchAll(/(?:https?:|file:|\/\/)[^\s"'<)]*/g)].map((m) => m[0]);
    assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg'], 'only the SVG namespace, which is never fetched');
  });

  it('escapes every user string', () => {
    assert.ok(!html.includes('"quoted" <b>'), 'a label with markup is never raw');
    assert.ok(html.includes('ZigZag, &quot;quoted&quot; &lt;b&gt;'));
    assert.ok(html.includes('<title>KV Lab report — Report fixture, &quot;sweep&quot; &lt;1&gt;</title>'));
  });

  it('has the sections, sanity warnings and provenance', () => {
    for (const id of ['summary', 'accuracy', 'niah', 'layers', 'fidelity', 'profiles', 'results', 'provenance'])
      assert.ok(html.includes(`<section id="${id}"`), id);
    assert.match(html, /Sanity-guard warnings[\s\S]*not-compressed[\s\S]*state-leak/);
    for (const s of [COMMIT, MODEL.sha256, HOST, '0.1.0', 'v20.20.2 / 1.30.0']) assert.ok(html.includes(s), s);
  });

  it('is deterministic and independent of the row order', () => {
    assert.equal(renderHtmlReport(dir, { trainedLength: 384 }), html);
    const reversed = [...(fixtureRows() as unknown as StoredRow[])].reverse();
    assert.equal(renderHtmlReport({ experiment: EXPERIMENT, rows: reversed }, { trainedLength: 384 }), html);
  });

  it('renders a results folder with no rows yet', () => {
    const h = renderHtmlReport({ experiment: EXPERIMENT, rows: [] });
    assert.match(h, /<section id="summary" class="first">/);
    assert.ok(!h.includes('<svg'));
  });

  it('leaves out sections without data', () => {
    const niahOnly = (fixtureRows() as unknown as (StoredRow & { workload?: string; kind?: string })[]).filter(
      (r) => r.kind === 'cell' && r.workload === 'niah-single',
    );
    const h = renderHtmlReport({ experiment: EXPERIMENT, rows: niahOnly });
    assert.ok(!h.includes('<section id="fidelity"') && !h.includes('<section id="profiles"'));
    assert.ok(!h.includes('class="trained-length"'), 'no trained length known');
    assert.ok(h.includes('Sanity-guard warnings'), 'the not-compressed cell is a NIAH cell');
  });
});

describe('HTML report in headless Chromium', () => {
  let ctx: BrowserContext | undefined;
  let page: Page;
  const work = tempDir('html');
  // Opened once, on first use, inside the tests rather than in a before() hook: a missing
  // Chromium then counts as a failure of every test here (a failed hook only cancels them).
  let opened: Promise<void> | undefined;
  const open = (): Promise<void> =>
    (opened ??= (async () => {
      const executablePath = findChromium(); // ChromiumMissingError: install Debian's chromium or set KVLAB_CHROMIUM
      const file = join(work, 'report.html');
      writeFileSync(file, html);
      ctx = await chromium.launchPersistentContext(join(work, 'profile'), {
        executablePath,
        headless: true,
        args: CHROMIUM_FLAGS.filter((f) => f !== '--no-pdf-header-footer'),
      });
      page = await ctx.newPage();
      await page.goto(pathToFileURL(file).href);
    })());

  after(async () => {
    await ctx?.close();
    rmSync(work, { recursive: true, force: true });
  });

  beforeEach(() => open());

  const n = (sel: string): Promise<number> => page.locator(sel).count();

  it('renders the title and summary', async () => {
    assert.equal(await page.title(), 'KV Lab report — Report fixture, "sweep" <1>');
    assert.equal(await page.locator('h1').textContent(), 'KV Lab report — Report fixture, "sweep" <1>');
    assert.equal(await n('#summary table.summary tr'), 12);
  });

  it('NIAH: one heatmap per method × budget, 3 depths × 2 lengths each, with the trained-length line', async () => {
    assert.equal(await n('#niah svg.chart-heatmap'), 10);
    assert.equal(await n('#niah svg.chart-heatmap rect.cell'), 60);
    assert.equal(await n('#niah svg.chart-heatmap .trained-length'), 10);
    const fig = page.locator('figure.heatmap[data-method="snapkv/uniform"][data-budget="10%"]');
    assert.equal(await fig.locator('rect.cell').count(), 6);
    const values = await fig
      .locator('rect.cell')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-y'), e.getAttribute('data-x'), e.getAttribute('data-value')]));
    assert.deepEqual(values, [
      ['0', '256', '0'],
      ['0', '512', '0.17'],
      ['50', '256', '0.17'],
      ['50', '512', '0.33'],
      ['100', '256', '0.33'],
      ['100', '512', '0'],
    ]);
    const fullFills = await page.locator('figure.heatmap[data-method="full"] rect.cell').evaluateAll((els) => els.map((e) => e.getAttribute('fill')));
    assert.deepEqual(fullFills, Array(6).fill('#fde725'));
    // The heatmap really lays out: cells have a size on the page.
    const box = await fig.locator('rect.cell').first().boundingBox();
    assert.ok(box && box.width > 20 && box.height > 5, JSON.stringify(box));
  });

  it('accuracy vs measured memory: one chart per workload, one series per method, nominal markers, frontier', async () => {
    const charts = page.locator('#accuracy svg.chart-xy');
    assert.equal(await charts.count(), 2);
    for (let i = 0; i < 2; i++) {
      const c = charts.nth(i);
      assert.equal(await c.locator('g.series:not(.nominal):not(.frontier)').count(), 4);
      assert.equal(await c.locator('g.series.nominal').count(), 3);
      assert.equal(await c.locator('g.series[data-series="snapkv/uniform"] .point').count(), 3);
      assert.equal(await c.locator('g.series.nominal .point.hollow').count(), 9);
    }
    assert.equal(await page.locator('#accuracy g.series.frontier').count(), 2);
  });

  it('per-layer budgets: 3 allocators × 4 layers of bars and the LMBA overlay', async () => {
    const charts = page.locator('#layers svg.chart-bars');
    assert.equal(await charts.count(), 3);
    assert.equal(await charts.nth(0).locator('rect.bar').count(), 12);
    assert.equal(await charts.nth(0).locator('g.overlay[data-series="LMBA"] .point').count(), 4);
  });

  it('fidelity curves and layer profiles', async () => {
    assert.equal(await n('#fidelity svg.chart-xy'), 2);
    assert.equal(await page.locator('#fidelity svg.chart-xy').nth(0).locator('g.series').count(), 3);
    assert.equal(await page.locator('#fidelity svg.chart-xy').nth(0).locator('g.series .point').count(), 9);
    assert.equal(await n('#profiles svg.chart-xy g.series'), 2);
  });

  it('the results table stays within its column: it wraps names, and scrolls in its own box when still too wide', async () => {
    for (const width of [1280, 760, 560]) {
      await page.setViewportSize({ width, height: 720 });
      const box = await page.locator('#results').evaluate((section) => {
        const wrap = section.querySelector('.table-scroll');
        const table = section.querySelector('table.results');
        return {
          section: section.getBoundingClientRect().right,
          wrap: wrap?.getBoundingClientRect().right ?? Number.NaN,
          table: table?.getBoundingClientRect().right ?? Number.NaN,
          scrolls: wrap ? (section.ownerDocument.defaultView?.getComputedStyle(wrap).overflowX ?? '') : '',
          page: section.ownerDocument.documentElement.scrollWidth,
        };
      });
      assert.ok(box.wrap <= box.section + 0.5, `${width} px: the table's box ends inside its section: ${JSON.stringify(box)}`);
      assert.ok(box.page <= width, `${width} px: the page does not scroll sideways: ${JSON.stringify(box)}`);
      assert.ok(
        box.table <= box.section + 0.5 || box.scrolls === 'auto',
        `${width} px: wider than the section only inside the scroll box: ${JSON.stringify(box)}`,
      );
    }
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('results and provenance tables', async () => {
    assert.equal(await n('table.results tbody tr'), 20);
    assert.equal(await n('table.results tbody tr .flag'), 1);
    assert.equal(await n('table.provenance'), 1);
    assert.equal(await n('table.provenance tbody tr'), 11);
    const prov = (await page.locator('table.provenance').textContent()) ?? '';
    for (const s of [COMMIT, MODEL.sha256, HOST, 'cpu']) assert.ok(prov.includes(s), s);
  });
});
