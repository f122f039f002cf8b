/**
 * PDF of the HTML report through headless Chromium's --print-to-pdf: no
 * extra dependency, and it prints the charts' inline SVG as the browser
 * shows them (about a second for the report). The CLI and CI use this; the Electron app prints the same HTML
 * with webContents.printToPDF instead, so there is one report layout (the
 * HTML's A4 print CSS) behind both.
 *
 * Chromium is Debian's /usr/bin/chromium or whatever KVLAB_CHROMIUM names.
 * It runs with a throwaway profile, no network services and no sandbox (CI
 * runs as root), in its own process group so a timeout kills the renderer
 * and GPU helpers too, not just the wrapper script.
 */
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LabError } from '@kvlab/core';

/** No Chromium is a missing program, not a bug: E_NOT_FOUND, and details.reason lets the UI say how to install it. */
export class ChromiumMissingError extends LabError {
  readonly code = 'E_CHROMIUM_MISSING' as const;
  readonly apiCode = 'E_NOT_FOUND' as const;
  constructor(readonly tried: readonly string[]) {
    super(
      `Chromium was not found (tried ${tried.join(', ')}): install Debian's chromium (apt-get install chromium) or set KVLAB_CHROMIUM to a Chromium or Chrome executable`,
    );
    this.name = 'ChromiumMissingError';
  }
  override get apiDetails(): { reason: 'chromium-missing'; tried: readonly string[] } {
    return { reason: 'chromium-missing', tried: this.tried };
  }
}

/** Chromium ran but made no PDF. */
export class PdfError extends LabError {
  readonly code = 'E_PDF' as const;
  readonly apiCode = 'E_INTERNAL' as const;
  constructor(
    readonly outPath: string,
    readonly problem: string,
  ) {
    super(`${outPath}: ${problem}`);
    this.name = 'PdfError';
  }
  override get apiDetails(): { file: string } {
    return { file: this.outPath };
  }
}

/** Headless Chromium with no network chatter (no sync, updates or background requests, which would stall an offline machine); also what the browser tests launch with. */
export const HEADLESS_CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The flags a PDF print needs that do not depend on the paths: the headless ones, without the date/URL header and footer. */
export const CHROMIUM_FLAGS: readonly string[] = [...HEADLESS_CHROMIUM_FLAGS, '--no-pdf-header-footer'];

const isExecutable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * The Chromium executable: KVLAB_CHROMIUM when set (and then only it), else
 * /usr/bin/chromium, else chromium / chromium-browser / google-chrome on PATH.
 * Throws ChromiumMissingError listing what it tried.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['KVLAB_CHROMIUM'];
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new ChromiumMissingError([`KVLAB_CHROMIUM=${explicit}`]);
  }
  const tried = ['/usr/bin/chromium'];
  if (isExecutable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (env['PATH'] ?? '').split(delimiter).filter(Boolean))
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
      const p = join(dir, name);
      if (isExecutable(p)) return p;
    }
  tried.push('chromium, chromium-browser, google-chrome on PATH');
  throw new ChromiumMissingError(tried);
}

export interface PdfOptions {
  /** Kill Chromium and fail after this long. Default 60 s. */
  readonly timeoutMs?: number;
  /** The executable; default findChromium(). */
  readonly chromium?: string;
}

/**
 * Prints `html` to a PDF at `outPath` (A4, from the report's @page CSS, no
 * header or footer). The PDF appears at outPath only when complete.
 */
export async function writePdfReport(html: string, outPath: string, options: PdfOptions = {}): Promise<void> {
  const exe = options.chromium ?? findChromium();
  if (!isExecutable(exe)) throw new ChromiumMissingError([exe]);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const out = resolve(outPath);
  const work = mkdtempSync(join(tmpdir(), 'kvlab-pdf-'));
  try {
    const htmlPath = join(work, 'report.html');
    const pdfPath = join(work, 'report.pdf');
    writeFileSync(htmlPath, html);
    const args = [...CHROMIUM_FLAGS, `--user-data-dir=${join(work, 'profile')}`, `--print-to-pdf=${pdfPath}`, pathToFileURL(htmlPath).href];
    const { code, signal, stderr, timedOut } = await run(exe, args, timeoutMs);
    if (timedOut) throw new PdfError(out, `Chromium (${exe}) did not finish printing within ${timeoutMs} ms`);
    if (!existsSync(pdfPath) || !startsWithPdf(pdfPath)) {
      const why = code !== 0 ? `exited with ${signal ?? `code ${code}`}` : 'wrote no PDF';
      throw new PdfError(out, `Chromium (${exe}) ${why}${stderr ? `: ${lastLine(stderr)}` : ''}`);
    }
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(pdfPath, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function startsWithPdf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(5);
    return readSync(fd, b, 0, 5, 0) === 5 && b.toString('latin1') === '%PDF-';
  } finally {
    closeSync(fd);
  }
}

/** The last meaningful stderr line (Debian's wrapper prints a harmless "[: … unexpected operator"). */
function lastLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/unexpected operator/.test(l));
  return lines[lines.length - 1] ?? '';
}

function run(
  exe: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr = (stderr + s).slice(-8192);
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stderr, timedOut });
    });
  });
}
