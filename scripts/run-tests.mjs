#!/usr/bin/env node
// Runs every test/**/*.test.ts and *.test.tsx with node's test runner through tsx.
// Node 20 has no glob support in `--test`, so the files are listed here.
// TSX_TSCONFIG_PATH points tsx at test/tsx.tsconfig.json: the root config's
// options plus React's JSX runtime for the renderer's .tsx files (tsx applies a
// tsconfig only to files it includes, and the root one cannot include .tsx).
// Output goes through the TAP reporter when piped (CI), which ends with the
// `# tests N / # pass N / # fail N` lines CI reads. Extra args are passed on
// (e.g. `npm run test:unit -- test/core/select.test.ts`). Property tests share
// one fast-check seed, so CI's verdict does not depend on the draw.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts') || name.endsWith('.test.tsx')) out.push(relative(root, p));
  }
  return out;
}
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const list = files.length ? files : find(join(root, 'test')).sort();
// Absolute, so test subprocesses with another cwd resolve it too.
const env = { ...process.env, TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH ?? join(root, 'test', 'tsx.tsconfig.json') };
// Every property test runs with one fast-check seed (test/fast-check-seed.ts; KVLAB_FC_SEED picks another).
const seed = join(root, 'test', 'fast-check-seed.ts');
const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', seed, '--test', ...flags, ...list], { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);
