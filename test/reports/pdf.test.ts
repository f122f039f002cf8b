/**
 * The PDF report through real headless Chromium, read back with pdftotext
 * and pdfinfo (Debian poppler-utils): A4 pages holding the title, the
 * method names and the provenance. These tests FAIL when Chromium or
 * poppler-utils is missing (.ci/run installs them); they never skip.
 * The error paths (no Chromium, a hung or failing Chromium) use stand-in
 * executables.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeReport } from '../../electron/reports/index.ts';
import { ChromiumMissingError, findChromium, PdfError, writePdfReport } from '../../electron/reports/pdf.ts';
import { COMMIT, HOST, METHODS, MODEL, tempDir, writeResultsFolder } from './fixtures.ts';

const work = tempDir('pdf-test');

function poppler(tool: string, args: string[]): string {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${tool} is not installed (apt-get install -y poppler-utils): ${r.error.message}`);
  assert.equal(r.status, 0, `${tool} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * How far down page `page` anything is printed, as a share of its height: the page rendered in grey at 20 dpi
 * (pdftoppm -gray writes a binary PGM: "P5\n<w> <h>\n255\n" and one byte per pixel), the last row with a pixel darker than 200.
 */
function inkExtent(file: string, page: number): number {
  const prefix = join(work, `ink-${page}`);
  poppler('pdftoppm', ['-gray', '-r', '20', '-f', String(page), '-l', String(page), '-singlefile', file, prefix]);
  const pgm = readFileSync(`${prefix}.pgm`);
  const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(pgm.subarray(0, 40).toString('latin1'));
  assert.ok(header, 'a binary PGM');
  const [w, h] = [Number(header[1]), Number(header[2])];
  const data = pgm.subarray(header[0].length);
  let last = -1;
  for (let y = 0; y < h; y++) if (data.subarray(y * w, (y + 1) * w).some((v) => v < 200)) last = y;
  return (last + 1) / h;
}

describe('PDF report in headless Chromium', () => {
  const pdf = join(work, 'out', 'report.pdf');
  // Printed once, on first use, inside the tests rather than in a before() hook: a missing
  // Chromium then counts as a failure of every test here (a failed hook only cancels them).
  let printed: Promise<string> | undefined;
  const pdfText = (): Promise<string> =>
    (printed ??= (async () => {
      findChromium();
      await writeReport(writeResultsFolder(), 'pdf', pdf, { trainedLength: 384 });
      return poppler('pdftotext', ['-enc', 'UTF-8', pdf, '-']);
    })());

  it('writes a PDF of A4 pages', async () => {
    await pdfText();
    assert.ok(existsSync(pdf));
    assert.equal(readFileSync(pdf).subarray(0, 5).toString('latin1'), '%PDF-');
    const info = poppler('pdfinfo', [pdf]);
    const pages = Number(/^Pages:\s+(\d+)/m.exec(info)?.[1]);
    assert.ok(pages >= 3, `${pages} pages`); // sections flow on from one another
    assert.match(info, /^Page size:\s+59[45](\.\d+)? x 84[12](\.\d+)? pts \(A4\)/m);
  });

  it('page 1 is used: the summary, then the next section on the same page (no forced page break leaving it half blank)', async () => {
    await pdfText();
    const page1 = poppler('pdftotext', ['-f', '1', '-l', '1', '-enc', 'UTF-8', pdf, '-']);
    assert.ok(page1.includes('Summary') && page1.includes('Accuracy vs measured KV memory'), 'the accuracy section starts on page 1');
    // With a page break before every section, page 1 held the summary table, the warnings and the contents alone: 160 words.
    const words = page1.split(/\s+/).filter(Boolean).length;
    assert.ok(words >= 200, `page 1 holds ${words} words`);
    // And how far down the page the print reaches (it stopped at 49 % of page 1 with the page breaks).
    const ink = inkExtent(pdf, 1);
    assert.ok(ink >= 0.6, `page 1 is printed down to ${(ink * 100).toFixed(0)} % of its height`);
  });

  it('holds the title, the method names and the section headings', async () => {
    const text = await pdfText();
    assert.ok(text.includes('KV Lab report — Report fixture, "sweep" <1>'), 'title');
    for (const m of METHODS) assert.ok(text.includes(m.label), m.label);
    for (const h of ['Accuracy vs measured KV memory', 'Needle in a haystack', 'Per-layer budgets', 'Results table', 'Provenance', 'Sanity-guard warnings'])
      assert.ok(text.includes(h), h);
    assert.ok(text.includes('Needle depth (%)') && text.includes('Context length (tokens)'), 'heatmap axes are text in the PDF');
  });

  it('holds the provenance', async () => {
    const text = await pdfText();
    for (const s of [COMMIT, MODEL.sha256, HOST, 'v20.20.2 / 1.30.0', 'Execution provider']) assert.ok(text.includes(s), s);
  });
});

describe('PDF errors', () => {
  it('a missing Chromium is a typed error that says what to do', async () => {
    assert.throws(
      () => findChromium({ KVLAB_CHROMIUM: '/nonexistent/chromium', PATH: '' }),
      (e: unknown) =>
        e instanceof ChromiumMissingError && e.code === 'E_CHROMIUM_MISSING' && /install Debian's chromium/.test(e.message) && /KVLAB_CHROMIUM/.test(e.message),
    );
    await assert.rejects(writePdfReport('<p>x</p>', join(work, 'x.pdf'), { chromium: '/nonexistent/chromium' }), ChromiumMissingError);
  });

  it('a Chromium that hangs is killed at the timeout', async () => {
    const fake = join(work, 'hang.sh');
    writeFileSync(fake, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(fake, 0o755);
    const t0 = Date.now();
    await assert.rejects(
      writePdfReport('<p>x</p>', join(work, 'hang.pdf'), { chromium: fake, timeoutMs: 300 }),
      (e: unknown) => e instanceof PdfError && /did not finish printing within 300 ms/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 5000);
    assert.ok(!existsSync(join(work, 'hang.pdf')));
  });

  it('a Chromium that fails reports its exit code and last stderr line', async () => {
    const fake = join(work, 'fail.sh');
    writeFileSync(fake, '#!/bin/sh\necho "[: 1: unexpected operator" >&2\necho "cannot open display" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    await assert.rejects(
      writePdfReport('<p>x</p>', join(work, 'fail.pdf'), { chromium: fake }),
      (e: unknown) => e instanceof PdfError && e.code === 'E_PDF' && /exited with code 3: cannot open display/.test(e.message),
    );
  });
});
