/**
 * Reports of a results folder, in one call per format — what `kvlab report
 * <results> --format html|pdf|csv|json` and the app's export menu call.
 * `exportKvpress` (kvpress's results layout) is re-exported for `kvlab
 * export --kvpress`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ReportError } from '@kvlab/core';
import type { HtmlReportOptions, ReportSource } from './html.ts';
import { loadReportSource, renderHtmlReport } from './html.ts';
import type { PdfOptions } from './pdf.ts';
import { writePdfReport } from './pdf.ts';
import { writeCsv, writeJson } from './tables.ts';

export { renderHtmlReport, loadReportSource } from './html.ts';
export type { HtmlReportOptions, ReportSource } from './html.ts';
export { ChromiumMissingError, PdfError, findChromium, writePdfReport } from './pdf.ts';
export { cellsToCsv, resultsJson, writeCsv, writeJson } from './tables.ts';
export { exportKvpress } from './kvpress.ts';
export type { KvpressRun } from './kvpress.ts';

export const REPORT_FORMATS = ['html', 'pdf', 'csv', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function isReportFormat(s: string): s is ReportFormat {
  return (REPORT_FORMATS as readonly string[]).includes(s);
}

export interface WriteReportOptions extends HtmlReportOptions, PdfOptions {}

/**
 * Writes the report of the results folder `dir` (or rows in memory) to
 * outPath. Throws StoreError (unreadable folder), ReportError (bad row or
 * format), ChromiumMissingError / PdfError (pdf).
 */
export async function writeReport(dir: string | ReportSource, format: ReportFormat, outPath: string, options: WriteReportOptions = {}): Promise<void> {
  if (!isReportFormat(format)) throw new ReportError(`unknown report format '${String(format)}' (html, pdf, csv or json)`);
  const src = typeof dir === 'string' ? loadReportSource(dir) : dir;
  switch (format) {
    case 'html':
      mkdirSync(dirname(outPath), { recursive: true });
      writeFileSync(outPath, renderHtmlReport(src, options));
      return;
    case 'pdf':
      await writePdfReport(renderHtmlReport(src, options), outPath, options);
      return;
    case 'csv':
      writeCsv(src, outPath);
      return;
    case 'json':
      writeJson(src, outPath);
      return;
  }
}
