/**
 * Every engine and experiment command in README.md and docs/*.md works as
 * written (issue #17): the `npm run demo:engine …` and `npm run kvlab -- …`
 * lines are read from the files — fenced code blocks (with `\` continuations)
 * and inline code spans — and run through a real shell and npm, so the test
 * follows the docs when they change. Each must exit 0 with nothing on stderr
 * that reads as an error or a warning.
 *
 * They run in a temporary copy of the checkout's layout (docs/ and README.md
 * copied; package.json, node_modules and the sources linked; ../shared linked
 * next to it), with $KVLAB_CACHE in the same temporary folder, so results,
 * reports, exports and profiles land there and never in the checkout; the test
 * checks that the checkout's `git status --ignored` is unchanged.
 *
 * Deliberately not run (NOT_RUN below, each with its reason) — a documented
 * demo:engine/kvlab command that is neither run nor listed fails the test:
 *  - the demo model's experiments (demo-acceptance, -confirmation, -headline,
 *    -zigzag-ablation): documented at one to two minutes each on 2 cores,
 *    about five minutes together, too slow for this test's budget of under
 *    two minutes; KVLAB_DOCS_SLOW=1 runs them too;
 *  - `--ep cuda` (needs an NVIDIA GPU and `npm run setup:gpu`, which downloads
 *    from nuget.org) with a `<model>` placeholder;
 *  - `kvlab serve` (a server that runs until stopped, on a fixed port, with a
 *    placeholder model; test/server/serve.test.ts and the e2e test cover it).
 * Other `npm run` scripts in the docs are not run here either: typecheck,
 * lint, format and build:renderer are what `npm test` itself runs; bench and
 * bench:engine take minutes (bench:engine about 22); bench:setup, dist and
 * setup:gpu download from the network; build:shell, make-icons and dist build
 * artefacts. For those the test only checks that the script exists.
 *
 * Time: about 50 s of CPU, most of it `kvlab run docs/examples/stories260k-sweep.json`
 * (506 cells). Measured 2 min 34–38 s of wall time on the 2-core project machine while
 * it was shared with other jobs (load average ≈ 10), so over the 2-minute target
 * there; an idle machine should take about half. Cutting the sweep would mean not
 * running the README's command as written, so it stays.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sharedPath, sharedRoot } from '../engine/shared-data.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DOC_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const SLOW = process.env['KVLAB_DOCS_SLOW'] === '1';

export interface DocCommand {
  readonly file: string;
  readonly line: number;
  /** The command as a shell would read it: continuations joined, the trailing comment dropped. */
  readonly command: string;
}

/** A shell line without its trailing `# comment` (a `#` inside quotes or a word is not one). */
function withoutComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] ?? '';
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) return line.slice(0, i).trim();
  }
  return line.trim();
}

/** `npm run …` commands of one markdown file: whole lines in fenced blocks, and inline code spans. */
export function commandsIn(file: string, text: string): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = text.split('\n');
  let fenced = false;
  let prose: { line: number; text: string }[] = [];
  const flushProse = (): void => {
    // Inline spans may wrap across lines of a paragraph.
    const joined = prose.map((p) => p.text).join(' ');
    for (const m of joined.matchAll(/`(npm run [^`]+)`/g)) {
      // The line the span starts on: the first whose end (plus the joining space) lies past the match.
      let end = 0;
      const at = prose.find((p) => (end += p.text.length + 1) > m.index) ?? prose[0];
      out.push({ file, line: at?.line ?? 0, command: (m[1] ?? '').replace(/\s+/g, ' ').trim() });
    }
    prose = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (/^\s*```/.test(raw)) {
      if (!fenced) flushProse();
      fenced = !fenced;
      continue;
    }
    if (!fenced) {
      if (raw.trim() === '') flushProse();
      else prose.push({ line: i + 1, text: raw });
      continue;
    }
    if (!/^\s*npm run /.test(raw)) continue;
    const start = i;
    let cmd = raw.trim();
    while (cmd.endsWith('\\') && i + 1 < lines.length) cmd = `${cmd.slice(0, -1).trimEnd()} ${(lines[++i] ?? '').trim()}`;
    out.push({ file, line: start + 1, command: withoutComment(cmd) });
  }
  flushProse();
  return out;
}

const NOT_RUN: readonly { readonly match: RegExp; readonly why: string }[] = [
  ...(SLOW
    ? []
    : [
        {
          match: /^npm run kvlab -- run docs\/examples\/demo-(acceptance|confirmation|headline|zigzag-ablation)\.json$/,
          why: 'the demo model’s experiments take one to two minutes each on 2 cores (documented); KVLAB_DOCS_SLOW=1 runs them',
        },
      ]),
  { match: /--ep cuda/, why: 'needs an NVIDIA GPU and the CUDA provider (npm run setup:gpu downloads it); <model> is a placeholder' },
  {
    match: /--ep webgpu/,
    why: 'needs a GPU (or SwiftShader set up for the process); <file.gguf> is a placeholder; test/engine/webgpu runs the engine on the WebGPU provider',
  },
  {
    match: /^npm run kvlab -- serve\b/,
    why: 'a server that runs until stopped, on a fixed port, with a placeholder model (covered by test/server and test/e2e)',
  },
];

const RUN_SCRIPTS = new Set(['demo:engine', 'kvlab']);
const scriptOf = (command: string): string => command.split(/\s+/)[2] ?? '';

/** A stderr line that reads as an error or a warning (progress bars and info lines are fine). */
const BAD_STDERR = /\berror\b|\bwarn(ing)?\b|\bfail(ed|ure)?\b|^(kvlab|demo:engine)( \w+)?: |^npm (ERR!|error|warn)/i;

const all = DOC_FILES.flatMap((f) => commandsIn(f, readFileSync(join(ROOT, f), 'utf8')));

describe('the commands in README.md and docs/*.md', () => {
  it('are read from fenced blocks (continuations joined, comments dropped) and from inline spans, also wrapped ones', () => {
    const md = [
      'Run `npm run kvlab -- run',
      'a.json` first.', // 2
      '',
      '```sh',
      'npm run demo:engine -- --model m.gguf \\', // 5
      '  --prompt "x # y" --max-tokens 4',
      'npm run kvlab -- report a.results --format html   # or pdf',
      'echo npm run not-a-command',
      '```',
      '`npm run lint` and `npm test`', // 10
    ].join('\n');
    assert.deepEqual(commandsIn('x.md', md), [
      { file: 'x.md', line: 1, command: 'npm run kvlab -- run a.json' },
      { file: 'x.md', line: 5, command: 'npm run demo:engine -- --model m.gguf --prompt "x # y" --max-tokens 4' },
      { file: 'x.md', line: 7, command: 'npm run kvlab -- report a.results --format html' },
      { file: 'x.md', line: 10, command: 'npm run lint' },
    ]);
  });

  it('are found: the README’s engine demo and experiment commands at least', () => {
    assert.ok(all.some((c) => c.file === 'README.md' && c.command.startsWith('npm run demo:engine -- --model ') && c.command.includes('--prompt')));
    assert.ok(all.some((c) => c.file === 'README.md' && c.command.startsWith('npm run kvlab -- run ')));
    assert.ok(all.some((c) => c.file === 'README.md' && c.command.startsWith('npm run kvlab -- report ')));
  });

  it('name scripts that exist in package.json', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const c of all) assert.ok(scriptOf(c.command) in scripts, `${c.file}:${c.line}: \`${c.command}\` names no script`);
  });

  const toRun: DocCommand[] = [];
  const seen = new Set<string>();
  for (const c of all) {
    if (!RUN_SCRIPTS.has(scriptOf(c.command))) continue;
    const skip = NOT_RUN.find((s) => s.match.test(c.command));
    if (skip) {
      it(`not run: ${c.command} (${c.file}:${c.line})`, { skip: skip.why }, () => {});
      continue;
    }
    // The same command twice (README and docs, or "…resumes") runs once.
    if (seen.has(c.command)) continue;
    seen.add(c.command);
    toRun.push(c);
  }

  it('every engine/experiment command either runs or is listed as not run, and none has a placeholder left', () => {
    for (const c of toRun) assert.doesNotMatch(c.command, /<[^>]+>|…/, `${c.file}:${c.line}: a placeholder in a command this test runs`);
  });

  describe('run as written, in a temporary copy', () => {
    let tmp = '';
    let work = '';
    let gitBefore = '';
    // Where the commands could write if run in the checkout (results next to the experiment or under results/, exports, profiles).
    const gitStatus = (): string =>
      spawnSync('git', ['status', '--porcelain', '--ignored', '--', 'docs', 'results', 'out', 'README.md', ':(glob)*.profile'], { cwd: ROOT, encoding: 'utf8' })
        .stdout.split('\n')
        .filter((l) => l.startsWith('??') || l.startsWith('!!')) // new files only: edits to tracked docs while the test runs are not the commands' doing
        .join('\n');

    before(() => {
      sharedPath('models/stories260K/stories260K.gguf'); // fails clearly when the shared data is missing
      gitBefore = gitStatus();
      tmp = mkdtempSync(join(tmpdir(), 'kvlab-docs-'));
      work = join(tmp, 'checkout');
      cpSync(join(ROOT, 'docs'), join(work, 'docs'), { recursive: true });
      cpSync(join(ROOT, 'README.md'), join(work, 'README.md'));
      cpSync(join(ROOT, 'package.json'), join(work, 'package.json'));
      // Read-only inputs are linked: what the commands write goes to cwd or next to the experiment file, both in the copy.
      for (const name of ['node_modules', 'core', 'electron', 'scripts', 'build', 'renderer', 'tsconfig.json', 'tsconfig.base.json']) {
        symlinkSync(join(ROOT, name), join(work, name));
      }
      symlinkSync(sharedRoot(), join(tmp, 'shared'));
    });
    after(() => {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    for (const c of toRun) {
      it(`${c.command} (${c.file}:${c.line})`, () => {
        const r = spawnSync('sh', ['-c', c.command], {
          cwd: work,
          encoding: 'utf8',
          timeout: 400_000,
          env: { ...process.env, KVLAB_CACHE: join(tmp, 'cache'), KVLAB_RESULTS: join(tmp, 'runs') },
        });
        const detail = `\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;
        assert.equal(r.status, 0, `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}${detail}`);
        const bad = r.stderr.split(/[\r\n]/).filter((l) => BAD_STDERR.test(l));
        assert.deepEqual(bad, [], `error output${detail}`);
        if (scriptOf(c.command) === 'demo:engine') assert.match(r.stdout, /KV held after prefill: /);
      });
    }

    it('wrote nothing into the checkout', () => {
      assert.equal(gitStatus(), gitBefore);
    });
  });
});
